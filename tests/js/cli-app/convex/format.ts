// Uses an npm package of the app's own (`ms`), bundled by the CLI's esbuild into the push.
import ms from "ms";
import { query } from "./_generated/server";
import { v } from "convex/values";

export const duration = query({
  args: { ms: v.number() },
  handler: async (_ctx, args) => ms(args.ms, { long: true }),
});

// Convex's `npm create convex` template asks who is signed in before anyone is: `null`.
export const whoami = query({
  args: {},
  handler: async (ctx) => ({ identity: await ctx.auth.getUserIdentity() }),
});
