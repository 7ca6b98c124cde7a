import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  notes: defineTable({ channel: v.string(), text: v.string() }).index("by_channel", ["channel"]),
});
