// berth's dashboard: one page that talks to the same /v1 and /d/{name} routes as the CLI.
// The session is an HttpOnly cookie set by POST /dashboard/session; every change sends the
// CSRF token (cookie berth_csrf) back in the X-Berth-CSRF header. Permissions come from the
// server (/permissions routes): what the viewer may not do is disabled with the server's reason,
// and the server refuses it anyway.

const app = document.getElementById('app');
const crumbs = document.getElementById('crumbs');
const who = document.getElementById('who');

// ---------------------------------------------------------------------------------------------
// Elements

/** Builds an element: props are attributes, `class`, `text`, `on<event>` handlers. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children, skipping the absent ones (null, false, ''). */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ''));
}

const link = (href, text, props = {}) => h('a', { href, 'data-nav': true, ...props }, text);
const badge = (text, cls) => h('span', { class: `badge ${cls || text}` }, text);

/** A button that may be refused: disabled with the server's reason shown under it. */
function guarded(permission, button) {
  if (permission.allowed) return button;
  button.disabled = true;
  button.title = permission.reason || 'not allowed';
  return h('span', { class: 'guarded' }, button, h('div', { class: 'why', 'data-testid': 'why' }, permission.reason || ''));
}

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert', 'data-testid': 'error' }, e instanceof Error ? e.message : String(e));
}

// ---------------------------------------------------------------------------------------------
// Time

const MINUTE = 60_000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

function span(ms) {
  if (ms < MINUTE) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (ms < HOUR) return `${Math.round(ms / MINUTE)} min`;
  if (ms < 2 * DAY) return `${Math.round(ms / HOUR)} h`;
  return `${Math.round(ms / DAY)} days`;
}
const ago = (t) => (t ? `${span(Date.now() - t)} ago` : '—');
const until = (t) => (t ? (t <= Date.now() ? 'expired' : `in ${span(t - Date.now())}`) : 'never');
const stamp = (t) => (t ? new Date(t).toLocaleString() : '—');

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)berth_csrf=([^;]+)/);
  return m ? m[1] : '';
}

async function api(method, path, body, headers = {}, signal = undefined) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin', signal };
  if (method !== 'GET') init.headers['X-Berth-CSRF'] = csrf();
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    if (r.status === 401 && path !== '/dashboard/session') {
      me = null;
      go('/dashboard/login');
    }
    throw new ApiError(r.status, data?.code || 'Error', data?.message || text || r.statusText);
  }
  return data;
}

const enc = encodeURIComponent;
let me = null;

// ---------------------------------------------------------------------------------------------
// Dialogs

/** Asks before an edit; resolves true when confirmed. */
function ask(title, text, okLabel = 'Confirm') {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

function describe(d) {
  return `${d.name} (${d.deploymentType} ${d.reference})`;
}

/** On deployments that ask for confirmation, every edit asks first, naming the deployment. */
async function confirmEdit(ctx, what) {
  if (!ctx.perms.confirmEdits) return true;
  return ask(
    `Edit ${ctx.d.deploymentType} deployment?`,
    `Deployment ${describe(ctx.d)} asks for confirmation before every edit. ${what}?`,
    'Yes, go ahead',
  );
}

/** A JSON editor; `save` may throw to keep the dialog open with the error shown. */
function editJson(title, hint, initial, save) {
  const dlg = document.getElementById('editor');
  const area = document.getElementById('editor-text');
  const err = document.getElementById('editor-error');
  document.getElementById('editor-title').textContent = title;
  document.getElementById('editor-hint').textContent = hint;
  area.value = initial;
  err.textContent = '';
  const saveBtn = document.getElementById('editor-save');
  const onSave = async (ev) => {
    ev.preventDefault();
    let value;
    try {
      value = JSON.parse(area.value);
    } catch (e) {
      err.textContent = `Not valid JSON: ${e.message}`;
      return;
    }
    saveBtn.disabled = true;
    try {
      const ok = await save(value);
      if (ok !== false) dlg.close('saved');
    } catch (e) {
      err.textContent = e.message;
    } finally {
      saveBtn.disabled = false;
    }
  };
  saveBtn.addEventListener('click', onSave);
  dlg.addEventListener('close', () => saveBtn.removeEventListener('click', onSave), { once: true });
  dlg.showModal();
  area.focus();
}

// ---------------------------------------------------------------------------------------------
// Routing

let generation = 0; // bumped on every page change: loops of an old page stop
let pageAbort = new AbortController(); // aborted on every page change: long polls end

function go(path) {
  if (location.pathname + location.search !== path) history.pushState(null, '', path);
  render();
}

window.addEventListener('popstate', render);
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go(a.getAttribute('href'));
});

const routes = [
  [/^\/dashboard\/login\/?$/, loginPage],
  [/^\/dashboard\/?$/, homePage],
  [/^\/dashboard\/projects\/(\d+)\/?$/, (id) => projectPage(id, 'deployments')],
  [/^\/dashboard\/projects\/(\d+)\/settings\/?$/, (id) => projectPage(id, 'settings')],
  [/^\/dashboard\/deployments\/([^/]+)\/?$/, (name) => deploymentPage(name, 'functions')],
  [/^\/dashboard\/deployments\/([^/]+)\/(functions|data|logs|env|settings|keys)\/?$/, deploymentPage],
];

function setCrumbs(...parts) {
  fill(crumbs, ...parts.flatMap((p, i) => (i ? [h('span', { class: 'sep' }, '/'), p] : [p])));
}

async function render() {
  generation += 1;
  // The long polls of the page left end now, not when their wait is over: a browser keeps
  // few connections per server.
  pageAbort.abort();
  pageAbort = new AbortController();
  const path = location.pathname;
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    if (page !== loginPage && !me) {
      try {
        me = await api('GET', '/v1/me');
      } catch {
        return;
      }
    }
    showWho();
    fill(app, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await page(...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      fill(app, h('div', { class: 'card' }, h('h2', {}, 'Something went wrong'), errorBox(e)));
    }
    return;
  }
  setCrumbs();
  fill(app, h('div', { class: 'card' }, h('h2', {}, 'No such page'), link('/dashboard', 'Back to your teams')));
}

