// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), against a
// berth server that crates/berth/tests/dashboard.rs started and filled:
//   BERTH_URL, ADMIN_TOKEN, MEMBER_TOKEN, PROJECT_ID, DEV_NAME, PROD_NAME, KEY_NAME,
//   CHROMIUM (executable), SCREENSHOTS (folder for the main pages' screenshots).
// The Rust side checks afterwards, through the CLI, that each edit made here really happened.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run this through cargo test -p berth --test dashboard`);
  return v;
};
const url = env('BERTH_URL');
const project = env('PROJECT_ID');
const dev = env('DEV_NAME');
const prod = env('PROD_NAME');
const shots = env('SCREENSHOTS');
mkdirSync(shots, { recursive: true });

let browser;
let admin; // the admin's page, signed in once

async function signIn(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(`${url}/dashboard/login`);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
  await page.waitForSelector('[data-testid^=team-]');
  return page;
}

const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const confirmOpen = (page) => page.evaluate(() => document.getElementById('confirm').open);

before(async () => {
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
});

test('signing in: a bad token is refused with the reason, a good one opens the teams', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/dashboard`);
  await page.waitForURL(/\/dashboard\/login$/);
  await page.fill('#token', 'berth_at_wrong');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('[role=alert]')?.textContent.length > 0);
  const msg = await page.locator('[role=alert]').first().textContent();
  assert.match(msg, /not valid/);
  await shot(page, 'login');
  await context.close();

  admin = await signIn(env('ADMIN_TOKEN'));
  assert.equal(await admin.textContent('[data-testid=whoami]'), 'admin');
  // The session cookie is HttpOnly: the page's script cannot read the token.
  const cookies = await admin.evaluate(() => document.cookie);
  assert.ok(!cookies.includes('berth_session'), cookies);
  assert.ok(!cookies.includes(env('ADMIN_TOKEN')));
  await shot(admin, 'teams');
});

test('1,000 deployments: the list is paged and searchable by reference', async () => {
  // Made through the API, as many as a busy project has.
  const names = Array.from({ length: 1000 }, (_, i) => `dev/admin/load-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map(async (reference) => {
      const r = await fetch(`${url}/v1/projects/${project}/create_deployment`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${env('ADMIN_TOKEN')}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'dev', reference }),
      });
      assert.equal(r.status, 200, await r.text());
    }));
  }
  const started = Date.now();
  await admin.goto(`${url}/dashboard/projects/${project}`);
  await admin.waitForSelector('[data-testid=deployment-row]');
  const loadMs = Date.now() - started;
  assert.equal(await admin.locator('[data-testid=deployment-row]').count(), 50);
  assert.equal(await admin.textContent('[data-testid=page-info]'), '1–50');
  await admin.click('[data-testid=next-page]');
  await admin.waitForFunction(() => document.querySelector('[data-testid=page-info]')?.textContent === '51–100');
  await admin.fill('[data-testid=search]', 'dev/admin/load-0777');
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=deployment-row]').length === 1);
  assert.match(await admin.textContent('[data-testid=deployment-row]'), /load-0777/);
  console.log(`# figure: first page of 1,002 deployments shown in ${loadMs} ms`);
});

