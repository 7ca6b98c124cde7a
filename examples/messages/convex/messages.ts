// The example app: a message board. `berth deploy` pushes this folder; see the README's tour.
import { query, mutation, internalMutation, action } from "./_generated/server";
import { api, internal } from "./_generated/api";
import { v, ConvexError } from "convex/values";

export const list = query({
  args: { limit: v.optional(v.number()) },
  handler: async (ctx, { limit }) => {
    return await ctx.db.query("messages").order("desc").take(limit ?? 20);
  },
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    if (body.trim() === "") {
      throw new ConvexError({ code: "EmptyMessage", message: "a message needs some text" });
    }
    console.log("new message from", author);
    return await ctx.db.insert("messages", { author, body });
  },
});

export const count = query({
  args: {},
  handler: async (ctx): Promise<number> => (await ctx.db.query("messages").collect()).length,
});

export const byAuthor = query({
  args: { author: v.string() },
  handler: async (ctx, { author }) =>
    await ctx.db.query("messages").filter((q) => q.eq(q.field("author"), author)).collect(),
});

/** Seeds the board: run by `berth deploy --preview-run messages:seed` on a fresh preview. */
export const seed = internalMutation({
  args: { count: v.optional(v.number()) },
  handler: async (ctx, { count }) => {
    const n = count ?? 10;
    for (let i = 0; i < n; i++) {
      await ctx.db.insert("messages", { author: "seed", body: `message ${i + 1}` });
    }
    return n;
  },
});

export const sendAndCount = action({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, args): Promise<number> => {
    await ctx.runMutation(api.messages.send, args);
    return await ctx.runQuery(api.messages.count, {});
  },
});
