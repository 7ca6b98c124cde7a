// Functions the ConvexHttpClient test calls: values of every type, errors, internal functions.
import { query, mutation, action, internalQuery } from "./_generated/server";
import { api } from "./_generated/api";
import { v, ConvexError } from "convex/values";

export const echo = query({ args: { value: v.any() }, handler: async (_ctx, { value }) => value });
export const echoMutation = mutation({ args: { value: v.any() }, handler: async (_ctx, { value }) => value });
export const typed = query({ args: { n: v.int64(), b: v.bytes() }, handler: async (_c, { n, b }) => ({ n: n + 1n, size: b.byteLength }) });
export const fail = mutation({ args: {}, handler: async () => { throw new ConvexError({ reason: "nope", n: 42n }); } });
export const crash = query({ args: {}, handler: async () => { console.log("about to crash"); throw new Error("kaboom"); } });
export const secret = internalQuery({ args: {}, handler: async () => "internal only" });
export const viaAction = action({ args: { value: v.any() }, handler: async (ctx, { value }) => ctx.runQuery(api.client.echo, { value }) });