function showWho() {
  if (!me) {
    fill(who);
    return;
  }
  const out = h('button', {
    class: 'link light', 'data-testid': 'sign-out',
    onclick: async () => {
      await api('POST', '/dashboard/logout');
      me = null;
      go('/dashboard/login');
    },
  }, 'Sign out');
  fill(who, h('span', { 'data-testid': 'whoami' }, me.username), out);
}

// ---------------------------------------------------------------------------------------------
// Sign in

async function loginPage() {
  me = null;
  showWho();
  setCrumbs();
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', placeholder: 'berth_at_…', required: true });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', {
    class: 'stack',
    onsubmit: async (e) => {
      e.preventDefault();
      msg.textContent = '';
      try {
        await api('POST', '/dashboard/session', { token: input.value });
        me = null;
        go('/dashboard');
      } catch (err) {
        msg.textContent = err.message;
      }
    },
  },
  h('label', { for: 'token' }, 'Access token', input),
  h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
  msg);
  fill(app, h('div', { class: 'card login' },
    h('h1', {}, 'Sign in to berth'),
    h('p', { class: 'muted' }, 'Paste a member access token. The first admin\'s is in the server\'s data directory (file admin-token); `berth member add` prints one for each new member. It is kept in an HttpOnly cookie, never in the page.'),
    form));
  input.focus();
}

// ---------------------------------------------------------------------------------------------
// Teams and projects

async function homePage() {
  setCrumbs(h('span', {}, 'Teams'));
  const teams = await api('GET', '/v1/teams');
  const cards = await Promise.all(teams.map(async (t) => {
    const projects = await api('GET', `/v1/teams/${enc(t.slug)}/projects`);
    const role = me.teams.find((r) => r.team === t.slug)?.role || (me.serverAdmin ? 'server admin' : '');
    return h('div', { class: 'card', 'data-testid': `team-${t.slug}` },
      h('h2', {}, t.name, ' ', h('span', { class: 'muted' }, `(${t.slug}, ${t.plan} plan${role ? `, you are ${role}` : ''})`)),
      t.deploymentLimit ? h('p', { class: 'muted' }, `Up to ${t.deploymentLimit} deployments.`) : null,
      projects.items.length
        ? h('ul', {}, projects.items.map((p) => h('li', {}, link(`/dashboard/projects/${p.id}`, p.name), ' ', h('span', { class: 'muted' }, `${t.slug}:${p.slug}`))))
        : h('p', { class: 'muted' }, 'No projects yet: `berth project create <name>` makes one.'));
  }));
  fill(app, h('h1', {}, 'Teams and projects'), cards.length ? h('div', { class: 'grid2' }, cards) : h('p', { class: 'muted' }, 'You belong to no team yet.'));
}

async function projectPage(id, tab) {
  const [project, perms, teams] = await Promise.all([
    api('GET', `/v1/projects/${id}`),
    api('GET', `/v1/projects/${id}/permissions`),
    api('GET', '/v1/teams'),
  ]);
  project.team = teams.find((t) => t.slug === project.teamSlug) || {};
  setCrumbs(link('/dashboard', project.teamSlug), link(`/dashboard/projects/${id}`, project.name));
  const tabs = h('nav', { class: 'tabs' },
    link(`/dashboard/projects/${id}`, 'Deployments', { class: tab === 'deployments' ? 'active' : '' }),
    link(`/dashboard/projects/${id}/settings`, 'Project settings', { class: tab === 'settings' ? 'active' : '' }));
  const body = h('div');
  fill(app, h('h1', {}, project.name, h('span', { class: 'muted' }, `${project.teamSlug}:${project.slug}`)), tabs, body);
  if (tab === 'settings') await projectSettings(project, perms, body);
  else await deploymentsList(project, perms, body);
}

const PAGE = 50;

/** Which rule will end a deployment: its own expiration, the team's maximum preview age, and
 * for previews that CI claimed, the pull request closing (the docs/ci workflows). */
function endingRule(d, team) {
  const rules = [];
  const max = team.maxPreviewAgeMs;
  if (d.deploymentType === 'preview' && max && d.expiresAt === d.createTime + max) {
    rules.push(`the team's maximum preview age (${span(max)})`);
  } else if (d.expiresAt) {
    rules.push('its expiration');
  }
  if (d.deploymentType === 'preview' && d.previewIdentifier) rules.push('its pull request closing (CI)');
  return rules.length ? `ends by ${rules.join(' or ')}` : 'kept until deleted';
}

