// A small app for the live-query tests (live.test.mjs): notes by channel, pages of them, a
// query that throws a ConvexError, an action that writes through a mutation.
import { query, mutation, action } from "./_generated/server";
import { anyApi, paginationOptsValidator } from "convex/server";
import { v, ConvexError } from "convex/values";

export const byChannel = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (await ctx.db.query("notes").withIndex("by_channel", (q) => q.eq("channel", channel)).collect()).map((n) => n.text),
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).length,
});

// Logs each run, so a test can count them (crates/berth/tests/functions.rs).
export const counted = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    console.log("counted", channel);
    return (await ctx.db.query("notes").withIndex("by_channel", (q) => q.eq("channel", channel)).collect()).length;
  },
});

export const add = mutation({
  args: { channel: v.string(), text: v.string() },
  handler: async (ctx, args) => {
    console.log("adding", args.text);
    return await ctx.db.insert("notes", args);
  },
});

export const page = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: (ctx, { paginationOpts }) => ctx.db.query("notes").order("desc").paginate(paginationOpts),
});

export const pageOf = query({
  args: { channel: v.string(), paginationOpts: paginationOptsValidator },
  handler: (ctx, { channel, paginationOpts }) =>
    ctx.db
      .query("notes")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .paginate(paginationOpts),
});

export const guarded = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const n = (await ctx.db.query("notes").withIndex("by_channel", (q) => q.eq("channel", channel)).collect()).length;
    if (n >= 2) throw new ConvexError({ tooMany: n });
    return n;
  },
});

export const shout = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    await ctx.runMutation(anyApi.live.add, { channel: "actions", text });
    return text.toUpperCase();
  },
});

export const refuse = mutation({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: 7 });
  },
});
