// Stored indexes through Convex's own ConvexHttpClient. Run by the Rust end-to-end test
// `indexes_page_through_ten_thousand_documents`, which starts berth, pushes ./indexes and sets
// BERTH_DEPLOYMENT_URL to the deployment's URL (…/d/<name>).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const api = anyApi;
const client = new ConvexHttpClient(process.env.BERTH_DEPLOYMENT_URL);
const TOTAL = 10_000;

test("10,000 documents paged by a compound index, the cursor's document deleted between pages", async () => {
  for (let from = 0; from < TOTAL; from += 1000) {
    await client.mutation(api.events.seed, { from, count: 1000 });
  }
  let deleted = 0;
  for (const desc of [false, true]) {
    const before = deleted;
    const seen = new Set();
    let last = null;
    let cursor = null;
    let pages = 0;
    for (;;) {
      const r = await client.query(api.events.page, {
        channel: "c1", lo: 0, hi: 1e9, desc, paginationOpts: { numItems: 100, cursor },
      });
      pages++;
      for (const e of r.page) {
        assert.equal(e.channel, "c1");
        assert.ok(!seen.has(e.seq), `seq ${e.seq} seen twice`);
        seen.add(e.seq);
        if (last !== null) assert.ok(desc ? e.at < last : e.at > last, "index order");
        last = e.at;
      }
      if (r.isDone) break;
      // The document the cursor points at goes away; the next page starts right after it.
      await client.mutation(api.events.remove, { id: r.page[r.page.length - 1]._id });
      deleted++;
      cursor = r.continueCursor;
    }
    // Every c1 event was seen once, less those deleted as cursors in an earlier pass.
    assert.equal(seen.size, TOTAL / 4 - before, `${seen.size} seen in ${pages} pages`);
    assert.ok(pages >= 25, `${pages} pages`);
  }
});

test("ranges, first and unique read through the index", async () => {
  const r = await client.query(api.events.page, {
    channel: "c2", lo: 100_000 - 102, hi: 100_000 - 2, desc: false, paginationOpts: { numItems: 1000, cursor: null },
  });
  // `at` = 100000 - seq for seq ≡ 2 (mod 4), within [99898, 99998): seq 6..102.
  assert.deepEqual(r.page.map((e) => e.seq), Array.from({ length: 25 }, (_, i) => 102 - 4 * i));
  assert.ok(r.isDone);
  const first = await client.query(api.events.first, { channel: "c3" });
  assert.equal(first.seq, TOTAL - 1, "the lowest `at` comes first");
  const one = await client.query(api.events.unique, { seq: 4242 });
  assert.equal(one.seq, 4242);
});