test('create a dev deployment with an expiration and see it listed', async () => {
  await admin.goto(`${url}/dashboard/projects/${project}`);
  await admin.waitForSelector('[data-testid=deployment-row]');
  await admin.selectOption('[data-testid=create-type]', 'dev');
  await admin.fill('[data-testid=create-reference]', 'dev/admin/from-dashboard');
  await admin.fill('[data-testid=create-expiration]', 'in 3 days');
  await admin.click('[data-testid=create-deployment]');
  const created = await admin.textContent('[data-testid=created]');
  assert.match(created, /dev\/admin\/from-dashboard/);
  await admin.fill('[data-testid=search]', 'dev/admin/from');
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=deployment-row]').length === 1);
  const row = admin.locator('[data-testid=deployment-row]');
  assert.match(await row.textContent(), /dev\/admin\/from-dashboard/);
  assert.match((await row.locator('[data-testid=expires]').textContent()).trim(), /^in 3 days/);
  assert.equal(await row.locator('[data-testid=expiry-rule]').textContent(), 'ends by its expiration');
  // A preview capped by the team's maximum age says so.
  await admin.fill('[data-testid=search]', 'preview/capped');
  await admin.waitForFunction(() => {
    const rows = document.querySelectorAll('[data-testid=deployment-row]');
    return rows.length === 1 && rows[0].textContent.includes('preview/capped');
  });
  assert.match(await admin.textContent('[data-testid=expiry-rule]'), /team's maximum preview age \(2 days\)/);
  // A bad expiration is refused with the server's reason, and nothing is created.
  await admin.fill('[data-testid=create-reference]', 'dev/admin/bad-expiry');
  await admin.fill('[data-testid=create-expiration]', 'whenever');
  await admin.click('[data-testid=create-deployment]');
  assert.match(await admin.textContent('[data-testid=error]'), /expiration/i);
  await admin.fill('[data-testid=search]', '');
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=deployment-row]').length === 50);
  await shot(admin, 'deployments');
});

test('run a function: its result and its log lines', async () => {
  await admin.goto(`${url}/dashboard/deployments/${dev}/functions`);
  await admin.click('[data-path="messages.js:send"]');
  assert.match(await admin.textContent('[data-testid=fn-signature]'), /author: string, body: string/);
  await admin.fill('[data-testid=fn-args]', '{"author": "dashboard", "body": "sent from the dashboard"}');
  await admin.click('[data-testid=fn-run]');
  await admin.waitForSelector('[data-testid=fn-status]');
  assert.equal(await admin.textContent('[data-testid=fn-status]'), 'success');
  assert.match(await admin.textContent('[data-testid=fn-logs]'), /new message from.*dashboard/);
  assert.equal(await confirmOpen(admin), false, 'a dev deployment does not ask');

  await admin.click('[data-path="messages.js:list"]');
  await admin.fill('[data-testid=fn-args]', '{}');
  await admin.click('[data-testid=fn-run]');
  await admin.waitForSelector('[data-testid=fn-result]');
  assert.match(await admin.textContent('[data-testid=fn-result]'), /sent from the dashboard/);
  // A query's result is live: a message sent elsewhere (over HTTP) shows without running again.
  assert.match(await admin.textContent('[data-testid=fn-live]'), /live/);
  const sent = await fetch(`${url}/d/${dev}/api/mutation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: 'messages:send', args: { author: 'elsewhere', body: 'arrived live' } }),
  });
  assert.equal(sent.status, 200);
  await admin.waitForFunction(() => /arrived live/.test(document.querySelector('[data-testid=fn-result]')?.textContent ?? ''), null, { timeout: 10_000 });
  assert.match(await admin.textContent('[data-testid=fn-live]'), /updated at/);

  // Bad JSON never reaches the server; a failing call shows the server's error.
  await admin.fill('[data-testid=fn-args]', '{nope');
  await admin.click('[data-testid=fn-run]');
  assert.match(await admin.textContent('[data-testid=error]'), /not valid JSON/);
  await admin.click('[data-path="messages.js:send"]');
  await admin.fill('[data-testid=fn-args]', '{"author": "x", "body": "  "}');
  await admin.click('[data-testid=fn-run]');
  await admin.waitForFunction(() => document.querySelector('[data-testid=fn-status]')?.textContent === 'error');
  assert.match(await admin.textContent('[data-testid=fn-result]'), /EmptyMessage/);
  await admin.click('[data-path="messages.js:send"]');
  await admin.fill('[data-testid=fn-args]', '{"author": "dashboard", "body": "the second one"}');
  await admin.click('[data-testid=fn-run]');
  await admin.waitForFunction(() => document.querySelector('[data-testid=fn-status]')?.textContent === 'success');
  await shot(admin, 'functions');
});

async function editFirstDocument(page, body) {
  await page.waitForSelector('[data-testid=document]');
  const row = page.locator('[data-testid=document]').first();
  const id = await row.getAttribute('data-id');
  await row.locator('[data-testid=edit-document]').click();
  await page.fill('#editor-text', JSON.stringify({ author: 'ann', body }));
  await page.click('#editor-save');
  return id;
}

test('edit a document on dev: no confirmation asked', async () => {
  await admin.goto(`${url}/dashboard/deployments/${dev}/data`);
  const id = await editFirstDocument(admin, 'edited on dev');
  await admin.waitForFunction((id) => document.querySelector(`[data-id="${id}"]`)?.textContent.includes('edited on dev'), id);
  assert.equal(await confirmOpen(admin), false);
  // A document that is not an object is refused, and the editor stays open with the reason.
  await admin.locator('[data-testid=document]').first().locator('[data-testid=edit-document]').click();
  await admin.fill('#editor-text', '[1, 2]');
  await admin.click('#editor-save');
  await admin.waitForFunction(() => document.getElementById('editor-error').textContent.length > 0);
  assert.match(await admin.textContent('#editor-error'), /must be an object/);
  await admin.click('#editor-cancel');
  // The page follows writes made elsewhere (here a mutation over HTTP) without a reload.
  assert.match(await admin.textContent('[data-testid=data-live]'), /live/);
  const sent = await fetch(`${url}/d/${dev}/api/mutation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: 'messages:send', args: { author: 'elsewhere', body: 'shown live on the data page' } }),
  });
  assert.equal(sent.status, 200);
  await admin.waitForFunction(() => /shown live on the data page/.test(document.querySelector('tbody')?.textContent ?? ''), null, { timeout: 10_000 });
  assert.match(await admin.textContent('[data-testid=data-live]'), /updated at/);
  await shot(admin, 'data');
});

