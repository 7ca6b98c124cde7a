import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

export const list = query({
  args: {},
  handler: async (ctx) => ctx.db.query("messages").order("desc").take(10),
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    console.log("sending", author);
    return await ctx.db.insert("messages", { author, body });
  },
});

export const seed = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("messages", { author: "seed", body: "seeded preview" });
  },
});

export const byAuthor = query({
  args: { author: v.string() },
  handler: async (ctx, { author }) =>
    (await ctx.db.query("messages").withIndex("by_author", (q) => q.eq("author", author)).collect()).map((m) => m.body),
});
