import { query, mutation } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";

/** Inserts events `from`..`from + count`: channel by `seq % 4`, `at` descending within it. */
export const seed = mutation({
  args: { from: v.number(), count: v.number() },
  handler: async (ctx, { from, count }) => {
    for (let seq = from; seq < from + count; seq++) {
      await ctx.db.insert("events", { channel: `c${seq % 4}`, at: 100_000 - seq, seq });
    }
  },
});

/** A page of one channel's events with `at` in [lo, hi), newest first or oldest first. */
export const page = query({
  args: {
    channel: v.string(),
    lo: v.number(),
    hi: v.number(),
    desc: v.boolean(),
    paginationOpts: paginationOptsValidator,
  },
  handler: async (ctx, { channel, lo, hi, desc, paginationOpts }) => {
    const q = ctx.db
      .query("events")
      .withIndex("by_channel_at", (q) => q.eq("channel", channel).gte("at", lo).lt("at", hi));
    return await (desc ? q.order("desc") : q).paginate(paginationOpts);
  },
});

export const remove = mutation({
  args: { id: v.id("events") },
  handler: async (ctx, { id }) => ctx.db.delete(id),
});

export const first = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    await ctx.db
      .query("events")
      .withIndex("by_channel_at", (q) => q.eq("channel", channel))
      .first(),
});

export const unique = query({
  args: { seq: v.number() },
  handler: async (ctx, { seq }) =>
    await ctx.db
      .query("events")
      .withIndex("by_channel_at", (q) => q.eq("channel", `c${seq % 4}`).eq("at", 100_000 - seq))
      .unique(),
});