test('edit a document on prod: asks first, naming the deployment', async () => {
  await admin.goto(`${url}/dashboard/deployments/${prod}/data`);
  await admin.waitForSelector('text=This deployment asks for confirmation before every edit.');
  const id = await editFirstDocument(admin, 'edited on prod');
  await admin.waitForFunction(() => document.getElementById('confirm').open);
  assert.match(await admin.textContent('#confirm-text'), new RegExp(`${prod} \\(prod production\\)`));
  await admin.click('#confirm-cancel');
  // Cancelled: nothing changed, the editor is still open.
  assert.ok(await admin.evaluate(() => document.getElementById('editor').open));
  assert.doesNotMatch(await admin.textContent(`[data-id="${id}"]`), /edited on prod/);
  await admin.click('#editor-save');
  await admin.waitForFunction(() => document.getElementById('confirm').open);
  await admin.click('#confirm-ok');
  await admin.waitForFunction((id) => document.querySelector(`[data-id="${id}"]`)?.textContent.includes('edited on prod'), id);
});

test('set an environment variable', async () => {
  await admin.goto(`${url}/dashboard/deployments/${dev}/env`);
  await admin.fill('[data-testid=env-name]', 'GREETING');
  await admin.fill('[data-testid=env-value]', 'hello from the dashboard');
  await admin.click('[data-testid=env-add]');
  assert.match(await admin.textContent('[data-testid=env-saved]'), /Saved GREETING/);
  await admin.waitForSelector('[data-testid=env-row][data-name=GREETING]');
  // A bad name is refused with the server's rule.
  await admin.fill('[data-testid=env-name]', '1BAD');
  await admin.click('[data-testid=env-add]');
  assert.match(await admin.textContent('[data-testid=error]'), /1BAD/);
  await shot(admin, 'environment');
});

