// A React app (react-app/main.jsx: `useQuery` and `useMutation` from convex/react, bundled here
// with esbuild) in a real browser (Debian's Chromium, driven by playwright-core), against a berth
// deployment that crates/berth/tests/functions.rs started and pushed tests/js/live to:
//   BERTH_DEPLOYMENT_URL, CHROMIUM (executable).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const deployment = process.env.BERTH_DEPLOYMENT_URL;
let browser;
let server;
let pageUrl;

before(async () => {
  const out = await build({
    entryPoints: [new URL("./react-app/main.jsx", import.meta.url).pathname],
    bundle: true,
    write: false,
    format: "esm",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const script = out.outputFiles[0].text;
  const html = '<!doctype html><meta charset="utf-8"><title>notes</title><div id="root"></div><script type="module" src="/app.js"></script>';
  server = createServer((req, res) => {
    if (req.url === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(script);
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(html);
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  pageUrl = `http://127.0.0.1:${server.address().port}/#${encodeURIComponent(deployment)}`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open() {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(pageUrl);
  await page.waitForSelector("[data-testid=text]");
  return page;
}

const items = (page) => page.$$eval("[data-testid=notes] li", (lis) => lis.map((li) => li.textContent));

test("useMutation in one tab shows in useQuery of both tabs", async () => {
  const first = await open();
  const second = await open();
  assert.deepEqual(await items(first), []);
  await first.fill("[data-testid=text]", "from the first tab");
  await first.click("button[type=submit]");
  await second.waitForFunction(
    () => [...document.querySelectorAll("[data-testid=notes] li")].some((li) => li.textContent === "from the first tab"),
    null,
    { timeout: 10_000 },
  );
  assert.deepEqual(await items(first), ["from the first tab"]);
  await second.fill("[data-testid=text]", "and back");
  await second.click("button[type=submit]");
  await first.waitForFunction(
    () => document.querySelectorAll("[data-testid=notes] li").length === 2,
    null,
    { timeout: 10_000 },
  );
  assert.deepEqual(await items(first), ["from the first tab", "and back"]);
  assert.deepEqual(first.errors, []);
  assert.deepEqual(second.errors, []);
});
