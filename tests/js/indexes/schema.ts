// An app that finds its documents through a compound index, as Convex apps do.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  events: defineTable({ channel: v.string(), at: v.number(), seq: v.number() }).index("by_channel_at", [
    "channel",
    "at",
  ]),
});
