// What Convex's ConvexHttpClient sees from one deployment, printed as JSON for the Rust test.
// Run from tests/js (for its node_modules) with BERTH_DEPLOYMENT_URL set.
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const client = new ConvexHttpClient(process.env.BERTH_DEPLOYMENT_URL);
const out = {};
for (const [kind, fn] of [["query", "noisyQuery"], ["mutation", "noisyMutation"], ["action", "noisyAction"]]) {
  try {
    await client[kind](anyApi.ops[fn], {});
    out[kind] = "no error";
  } catch (e) {
    out[kind] = e.message;
  }
}
try {
  await client.mutation(anyApi.ops.rejects, {});
} catch (e) {
  out.data = e.data ?? null;
}
console.log(JSON.stringify(out));
