// A counter: read-modify-write, to show that mutations on one deployment serialize.
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

export const create = mutation({ args: {}, handler: async (ctx) => ctx.db.insert("counters", { n: 0 }) });
export const increment = mutation({
  args: { id: v.id("counters") },
  handler: async (ctx, { id }) => {
    const c = await ctx.db.get(id);
    await ctx.db.patch(id, { n: (c?.n ?? 0) + 1 });
    return (c?.n ?? 0) + 1;
  },
});
export const get = query({ args: { id: v.id("counters") }, handler: async (ctx, { id }) => (await ctx.db.get(id))?.n ?? null });
export const add = mutation({ args: { tag: v.string() }, handler: async (ctx, { tag }) => ctx.db.insert("writes", { tag }) });
export const has = query({ args: { id: v.string() }, handler: async (ctx, { id }) => (await ctx.db.get(id)) !== null });
export const version = query(async () => 1);
export const shout = query({ args: { word: v.string() }, handler: async (_ctx, { word }) => { console.log("shouting", word); return word; } });