async function deploymentsList(project, perms, body) {
  const gen = generation;
  const state = { search: '', cursors: [undefined], page: 0 };
  const msg = h('div');
  const rows = h('tbody');
  const pager = h('div', { class: 'pager' });
  const search = h('input', { type: 'search', placeholder: 'Search by reference (prefix)…', 'aria-label': 'Search by reference', 'data-testid': 'search' });
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.search = search.value.trim();
      state.cursors = [undefined];
      state.page = 0;
      load();
    }, 200);
  });

  const canEdit = (d) => perms.admin.allowed || d.editableBy === 'members'
    ? { allowed: true }
    : { allowed: false, reason: `deployment '${d.name}' (${d.deploymentType} ${d.reference}) may be edited only by admins of project '${project.teamSlug}:${project.slug}'; ask a project or team admin` };

  async function load() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (state.search) q.set('search', state.search);
    const cursor = state.cursors[state.page];
    if (cursor !== undefined) q.set('cursor', String(cursor));
    let list;
    try {
      list = await api('GET', `/v1/projects/${project.id}/list_deployments?${q}`);
    } catch (e) {
      fill(msg, errorBox(e));
      return;
    }
    if (gen !== generation) return;
    fill(rows, ...list.map((d) => h('tr', { 'data-testid': 'deployment-row', 'data-name': d.name },
      h('td', {}, badge(d.deploymentType)),
      h('td', {}, link(`/dashboard/deployments/${enc(d.name)}`, d.reference), d.isDefault ? h('span', { class: 'muted' }, ' (default)') : null),
      h('td', { class: 'mono' }, d.name),
      h('td', {}, d.creator),
      h('td', {}, d.region),
      h('td', { title: stamp(d.createTime) }, ago(d.createTime)),
      h('td', { title: stamp(d.expiresAt), 'data-testid': 'expires' }, until(d.expiresAt),
        h('div', { class: 'why', 'data-testid': 'expiry-rule' }, endingRule(d, project.team))),
      h('td', { title: stamp(d.lastDeployTime) }, d.lastDeployTime ? ago(d.lastDeployTime) : 'never'),
      h('td', {}, guarded(canEdit(d), h('button', {
        'data-testid': 'delete-deployment',
        onclick: async () => {
          if (!await ask('Delete deployment?', `Delete deployment ${describe(d)}? Its data, code, variables and keys are deleted for good.`, 'Delete')) return;
          try {
            await api('POST', `/v1/deployments/${enc(d.name)}/delete`);
            fill(msg, h('p', { class: 'ok' }, `Deleted ${describe(d)}.`));
            load();
          } catch (e) {
            fill(msg, errorBox(e));
          }
        },
      }, 'Delete'))))));
    if (!list.length) fill(rows, h('tr', {}, h('td', { colspan: 9, class: 'muted' }, state.search ? `No deployment's reference starts with '${state.search}'.` : 'No deployments yet.')));
    const first = state.page * PAGE + 1;
    fill(pager, 
      h('button', { disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, '← Previous'),
      h('span', { class: 'muted', 'data-testid': 'page-info' }, list.length ? `${first}–${first + list.length - 1}` : ''),
      h('button', {
        disabled: list.length < PAGE,
        'data-testid': 'next-page',
        onclick: () => {
          state.cursors[state.page + 1] = list[list.length - 1].id;
          state.page += 1;
          load();
        },
      }, 'Next →'));
  }

  // Create
  const type = h('select', { name: 'type', 'aria-label': 'Type', 'data-testid': 'create-type' },
    h('option', { value: 'dev' }, 'dev'),
    h('option', { value: 'preview' }, 'preview'),
    h('option', { value: 'prod', disabled: !perms.createProd.allowed }, perms.createProd.allowed ? 'prod' : 'prod (admins only)'));
  const reference = h('input', { name: 'reference', placeholder: `dev/${me.username}`, 'data-testid': 'create-reference' });
  const expiration = h('input', { name: 'expiration', placeholder: 'in 7 days, 12h, 2026-12-31, none', 'data-testid': 'create-expiration' });
  type.addEventListener('change', () => {
    reference.placeholder = { dev: `dev/${me.username}`, preview: 'preview/<branch>', prod: 'production' }[type.value];
  });
  const createForm = h('form', {
    class: 'row',
    onsubmit: async (e) => {
      e.preventDefault();
      const req = { type: type.value };
      if (reference.value.trim()) req.reference = reference.value.trim();
      if (expiration.value.trim()) req.expiration = expiration.value.trim();
      if (type.value === 'preview' && !req.reference) {
        fill(msg, errorBox('A preview needs a reference such as preview/my-branch.'));
        return;
      }
      try {
        const d = await api('POST', `/v1/projects/${project.id}/create_deployment`, req);
        fill(msg, h('p', { class: 'ok', 'data-testid': 'created' }, `Created ${describe(d)}, expires ${until(d.expiresAt)}.`));
        reference.value = '';
        expiration.value = '';
        load();
      } catch (err) {
        fill(msg, errorBox(err));
      }
    },
  },
  h('label', {}, 'Type', type),
  h('label', {}, 'Reference', reference),
  h('label', {}, 'Expiration', expiration),
  h('button', { class: 'primary', type: 'submit', 'data-testid': 'create-deployment' }, 'Create deployment'));

  fill(body, 
    h('div', { class: 'card' }, h('h2', { class: 'mt0' }, 'New deployment'), createForm,
      perms.createProd.allowed ? null : h('div', { class: 'why' }, `prod: ${perms.createProd.reason}`)),
    msg,
    h('div', { class: 'row mb10' }, search),
    h('table', {}, h('thead', {}, h('tr', {}, ['Type', 'Reference', 'Name', 'Creator', 'Region', 'Created', 'Expires', 'Last deploy', ''].map((c) => h('th', {}, c)))), rows),
    pager);
  await load();
}

