// Live queries with Convex's own clients over the WebSocket sync protocol. Run by the Rust test
// `convex_clients_get_live_updates`, which starts berth, pushes ./live and sets:
//   BERTH_DEPLOYMENT_URL  the deployment's URL (…/d/<name>)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexReactClient } from "convex/react";
import { ConvexError } from "convex/values";
import { anyApi } from "convex/server";

const url = process.env.BERTH_DEPLOYMENT_URL;
const api = anyApi;
// Every socket the clients open, so a test can drop one.
const sockets = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
}
const options = { webSocketConstructor: TrackedWebSocket, skipConvexDeploymentUrlCheck: true, unsavedChangesWarning: false };
const clients = [];
const live = () => {
  const c = new ConvexClient(url, options);
  clients.push(c);
  return c;
};
after(async () => {
  for (const c of clients) await c.close();
});

/** Resolves with the first value `values` holds that passes `ok`, or fails after 10 s. */
async function until(values, ok, what) {
  const start = Date.now();
  while (Date.now() - start < 10_000) {
    const found = values.find(ok);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${what}: never came; saw ${JSON.stringify(values)}`);
}

test("a subscription sees every write, over the socket and over HTTP, in order", async () => {
  const c = live();
  const seen = [];
  c.onUpdate(api.live.byChannel, { channel: "a" }, (v) => seen.push(v));
  await until(seen, (v) => Array.isArray(v) && v.length === 0, "the first (empty) value");
  await c.mutation(api.live.add, { channel: "a", text: "one" });
  await new ConvexHttpClient(url).mutation(api.live.add, { channel: "a", text: "two" });
  await c.mutation(api.live.add, { channel: "b", text: "elsewhere" });
  await c.mutation(api.live.add, { channel: "a", text: "three" });
  await until(seen, (v) => v.length === 3, "all three notes of channel a");
  // Every value seen grows by one note at a time: nothing out of order, nothing from channel b.
  const lengths = seen.map((v) => v.length);
  assert.deepEqual(lengths, [...lengths].sort((x, y) => x - y), `in order: ${JSON.stringify(seen)}`);
  assert.deepEqual(seen.at(-1), ["one", "two", "three"]);
});

test("a mutation resolves only once its write shows in the subscriptions", async () => {
  const c = live();
  const counts = [];
  c.onUpdate(api.live.count, {}, (n) => counts.push(n));
  const first = await until(counts, (n) => typeof n === "number", "the first count");
  for (let i = 0; i < 5; i++) {
    await c.mutation(api.live.add, { channel: "c", text: `n${i}` });
    assert.equal(counts.at(-1), first + i + 1, "the count already includes the write");
  }
});

test("a ConvexError thrown by a subscribed query reaches the client with its data", async () => {
  const c = live();
  const errors = [];
  const values = [];
  c.onUpdate(api.live.guarded, { channel: "g" }, (v) => values.push(v), (e) => errors.push(e));
  await until(values, (v) => v === 0, "the first value");
  await c.mutation(api.live.add, { channel: "g", text: "x" });
  await c.mutation(api.live.add, { channel: "g", text: "y" });
  const e = await until(errors, () => true, "the error");
  assert.ok(e instanceof ConvexError, `got ${e}`);
  assert.deepEqual(e.data, { tooMany: 2 });
});

test("actions and failing mutations are answered over the socket", async () => {
  const c = live();
  assert.equal(await c.action(api.live.shout, { text: "hi" }), "HI");
  // A message far larger than what the socket reads at a time (8 KiB).
  const big = "x".repeat(300_000);
  await c.mutation(api.live.add, { channel: "big", text: big });
  assert.deepEqual(await new ConvexHttpClient(url).query(api.live.byChannel, { channel: "big" }), [big]);
  await assert.rejects(c.mutation(api.live.refuse, {}), (e) => {
    assert.ok(e instanceof ConvexError, `got ${e}`);
    assert.deepEqual(e.data, { code: 7 });
    return true;
  });
});

test("a dropped connection reconnects and resubscribes", async () => {
  const c = live();
  const seen = [];
  c.onUpdate(api.live.byChannel, { channel: "r" }, (v) => seen.push(v));
  await until(seen, (v) => v.length === 0, "the first value");
  const before = sockets.length;
  sockets.at(-1).close();
  await until({ find: (ok) => (ok(sockets.length) ? sockets.length : undefined) }, (n) => n > before, "a new socket");
  await new ConvexHttpClient(url).mutation(api.live.add, { channel: "r", text: "after the drop" });
  await until(seen, (v) => v.length === 1, "the write made after reconnecting");
  assert.deepEqual(seen.at(-1), ["after the drop"]);
});

test("a mutation sent again after a reconnect runs once and gets its first answer", async () => {
  // What Convex's client does with a mutation still unanswered when its socket drops: it sends
  // it again, with the same session and request id, on the next socket.
  const wsUrl = url.replace(/^http/, "ws") + "/api/1.48.0/sync";
  const sessionId = `resend-${Date.now()}`;
  const send = async () => {
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
    const answer = new Promise((resolve) => ws.on("message", (m) => {
      const msg = JSON.parse(m.toString());
      if (msg.type === "MutationResponse") resolve(msg);
    }));
    ws.send(JSON.stringify({ type: "Connect", sessionId, connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: 0 }));
    ws.send(JSON.stringify({ type: "Mutation", requestId: 0, udfPath: "live:add", args: [{ channel: "once", text: "one" }] }));
    const msg = await answer;
    ws.close();
    return msg;
  };
  const first = await send();
  const again = await send();
  assert.equal(first.success, true, JSON.stringify(first));
  assert.equal(again.success, true, JSON.stringify(again));
  assert.deepEqual(again.result, first.result, "the same document id both times");
  const rows = await new ConvexHttpClient(url).query(api.live.byChannel, { channel: "once" });
  assert.deepEqual(rows, ["one"], "one insert, not two");
});

test("a session id longer than a UUID ends the session with the reason", async () => {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/api/1.48.0/sync");
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const answer = new Promise((resolve) => ws.on("message", (m) => resolve(JSON.parse(m.toString()))));
  ws.send(JSON.stringify({ type: "Connect", sessionId: "x".repeat(5000), connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: 0 }));
  const msg = await answer;
  ws.close();
  assert.equal(msg.type, "FatalError", JSON.stringify(msg));
  assert.match(msg.error, /send a UUID/);
});

test("a paginated query's first page updates on insert", async () => {
  const c = live();
  const pages = [];
  c.onUpdate(api.live.page, { paginationOpts: { numItems: 3, cursor: null } }, (p) => pages.push(p));
  await until(pages, (p) => p && Array.isArray(p.page), "the first page");
  await c.mutation(api.live.add, { channel: "p", text: "newest" });
  const p = await until(pages, (p) => p.page[0]?.text === "newest", "the insert on the first page");
  // The page keeps its end (its journal): it grows by the new row rather than dropping its last.
  assert.equal(p.page.length, 4);
});

test("a page keeps its bounds while rows are written around it (its journal)", async () => {
  const c = live();
  for (const text of ["n1", "n2", "n3", "n4"]) await c.mutation(api.live.add, { channel: "pg", text });
  const texts = (p) => p.page.map((n) => n.text);
  const first = [];
  c.onUpdate(api.live.pageOf, { channel: "pg", paginationOpts: { numItems: 2, cursor: null } }, (p) => first.push(p));
  const p0 = await until(first, (p) => p?.page?.length === 2, "the first page");
  assert.deepEqual(texts(p0), ["n4", "n3"]);
  const second = [];
  c.onUpdate(api.live.pageOf, { channel: "pg", paginationOpts: { numItems: 2, cursor: p0.continueCursor } }, (p) => second.push(p));
  const p1 = await until(second, (p) => p?.page?.length === 2, "the second page");
  assert.deepEqual(texts(p1), ["n2", "n1"]);
  // A newer row joins the first page, which grows: n3 stays on it instead of falling between pages.
  await c.mutation(api.live.add, { channel: "pg", text: "n5" });
  const grown = await until(first, (p) => p.page.length === 3, "the first page with n5");
  assert.deepEqual(texts(grown), ["n5", "n4", "n3"]);
  assert.equal(grown.continueCursor, p0.continueCursor, "the page ends where it did");
  assert.deepEqual(texts(second.at(-1)), ["n2", "n1"]);
  // An endCursor in the arguments (how usePaginatedQuery splits a page) bounds the page too.
  const http = new ConvexHttpClient(url);
  const bounded = await http.query(api.live.pageOf, {
    channel: "pg",
    paginationOpts: { numItems: 1, cursor: null, endCursor: p0.continueCursor },
  });
  assert.deepEqual(texts(bounded), ["n5", "n4", "n3"]);
  assert.equal(bounded.continueCursor, p0.continueCursor);
});

test("ConvexReactClient: an optimistic update shows at once and settles on the server's value", async () => {
  const c = new ConvexReactClient(url, options);
  try {
    const watch = c.watchQuery(api.live.byChannel, { channel: "o" });
    const seen = [];
    const stop = watch.onUpdate(() => seen.push(watch.localQueryResult()));
    await until(seen, (v) => Array.isArray(v), "the first value");
    const done = c.mutation(api.live.add, { channel: "o", text: "mine" }, {
      optimisticUpdate: (store, args) => {
        const now = store.getQuery(api.live.byChannel, { channel: "o" });
        if (now !== undefined) store.setQuery(api.live.byChannel, { channel: "o" }, [...now, `${args.text} (pending)`]);
      },
    });
    assert.deepEqual(watch.localQueryResult(), ["mine (pending)"], "shown before the server answers");
    await done;
    assert.deepEqual(watch.localQueryResult(), ["mine"], "settled on the server's value");
    stop();
  } finally {
    await c.close();
  }
});
