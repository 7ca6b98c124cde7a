// Calls a berth deployment with Convex's own ConvexHttpClient. Run by the Rust end-to-end test
// `convex_http_client_works_unchanged`, which starts berth, pushes ./convex and sets:
//   BERTH_DEPLOYMENT_URL  the deployment's URL (…/d/<name>)
//   BERTH_DEPLOY_KEY      a deploy key for it (for the internal-function call)
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { anyApi } from "convex/server";

const url = process.env.BERTH_DEPLOYMENT_URL;
const api = anyApi;
const client = () => new ConvexHttpClient(url);

test("queries, mutations and actions with every kind of value", async () => {
  const c = client();
  const bytes = new Uint8Array([1, 2, 3, 255]).buffer;
  const nested = { list: [1, "two", null, true, { deep: [3.5] }], big: 9007199254740993n };
  for (const value of [null, 0, -1.5, "text", true, 123n, -(2n ** 63n), bytes, NaN, Infinity, -Infinity, -0, nested]) {
    const back = await c.query(api.client.echo, { value });
    if (value instanceof ArrayBuffer) {
      assert.deepEqual(new Uint8Array(back), new Uint8Array(value));
    } else if (typeof value === "number" && Number.isNaN(value)) {
      assert.ok(Number.isNaN(back));
    } else {
      assert.deepStrictEqual(back, value);
    }
  }
  assert.ok(Object.is(await c.query(api.client.echo, { value: -0 }), -0), "-0 survives");
  assert.deepEqual(await c.mutation(api.client.echoMutation, { value: nested }), nested);
  assert.deepEqual(await c.query(api.client.typed, { n: 41n, b: bytes }), { n: 42n, size: 4 });
  assert.deepEqual(await c.action(api.client.viaAction, { value: [1n, "x"] }), [1n, "x"]);
  await c.mutation(api.messages.send, { author: "ada", body: "from the npm client" });
  const list = await c.query(api.messages.list, {});
  assert.equal(list[0].body, "from the npm client");
});

test("a ConvexError's data reaches the client", async () => {
  await assert.rejects(client().mutation(api.client.fail, {}), (e) => {
    assert.ok(e instanceof ConvexError, `got ${e}`);
    assert.deepEqual(e.data, { reason: "nope", n: 42n });
    return true;
  });
});

test("a thrown Error becomes a server error with the request id", async () => {
  await assert.rejects(client().query(api.client.crash, {}), (e) => {
    assert.match(e.message, /\[Request ID: [0-9a-f]{16}\] Server Error/);
    return true;
  });
});

test("an internal function looks missing to public callers, and runs with a deploy key", async () => {
  await assert.rejects(client().query(api.client.secret, {}), (e) => {
    assert.match(e.message, /Could not find public function for 'client.js:secret'/);
    return true;
  });
  const admin = client();
  admin.setAdminAuth(process.env.BERTH_DEPLOY_KEY);
  assert.equal(await admin.function(api.client.secret, {}), "internal only");
});

test("argument validation and wrong kinds are function errors", async () => {
  await assert.rejects(client().query(api.client.typed, { n: "x", b: new ArrayBuffer(0) }), /ArgumentValidationError/);
  await assert.rejects(client().query(api.client.echoMutation, { value: 1 }), /as Query, but it is defined as Mutation/);
});