async function projectSettings(project, perms, body) {
  const keysCard = h('div', { class: 'card', 'data-testid': 'preview-keys' });
  const envCard = h('div', { class: 'card', 'data-testid': 'default-env' });
  fill(body, keysCard, envCard);

  // Preview deploy keys
  async function loadKeys(notice) {
    const head = [h('h2', { class: 'mt0' }, 'Preview deploy keys'),
      h('p', { class: 'muted' }, 'CI uses a preview deploy key to create and push preview deployments of this project (`berth deploy --preview-create <branch>`).')];
    if (!perms.managePreviewKeys.allowed) {
      fill(keysCard, ...head, h('div', { class: 'readonly' }, perms.managePreviewKeys.reason));
      return;
    }
    const keys = await api('GET', `/v1/projects/${project.id}/list_preview_deploy_keys`);
    const name = h('input', { placeholder: 'ci', 'aria-label': 'Key name', required: true });
    const exp = h('input', { placeholder: 'none, in 90 days…', 'aria-label': 'Key expiration' });
    fill(keysCard, ...head, notice || '',
      keyTable(keys, async (k) => {
        if (!await ask('Revoke preview deploy key?', `Revoke preview deploy key '${k.name}' of ${project.teamSlug}:${project.slug}? CI jobs using it stop working.`, 'Revoke')) return;
        try {
          await api('POST', `/v1/projects/${project.id}/delete_preview_deploy_key`, { name: k.name });
          loadKeys(h('p', { class: 'ok' }, `Revoked '${k.name}'.`));
        } catch (e) { loadKeys(errorBox(e)); }
      }),
      h('form', {
        class: 'row mt10',
        onsubmit: async (e) => {
          e.preventDefault();
          const req = { name: name.value.trim() };
          if (exp.value.trim()) req.expiration = exp.value.trim();
          try {
            const r = await api('POST', `/v1/projects/${project.id}/create_preview_deploy_key`, req);
            loadKeys(shownOnce(r.previewDeployKey));
          } catch (err) { loadKeys(errorBox(err)); }
        },
      }, h('label', {}, 'Name', name), h('label', {}, 'Expiration', exp), h('button', { class: 'primary' }, 'Create preview deploy key')));
  }

  // Default environment variables per type
  async function loadEnv(notice) {
    const vars = (await api('GET', `/v1/projects/${project.id}/list_default_environment_variables`)).environmentVariables;
    const allowed = perms.changeDefaultEnv;
    const ty = h('select', { 'aria-label': 'Deployment type' }, ['dev', 'preview', 'prod'].map((t) => h('option', { value: t }, t)));
    const name = h('input', { placeholder: 'NAME', 'aria-label': 'Variable name', required: true });
    const value = h('input', { placeholder: 'value', 'aria-label': 'Variable value' });
    const change = async (changes, done) => {
      try {
        await api('POST', `/v1/projects/${project.id}/update_default_environment_variables`, { changes });
        loadEnv(h('p', { class: 'ok' }, done));
      } catch (e) { loadEnv(errorBox(e)); }
    };
    const rows = vars.map((v) => h('tr', {},
      h('td', {}, badge(v.deploymentType)), h('td', { class: 'mono' }, v.name), h('td', { class: 'mono cell' }, v.value),
      h('td', {}, guarded(allowed, h('button', { onclick: () => change([{ name: v.name, deploymentType: v.deploymentType, value: null }], `Removed ${v.name} from ${v.deploymentType} defaults.`) }, 'Remove')))));
    const form = h('form', {
      class: 'row mt10',
      onsubmit: (e) => {
        e.preventDefault();
        change([{ name: name.value.trim(), deploymentType: ty.value, value: value.value }], `Set ${name.value.trim()} for new ${ty.value} deployments.`);
      },
    }, h('label', {}, 'Type', ty), h('label', {}, 'Name', name), h('label', {}, 'Value', value), guarded(allowed, h('button', { class: 'primary' }, 'Set default')));
    if (!allowed.allowed) for (const el of [ty, name, value]) el.disabled = true;
    fill(envCard, h('h2', { class: 'mt0' }, 'Default environment variables'),
      h('p', { class: 'muted' }, 'Copied into each new deployment of that type when it is created; existing deployments keep theirs.'),
      notice || '',
      vars.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Type', 'Name', 'Value', ''].map((c) => h('th', {}, c)))), h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No defaults.'),
      form);
  }

  await Promise.all([loadKeys(), loadEnv()]);
}

function shownOnce(key) {
  return h('div', { class: 'secret', 'data-testid': 'new-key' },
    h('strong', {}, 'Copy this key now; it is not shown again: '), h('code', {}, key));
}

function keyTable(keys, revoke, guard = { allowed: true }) {
  if (!keys.length) return h('p', { class: 'muted' }, 'No keys.');
  return h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Creator', 'Created', 'Last used', 'Expires', ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, keys.map((k) => h('tr', { 'data-testid': 'key-row', 'data-name': k.name },
      h('td', { class: 'mono' }, k.name), h('td', {}, k.creator), h('td', {}, ago(k.createTime)),
      h('td', {}, k.lastUsedTime ? ago(k.lastUsedTime) : 'never'), h('td', {}, until(k.expiresAt)),
      h('td', {}, guarded(guard, h('button', { 'data-testid': 'revoke-key', onclick: () => revoke(k) }, 'Revoke')))))));
}

// ---------------------------------------------------------------------------------------------
// A deployment

const TABS = [['functions', 'Functions'], ['data', 'Data'], ['logs', 'Logs'], ['env', 'Environment variables'], ['settings', 'Settings'], ['keys', 'Deploy keys']];

async function deploymentPage(name, tab) {
  const [d, perms] = await Promise.all([
    api('GET', `/v1/deployments/${enc(name)}`),
    api('GET', `/v1/deployments/${enc(name)}/permissions`),
  ]);
  const ctx = { d, perms, base: `/d/${enc(d.name)}` };
  setCrumbs(link('/dashboard', d.teamSlug), link(`/dashboard/projects/${d.projectId}`, d.projectSlug), h('span', {}, d.reference));
  const body = h('div');
  fill(app, 
    h('h1', {}, badge(d.deploymentType), h('span', { 'data-testid': 'reference' }, d.reference), h('span', { class: 'muted mono' }, d.name)),
    h('p', { class: 'muted' }, `URL ${d.deploymentUrl} · region ${d.region} · created by ${d.creator} ${ago(d.createTime)} · expires ${until(d.expiresAt)} · last deploy ${d.lastDeployTime ? ago(d.lastDeployTime) : 'never'}`),
    perms.edit.allowed ? null : h('div', { class: 'readonly', 'data-testid': 'read-only' }, `Read-only for you: ${perms.edit.reason}`),
    perms.confirmEdits && perms.edit.allowed ? h('div', { class: 'notice' }, 'This deployment asks for confirmation before every edit.') : null,
    h('nav', { class: 'tabs' }, TABS.map(([t, label]) => link(`/dashboard/deployments/${enc(d.name)}/${t}`, label, { class: t === tab ? 'active' : '' }))),
    body);
  const pages = { functions, data, logs, env, settings, keys };
  if (!perms.edit.allowed && tab !== 'settings' && tab !== 'keys') {
    fill(body, h('div', { class: 'readonly' }, `The ${tab} of this deployment are open only to those who may edit it: ${perms.edit.reason}`));
    return;
  }
  await pages[tab](ctx, body);
}

// Functions -----------------------------------------------------------------------------------

