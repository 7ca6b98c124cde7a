// Functions the operations tests call: environment variables, logging and failing functions.
import { query, mutation, action } from "./_generated/server";
import { v, ConvexError } from "convex/values";

export const envValue = query({ args: { name: v.string() }, handler: async (_ctx, { name }) => process.env[name] ?? null });

export const noisyQuery = query({
  args: {},
  handler: async () => {
    console.log("query says hi");
    throw new Error("query failed");
  },
});
export const noisyMutation = mutation({
  args: {},
  handler: async () => {
    console.log("mutation says hi");
    throw new Error("mutation failed");
  },
});
export const noisyAction = action({
  args: {},
  handler: async () => {
    console.log("action says hi");
    throw new Error("action failed");
  },
});
export const rejects = mutation({ args: {}, handler: async () => { throw new ConvexError({ code: "Rejected" }); } });
export const chatty = query({ args: { n: v.number() }, handler: async (_ctx, { n }) => { console.info("line", n); return n; } });