test('revoke a deploy key', async () => {
  const key = env('KEY_NAME');
  await admin.goto(`${url}/dashboard/deployments/${dev}/keys`);
  await admin.waitForSelector(`[data-testid=key-row][data-name="${key}"]`);
  await shot(admin, 'keys');
  await admin.click(`[data-testid=key-row][data-name="${key}"] [data-testid=revoke-key]`);
  await admin.waitForFunction(() => document.getElementById('confirm').open);
  assert.match(await admin.textContent('#confirm-text'), new RegExp(`'${key}'.*${dev}`));
  await admin.click('#confirm-ok');
  assert.match(await admin.textContent('[data-testid=key-revoked]'), new RegExp(key));
  assert.equal(await admin.locator(`[data-testid=key-row][data-name="${key}"]`).count(), 0);
});

test('logs arrive live', async () => {
  await admin.goto(`${url}/dashboard/deployments/${dev}/logs`);
  await admin.waitForFunction(() => document.querySelector('[data-testid=logs-status]')?.textContent === 'live');
  const r = await fetch(`${url}/d/${dev}/api/mutation`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ path: 'messages:send', args: { author: 'live-log-check', body: 'hi' } }),
  });
  assert.equal(r.status, 200);
  await admin.waitForFunction(() => document.querySelector('[data-testid=logs]').textContent.includes('live-log-check'), null, { timeout: 10_000 });
  await shot(admin, 'logs');
  await admin.goto(`${url}/dashboard/deployments/${dev}/settings`);
  await admin.waitForSelector('[data-testid=save-settings]');
  await shot(admin, 'settings');
  await admin.goto(`${url}/dashboard/projects/${project}/settings`);
  await admin.waitForSelector('[data-testid=preview-keys] h2');
  await shot(admin, 'project-settings');
});

test('a member sees prod settings disabled with the reason, and the server refuses anyway', async () => {
  const bob = await signIn(env('MEMBER_TOKEN'));
  await bob.goto(`${url}/dashboard/deployments/${prod}/settings`);
  await bob.waitForSelector('[data-testid=save-settings]');
  assert.ok(await bob.isDisabled('[data-testid=save-settings]'));
  assert.ok(await bob.isDisabled('[data-testid=set-reference]'));
  assert.ok(await bob.isDisabled('[data-testid=set-editableBy]'));
  assert.ok(await bob.isDisabled('[data-testid=delete-this-deployment]'));
  assert.match(await bob.textContent('[data-testid=read-only]'), /may be edited only by admins of project/);
  assert.match(await bob.textContent('[data-testid=why-editable-by]'), /only admins of project/);
  await shot(bob, 'member-prod-settings');
  // The page would not send it; the server refuses it when sent anyway.
  const status = await bob.evaluate(async (name) => {
    const csrf = document.cookie.match(/berth_csrf=([^;]+)/)[1];
    const r = await fetch(`/v1/deployments/${name}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-Berth-CSRF': csrf },
      body: JSON.stringify({ sendLogsToClient: true }),
    });
    return r.status;
  }, prod);
  assert.equal(status, 403);
  // Prod's data is closed to the member; dev's settings are open.
  await bob.goto(`${url}/dashboard/deployments/${prod}/data`);
  await bob.waitForSelector('[data-testid=read-only]');
  assert.equal(await bob.locator('[data-testid=document]').count(), 0);
  await bob.goto(`${url}/dashboard/deployments/${dev}/settings`);
  await bob.waitForSelector('[data-testid=save-settings]');
  assert.ok(!(await bob.isDisabled('[data-testid=save-settings]')));
  assert.ok(await bob.isDisabled('[data-testid=set-editableBy]'));
  // Preview deploy keys are an admin's: shown closed with the reason.
  await bob.goto(`${url}/dashboard/projects/${project}/settings`);
  await bob.waitForSelector('[data-testid=preview-keys] .readonly');
  assert.match(await bob.textContent('[data-testid=preview-keys] .readonly'), /only admins of project/);
  assert.deepEqual(bob.errors, []);
  await bob.context().close();
});

test('no script errors on any page the admin visited', () => {
  assert.deepEqual(admin.errors, []);
});