/** A validator (exportArgs' JSON) as TypeScript-like text: `{ author: string, limit?: number }`. */
function validatorText(v) {
  if (!v) return 'any';
  switch (v.type) {
    case 'object': return `{ ${Object.entries(v.value || {}).map(([k, f]) => `${k}${f.optional ? '?' : ''}: ${validatorText(f.fieldType)}`).join(', ')} }`;
    case 'array': return `${validatorText(v.value)}[]`;
    case 'union': return (v.value || []).map(validatorText).join(' | ');
    case 'literal': return JSON.stringify(v.value);
    case 'id': return `Id<"${v.tableName}">`;
    case 'record': return `Record<${validatorText(v.keys)}, ${validatorText(v.values?.fieldType ?? v.values)}>`;
    case 'int64': return 'bigint';
    case 'float64': return 'number';
    default: return v.type;
  }
}

/** Example arguments for a validator, to start from. */
function exampleArgs(v) {
  if (!v || v.type !== 'object') return {};
  const out = {};
  for (const [k, f] of Object.entries(v.value || {})) {
    if (f.optional) continue;
    const t = f.fieldType?.type;
    out[k] = t === 'string' ? '' : t === 'number' || t === 'float64' ? 0 : t === 'boolean' ? false : t === 'array' ? [] : t === 'object' ? {} : null;
  }
  return out;
}

function requestId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function functions(ctx, body) {
  const list = await api('GET', `${ctx.base}/api/functions`);
  if (!list.length) {
    fill(body, h('div', { class: 'card' }, h('p', { class: 'muted' }, 'No code yet: push with `berth deploy` or `berth dev`.')));
    return;
  }
  const panel = h('div', { class: 'card' });
  const items = list.map((f) => {
    const b = h('button', { 'data-testid': 'function', 'data-path': f.path, onclick: () => select(f, b) },
      h('span', { class: 'mono' }, f.path), h('span', {}, badge(f.kind), f.visibility === 'internal' ? ' ' : '', f.visibility === 'internal' ? badge('internal') : ''));
    return b;
  });
  let watching = 0; // bumped when another function is selected: the last one's watch stops
  function select(f, button) {
    watching++;
    for (const i of items) i.classList.toggle('active', i === button);
    const args = h('textarea', { rows: 6, 'data-testid': 'fn-args', spellcheck: 'false', 'aria-label': 'Arguments (JSON)' });
    args.value = JSON.stringify(exampleArgs(f.args));
    const out = h('div', { 'data-testid': 'fn-output' });
    const run = h('button', {
      class: 'primary', 'data-testid': 'fn-run',
      onclick: async () => {
        let parsed;
        try { parsed = JSON.parse(args.value || '{}'); } catch (e) {
          fill(out, errorBox(`The arguments are not valid JSON: ${e.message}`));
          return;
        }
        if (f.kind !== 'query' && !await confirmEdit(ctx, `Run ${f.kind} ${f.path}`)) return;
        run.disabled = true;
        const id = requestId();
        const started = performance.now();
        const mine = ++watching;
        const shown = (r) => r.status === 'success' ? JSON.stringify(r.value, null, 2) : r.errorMessage + (r.errorData !== undefined ? `\n\ndata: ${JSON.stringify(r.errorData, null, 2)}` : '');
        try {
          // A query is watched: its result here follows every write that changes it.
          const call = { path: f.path, args: parsed, format: 'json' };
          const w = f.kind === 'query' ? await api('POST', `${ctx.base}/api/watch`, call, { 'Convex-Request-Id': id }) : null;
          const r = w ? w.result : await api('POST', `${ctx.base}/api/function`, call, { 'Convex-Request-Id': id });
          const ms = Math.round(performance.now() - started);
          const lines = (await api('GET', `${ctx.base}/api/logs?limit=1000`)).entries.filter((e) => e.requestId === id);
          const result = h('pre', { class: 'out', 'data-testid': 'fn-result' }, shown(r));
          const live = h('span', { class: 'muted', 'data-testid': 'fn-live' }, w ? ' · live: updates as the data changes' : '');
          fill(out,
            h('p', {}, r.status === 'success' ? h('span', { class: 'ok', 'data-testid': 'fn-status' }, 'success') : h('span', { class: 'error', 'data-testid': 'fn-status' }, 'error'), h('span', { class: 'muted' }, ` in ${ms} ms · request ${id}`), live),
            result,
            h('h2', {}, 'Log lines'),
            lines.length ? h('div', { class: 'logs', 'data-testid': 'fn-logs' }, lines.map(logLine)) : h('p', { class: 'muted' }, 'None.'));
          run.disabled = false;
          let token = w?.token;
          while (token && mine === watching && document.body.contains(result)) {
            const next = await api('POST', `${ctx.base}/api/watch`, { ...call, after: token, wait: 25 }, {}, pageAbort.signal);
            if (mine !== watching || !document.body.contains(result)) break;
            if (next.changed) {
              result.textContent = shown(next.result);
              live.textContent = ` · live: updated at ${new Date().toLocaleTimeString()}`;
            }
            token = next.token;
          }
        } catch (e) {
          if (mine === watching) fill(out, errorBox(e));
        } finally {
          run.disabled = false;
        }
      },
    }, `Run ${f.kind}`);
    fill(panel, h('h2', { class: 'mt0' }, h('span', { class: 'mono' }, f.path), ' ', badge(f.kind)),
      h('p', { class: 'muted' }, 'Arguments: ', h('code', { 'data-testid': 'fn-signature' }, validatorText(f.args))),
      h('label', { class: 'wide' }, 'Arguments (JSON)', args), h('div', { class: 'row mt10' }, run), out);
  }
  fill(body, h('div', { class: 'split' }, h('ul', { class: 'list' }, items.map((i) => h('li', {}, i))), panel));
  select(list[0], items[0]);
}

// Data ----------------------------------------------------------------------------------------

