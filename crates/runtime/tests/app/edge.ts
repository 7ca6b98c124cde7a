import { query, mutation, internalQuery, action } from "./_generated/server";
import { api } from "./_generated/api";
import { v, ConvexError } from "convex/values";
import { helper } from "./lib/helpers";

export const echo = query({ args: { value: v.any() }, handler: async (_ctx, { value }) => value });
export const bare = query(async () => helper(2));
export const secret = internalQuery({ args: {}, handler: async () => "hidden" });
export const typed = query({ args: { n: v.number(), id: v.optional(v.id("things")) }, returns: v.number(), handler: async (_c, { n }) => n * 2 });
export const badReturn = query({ args: {}, returns: v.number(), handler: async () => "not a number" });

export const insertThenThrow = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("things", { n: 1 });
    throw new Error("boom");
  },
});
export const addThing = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => ctx.db.insert("things", { n }) });
export const things = query({ args: {}, handler: async (ctx) => ctx.db.query("things").collect() });
export const page = query({
  args: { cursor: v.union(v.string(), v.null()), numItems: v.number() },
  handler: async (ctx, { cursor, numItems }) => ctx.db.query("things").paginate({ cursor, numItems }),
});
export const bigThings = query({
  args: { min: v.number() },
  handler: async (ctx, { min }) => ctx.db.query("things").filter((q) => q.and(q.gte(q.field("n"), min), q.neq(q.field("n"), 5))).collect(),
});
export const recent = query({
  args: { after: v.number() },
  handler: async (ctx, { after }) =>
    ctx.db.query("things").withIndex("by_creation_time", (q) => q.gt("_creationTime", after)).order("desc").collect(),
});
export const patchAndGet = mutation({
  args: { id: v.id("things") },
  handler: async (ctx, { id }) => {
    await ctx.db.patch(id, { extra: "x", n: undefined });
    const d = await ctx.db.get(id);
    await ctx.db.replace(id, { n: 42 });
    const r = await ctx.db.get(id);
    return { patched: d, replaced: r, normalized: ctx.db.normalizeId("things", id), wrong: ctx.db.normalizeId("other", id) };
  },
});
export const removeIt = mutation({ args: { id: v.id("things") }, handler: async (ctx, { id }) => { await ctx.db.delete(id); return await ctx.db.get(id); } });
export const deterministic = query({ args: {}, handler: async () => [Math.random(), Date.now() === new Date().getTime()] });
export const failsWithData = query({ args: {}, handler: async () => { throw new ConvexError({ code: 7, big: 2n }); } });
export const logs = query({ args: {}, handler: async () => { console.log("hi", 1, { a: [1, "x"] }); console.warn("careful"); return null; } });
export const loop = query({ args: {}, handler: async () => { for (;;) {} } });
export const bomb = query({ args: {}, handler: async () => { const a: string[] = []; for (;;) a.push("x".repeat(1024 * 1024)); } });
export const writeInQuery = query({
  args: {},
  handler: async () => (globalThis as any).Convex.asyncSyscall("1.0/insert", JSON.stringify({ table: "things", value: { n: 1 } })),
});
export const chain = action({
  args: {},
  handler: async (ctx) => {
    const id = await ctx.runMutation(api.edge.addThing, { n: 100 });
    const all = await ctx.runQuery(api.edge.things, {});
    const hidden = await ctx.runQuery(api.edge.secret, {});
    let failure = "";
    try { await ctx.runQuery(api.edge.typed, { n: "x" }); } catch (e: any) { failure = e.message; }
    return { id: typeof id, count: all.length, hidden, failure };
  },
});
export const vandal = mutation({
  args: {},
  handler: async () => {
    let refused = 0;
    try { (JSON as any).stringify = () => "x"; } catch { refused++; }
    try { (Math as any).random = () => 4; } catch { refused++; }
    return refused;
  },
});
export const throwsObject = query({ args: {}, handler: async () => { throw { x: 1 }; } });
// Every clock and random source a query can reach, including the ones around the `Date` global.
export const clocks = query({
  args: {},
  handler: async () => {
    // Run long enough for a real clock to move.
    let spin = 0;
    for (let i = 0; i < 500_000; i++) spin += i;
    const Real = Object.getPrototypeOf(Date) as any;
    const Ctor = Date.prototype.constructor as any;
    class Sub extends Date {}
    const bytes = Array.from(crypto.getRandomValues(new Uint8Array(8)));
    return {
      protoNow: typeof Real.now === "function" ? Real.now() : null,
      protoNew: typeof Real === "function" && Real !== Function.prototype ? new Real().getTime() : null,
      ctorNow: Ctor.now(),
      ctorNew: new Ctor().getTime(),
      sub: new Sub().getTime(),
      now: Date.now(),
      str: Date(),
      bytes,
      spin,
    };
  },
});
// A query and a mutation that try to call other functions, which only actions may.
export const queryCallsMutation = query({
  args: {},
  handler: async (ctx: any) => (globalThis as any).Convex.asyncSyscall(
    "1.0/actions/mutation", JSON.stringify({ name: "edge:addThing", args: { n: 1 } })),
});
export const mutationCallsMutation = mutation({
  args: {},
  handler: async () => (globalThis as any).Convex.asyncSyscall(
    "1.0/actions/mutation", JSON.stringify({ name: "edge:addThing", args: { n: 2 } })),
});