function cellText(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function userFields(doc) {
  const out = {};
  for (const [k, v] of Object.entries(doc)) if (!k.startsWith('_')) out[k] = v;
  return out;
}

async function data(ctx, body) {
  const gen = generation;
  const tablesList = h('ul', { class: 'list' });
  const panel = h('div');
  const msg = h('div');
  let current = null;
  let view = null; // the page shown: { table, cursors, page }, reloaded when the data changes
  const editGuard = ctx.perms.edit;
  const live = h('span', { class: 'muted', 'data-testid': 'data-live' });

  async function loadTables(select) {
    const tables = await api('GET', `${ctx.base}/api/data`);
    if (gen !== generation) return;
    fill(tablesList, ...tables.map((t) => h('li', {}, h('button', {
      class: t.name === select ? 'active' : '', 'data-testid': 'table', 'data-table': t.name,
      onclick: () => openTable(t.name),
    }, h('span', { class: 'mono' }, t.name), h('span', { class: 'muted' }, String(t.documents))))));
    if (!tables.length) fill(tablesList, h('li', { class: 'muted pad' }, 'No tables yet.'));
    return tables;
  }

  function addDocument(table) {
    editJson(`Add a document${table ? ` to ${table}` : ''}`, 'Fields as JSON (convex_encoded_json: {"$integer": …} for int64, {"$bytes": …} for bytes). _id and _creationTime are set by the server.', '{\n  \n}', async (value) => {
      if (!await confirmEdit(ctx, `Insert a document into ${table}`)) return false;
      const r = await api('POST', `${ctx.base}/api/data/${enc(table)}`, { value });
      fill(msg, h('p', { class: 'ok' }, `Inserted ${r._id} into ${table}.`));
      await loadTables(table);
      await openTable(table);
    });
  }

  async function openTable(table, cursors = [''], page = 0) {
    current = table;
    view = { table, cursors, page };
    for (const b of tablesList.querySelectorAll('button')) b.classList.toggle('active', b.dataset.table === table);
    const q = new URLSearchParams({ limit: '50' });
    if (cursors[page]) q.set('cursor', cursors[page]);
    const r = await api('GET', `${ctx.base}/api/data/${enc(table)}?${q}`);
    if (gen !== generation || current !== table) return;
    const cols = [];
    for (const doc of r.page) for (const k of Object.keys(doc)) if (!k.startsWith('_') && !cols.includes(k)) cols.push(k);
    const rows = r.page.map((doc) => h('tr', { 'data-testid': 'document', 'data-id': doc._id },
      h('td', { class: 'mono cell' }, doc._id),
      cols.map((c) => h('td', { class: 'cell', title: cellText(doc[c]) }, cellText(doc[c]))),
      h('td', { class: 'muted' }, stamp(doc._creationTime)),
      h('td', {}, h('span', { class: 'row' },
        guarded(editGuard, h('button', {
          'data-testid': 'edit-document',
          onclick: () => editJson(`Edit document ${doc._id}`, `Table ${table}. Replaces every field; _id and _creationTime stay.`, JSON.stringify(userFields(doc), null, 2), async (value) => {
            if (!await confirmEdit(ctx, `Replace document ${doc._id} of ${table}`)) return false;
            await api('PATCH', `${ctx.base}/api/data/${enc(table)}/${enc(doc._id)}`, { value });
            fill(msg, h('p', { class: 'ok' }, `Saved ${doc._id}.`));
            await openTable(table, cursors, page);
          }),
        }, 'Edit')),
        guarded(editGuard, h('button', {
          'data-testid': 'delete-document',
          onclick: async () => {
            if (!await ask('Delete document?', `Delete document ${doc._id} from table ${table} of deployment ${describe(ctx.d)}?`, 'Delete')) return;
            try {
              await api('POST', `${ctx.base}/api/data/${enc(table)}/${enc(doc._id)}/delete`);
              fill(msg, h('p', { class: 'ok' }, `Deleted ${doc._id}.`));
              await loadTables(table);
              await openTable(table, cursors, page);
            } catch (e) { fill(msg, errorBox(e)); }
          },
        }, 'Delete'))))));
    fill(panel, 
      h('div', { class: 'row mb10' },
        h('h2', { class: 'mt0 mb0' }, h('span', { class: 'mono' }, table)), live,
        guarded(editGuard, h('button', { class: 'primary', 'data-testid': 'add-document', onclick: () => addDocument(table) }, 'Add document'))),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, '_id'), cols.map((c) => h('th', {}, c)), h('th', {}, '_creationTime'), h('th', {}, ''))), h('tbody', {}, rows)),
      h('div', { class: 'pager' },
        h('button', { disabled: page === 0, onclick: () => openTable(table, cursors, page - 1) }, '← Newer'),
        h('button', {
          disabled: r.isDone,
          onclick: () => { const next = cursors.slice(0, page + 1); next.push(r.continueCursor); openTable(table, next, page + 1); },
        }, 'Older →')));
  }

  const newTable = h('input', { placeholder: 'new_table', 'aria-label': 'New table name', 'data-testid': 'new-table' });
  fill(body, msg, h('div', { class: 'split' },
    h('div', { class: 'stack' }, tablesList,
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); if (newTable.value.trim()) addDocument(newTable.value.trim()); } },
        newTable, guarded(editGuard, h('button', {}, 'Add to new table')))),
    panel));
  // The latest commit before the first load: every later one reloads what is shown.
  let ts = (await api('GET', `${ctx.base}/api/data_changes`)).ts;
  const tables = await loadTables();
  if (tables.length) await openTable(tables[0].name);
  else fill(panel, h('p', { class: 'muted' }, 'Insert a document into a new table, or run a mutation.'));
  live.textContent = ' · live: follows every write';
  follow();

  // Long-polls for commits while this page is shown; a change reloads the tables and the page.
  async function follow() {
    while (gen === generation) {
      try {
        const c = await api('GET', `${ctx.base}/api/data_changes?${new URLSearchParams({ after: ts, wait: '25' })}`, undefined, {}, pageAbort.signal);
        if (gen !== generation) return;
        ts = c.ts;
        if (!c.changed) continue;
        await loadTables(current);
        if (view) await openTable(view.table, view.cursors, view.page);
        else if (current === null) {
          const first = (await api('GET', `${ctx.base}/api/data`))[0];
          if (first && gen === generation) await openTable(first.name);
        }
        live.textContent = ` · live: updated at ${new Date().toLocaleTimeString()}`;
      } catch (e) {
        if (gen !== generation) return;
        live.textContent = ` · live updates paused: ${e.message ?? e}; retrying`;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}

// Logs ----------------------------------------------------------------------------------------

function logLine(e) {
  const t = new Date(e.time);
  return h('div', { class: 'line', 'data-testid': 'log-line' },
    h('span', { class: 'muted', title: t.toISOString() }, t.toLocaleTimeString()),
    h('span', { class: `level ${e.level}` }, e.level),
    h('span', { class: 'fn', title: `${e.function} · request ${e.requestId}` }, e.function),
    h('span', { class: 'text' }, e.text));
}

async function logs(ctx, body) {
  const gen = generation;
  const box = h('div', { class: 'logs', 'data-testid': 'logs' });
  const status = h('span', { class: 'muted', 'data-testid': 'logs-status' }, 'connecting…');
  const filter = h('input', { type: 'search', placeholder: 'Filter lines…', 'aria-label': 'Filter log lines' });
  let paused = false;
  const pause = h('button', { onclick: () => { paused = !paused; pause.textContent = paused ? 'Resume' : 'Pause'; } }, 'Pause');
  const shown = (e) => !filter.value || `${e.function} ${e.text} ${e.requestId}`.toLowerCase().includes(filter.value.toLowerCase());
  const all = [];
  const append = (entries) => {
    all.push(...entries);
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.append(...entries.filter(shown).map(logLine));
    if (stick) box.scrollTop = box.scrollHeight;
  };
  filter.addEventListener('input', () => fill(box, ...all.filter(shown).map(logLine)));
  fill(body, h('div', { class: 'row mb10' }, filter, pause,
    h('button', { onclick: () => { all.length = 0; fill(box); } }, 'Clear'), status), box);
  const first = await api('GET', `${ctx.base}/api/logs?limit=500`);
  append(first.entries);
  let cursor = first.cursor;
  status.textContent = 'live';
  while (gen === generation) {
    if (paused) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      const r = await api('GET', `${ctx.base}/api/logs?cursor=${cursor}&wait=25`);
      if (gen !== generation) break;
      append(r.entries);
      cursor = r.cursor;
      status.textContent = 'live';
    } catch (e) {
      status.textContent = `reconnecting: ${e.message}`;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// Environment variables -----------------------------------------------------------------------

async function env(ctx, body, notice) {
  const vars = (await api('GET', `${ctx.base}/api/v1/list_environment_variables`)).environmentVariables;
  const guard = ctx.perms.edit;
  const change = async (changes, what, done) => {
    if (!await confirmEdit(ctx, what)) return;
    try {
      await api('POST', `${ctx.base}/api/v1/update_environment_variables`, { changes });
      await env(ctx, body, h('p', { class: 'ok', 'data-testid': 'env-saved' }, done));
    } catch (e) { await env(ctx, body, errorBox(e)); }
  };
  const rows = Object.entries(vars).map(([k, v]) => {
    const value = h('code', { class: 'mono' }, '••••••••');
    let visible = false;
    return h('tr', { 'data-testid': 'env-row', 'data-name': k },
      h('td', { class: 'mono' }, k),
      h('td', { class: 'cell' }, value, ' ', h('button', { class: 'link', onclick: (e) => { visible = !visible; value.textContent = visible ? v : '••••••••'; e.target.textContent = visible ? 'Hide' : 'Show'; } }, 'Show')),
      h('td', {}, h('span', { class: 'row' },
        guarded(guard, h('button', {
          onclick: () => editJson(`Edit ${k}`, 'The new value, as a JSON string.', JSON.stringify(v), async (nv) => {
            if (typeof nv !== 'string') throw new Error('The value must be a JSON string, e.g. "abc".');
            await change([{ name: k, value: nv }], `Change environment variable ${k}`, `Saved ${k}.`);
          }),
        }, 'Edit')),
        guarded(guard, h('button', { onclick: () => change([{ name: k, value: null }], `Remove environment variable ${k}`, `Removed ${k}.`) }, 'Remove')))));
  });
  const name = h('input', { placeholder: 'NAME', 'aria-label': 'Variable name', 'data-testid': 'env-name', required: true });
  const value = h('input', { placeholder: 'value', 'aria-label': 'Variable value', 'data-testid': 'env-value' });
  if (!guard.allowed) { name.disabled = true; value.disabled = true; }
  fill(body, notice || '',
    Object.keys(vars).length ? h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Value', ''].map((c) => h('th', {}, c)))), h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No environment variables.'),
    h('form', {
      class: 'row mt10',
      onsubmit: (e) => {
        e.preventDefault();
        const n = name.value.trim();
        change([{ name: n, value: value.value }], `Set environment variable ${n}`, `Saved ${n}.`);
      },
    }, h('label', {}, 'Name', name), h('label', {}, 'Value', value), guarded(guard, h('button', { class: 'primary', 'data-testid': 'env-add' }, 'Set variable'))),
    h('p', { class: 'muted' }, 'Functions see a change from their next call on.'));
}

// Settings ------------------------------------------------------------------------------------

async function settings(ctx, body, notice) {
  const d = ctx.d;
  const edit = ctx.perms.edit;
  const field = (el) => { if (!edit.allowed) el.disabled = true; return el; };
  const reference = field(h('input', { value: d.reference, 'data-testid': 'set-reference', 'aria-label': 'Reference' }));
  const expiration = field(h('input', { placeholder: d.expiresAt ? 'none, in 7 days…' : 'in 7 days, 2026-12-31…', 'data-testid': 'set-expiration', 'aria-label': 'New expiration' }));
  const check = (key, label) => {
    const el = field(h('input', { type: 'checkbox', 'data-testid': `set-${key}` }));
    el.checked = d[key];
    return [el, h('label', { class: 'check' }, el, label)];
  };
  const [logsBox, logsLabel] = check('sendLogsToClient', 'Send server logs to clients');
  const [errorsBox, errorsLabel] = check('sendErrorDetailsToClient', 'Send server error details to clients');
  const [confirmBox, confirmLabel] = check('dashboardEditConfirmation', 'Ask for confirmation before every edit in the dashboard');
  const editableBy = h('select', { 'data-testid': 'set-editableBy', 'aria-label': 'Who may edit' },
    h('option', { value: 'members' }, 'every team member'), h('option', { value: 'admins' }, 'project and team admins only'));
  editableBy.value = d.editableBy;
  if (!ctx.perms.changeEditableBy.allowed) editableBy.disabled = true;
  const msg = h('div', {}, notice || '');
  const save = h('button', {
    class: 'primary', 'data-testid': 'save-settings',
    onclick: async (e) => {
      e.preventDefault();
      const req = {};
      if (reference.value.trim() !== d.reference) req.reference = reference.value.trim();
      if (expiration.value.trim()) req.expiration = expiration.value.trim();
      if (logsBox.checked !== d.sendLogsToClient) req.sendLogsToClient = logsBox.checked;
      if (errorsBox.checked !== d.sendErrorDetailsToClient) req.sendErrorDetailsToClient = errorsBox.checked;
      if (confirmBox.checked !== d.dashboardEditConfirmation) req.dashboardEditConfirmation = confirmBox.checked;
      if (editableBy.value !== d.editableBy) req.editableBy = editableBy.value;
      if (!Object.keys(req).length) {
        fill(msg, h('p', { class: 'muted' }, 'Nothing changed.'));
        return;
      }
      if (!await confirmEdit(ctx, `Change the settings (${Object.keys(req).join(', ')})`)) return;
      try {
        ctx.d = await api('PATCH', `/v1/deployments/${enc(d.name)}`, req);
        ctx.perms = await api('GET', `/v1/deployments/${enc(d.name)}/permissions`);
        await settings(ctx, body, h('p', { class: 'ok', 'data-testid': 'settings-saved' }, 'Saved.'));
      } catch (err) {
        fill(msg, errorBox(err));
      }
    },
  }, 'Save settings');
  const del = h('button', {
    class: 'danger', 'data-testid': 'delete-this-deployment',
    onclick: async () => {
      if (!await ask('Delete deployment?', `Delete deployment ${describe(d)}? Its data, code, variables and keys are deleted for good.`, 'Delete')) return;
      try {
        await api('POST', `/v1/deployments/${enc(d.name)}/delete`);
        go(`/dashboard/projects/${d.projectId}`);
      } catch (err) { fill(msg, errorBox(err)); }
    },
  }, 'Delete deployment');
  fill(body, msg,
    h('div', { class: 'card stack' },
      h('h2', { class: 'mt0' }, 'Reference and expiration'),
      h('div', { class: 'row' }, h('label', {}, 'Reference', reference),
        h('label', {}, `Expiration (now: ${d.expiresAt ? `${stamp(d.expiresAt)}, ${until(d.expiresAt)}` : 'never'})`, expiration))),
    h('div', { class: 'card stack' },
      h('h2', { class: 'mt0' }, 'What clients see and who may edit'),
      logsLabel, errorsLabel, confirmLabel,
      h('label', {}, 'Who may edit (data, variables, settings, code, deletion)', editableBy),
      ctx.perms.changeEditableBy.allowed ? null : h('div', { class: 'why', 'data-testid': 'why-editable-by' }, ctx.perms.changeEditableBy.reason)),
    h('div', { class: 'row' }, guarded(edit, save)),
    h('div', { class: 'card mt20' }, h('h2', { class: 'mt0' }, 'Delete'), guarded(edit, del)));
}

// Deploy keys ---------------------------------------------------------------------------------

async function keys(ctx, body, notice) {
  const d = ctx.d;
  const guard = ctx.perms.edit;
  let list = [];
  let readError = null;
  try {
    list = await api('GET', `/v1/deployments/${enc(d.name)}/list_deploy_keys`);
  } catch (e) { readError = e; }
  const name = h('input', { placeholder: 'ci', 'aria-label': 'Key name', 'data-testid': 'key-name', required: true });
  const exp = h('input', { placeholder: 'none, in 30 days…', 'aria-label': 'Key expiration' });
  if (!guard.allowed) { name.disabled = true; exp.disabled = true; }
  fill(body, notice || '',
    h('p', { class: 'muted' }, `A deploy key acts on ${d.name} alone: push code, run any function, read and edit data (\`BERTH_DEPLOY_KEY\`).`),
    readError ? errorBox(readError) : keyTable(list, async (k) => {
      if (!await ask('Revoke deploy key?', `Revoke deploy key '${k.name}' of deployment ${describe(d)}? Whatever uses it is refused from its next request on.`, 'Revoke')) return;
      try {
        await api('POST', `/v1/deployments/${enc(d.name)}/delete_deploy_key`, { name: k.name });
        await keys(ctx, body, h('p', { class: 'ok', 'data-testid': 'key-revoked' }, `Revoked '${k.name}'.`));
      } catch (e) { await keys(ctx, body, errorBox(e)); }
    }, guard),
    h('form', {
      class: 'row mt10',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!await confirmEdit(ctx, `Create deploy key '${name.value.trim()}'`)) return;
        const req = { name: name.value.trim() };
        if (exp.value.trim()) req.expiration = exp.value.trim();
        try {
          const r = await api('POST', `/v1/deployments/${enc(d.name)}/create_deploy_key`, req);
          await keys(ctx, body, shownOnce(r.deployKey));
        } catch (err) { await keys(ctx, body, errorBox(err)); }
      },
    }, h('label', {}, 'Name', name), h('label', {}, 'Expiration', exp), guarded(guard, h('button', { class: 'primary', 'data-testid': 'create-key' }, 'Create deploy key'))));
}

render();
