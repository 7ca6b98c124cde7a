//! Stored indexes (docs/PERFORMANCE.md): on the release server and the embedded store,
//! - an index equality lookup taking 10, at 10, 10,000, 100,000 and 1,000,000 documents (p50
//!   and p99 from one connection, and the p50 the server measured, from `Server-Timing`), beside
//!   a query that reads nothing, measured in the same run;
//! - paging through the whole table by an index in pages of 1,000, at each size;
//! - building (backfilling) one new index at push, at each size, with single-insert mutations
//!   running beside it (how many landed, and the slowest);
//! - the rate of single-insert mutations into a table with three indexes, beside the same table
//!   with none.
//!
//! Run with `cargo bench -p berth --bench indexes` (a few minutes: it writes 1M documents).
//! `BERTH_BENCH_MAX_DOCS=100000` stops at a smaller size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const seed = mutation({
  args: { from: v.number(), count: v.number() },
  handler: async (ctx, { from, count }) => {
    for (let i = from; i < from + count; i++) {
      await ctx.db.insert("items", { tag: `t${i % 1000}`, n: i, day: i % 365, owner: `o${i % 97}` });
    }
  },
});
export const add = mutation({
  args: { i: v.number() },
  handler: (ctx, { i }) => ctx.db.insert("items", { tag: `t${i % 1000}`, n: i, day: i % 365, owner: `o${i % 97}` }),
});
export const byTag = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => (await ctx.db.query("items").withIndex("by_tag", (q) => q.eq("tag", tag)).take(10)).length,
});
export const nothing = query({ args: {}, handler: async () => 0 });
export const note = mutation({ args: {}, handler: (ctx) => ctx.db.insert("notes", { at: 1 }) });
export const page = query({
  args: { cursor: v.union(v.string(), v.null()) },
  handler: async (ctx, { cursor }) => {
    const r = await ctx.db.query("items").withIndex("by_n").paginate({ numItems: 1000, cursor });
    return { n: r.page.length, isDone: r.isDone, cursor: r.continueCursor };
  },
});
"#;

/// The schema: `indexes` of by_tag, by_n, by_day_owner (in that order) on `items`.
fn schema(indexes: usize) -> String {
    let all = [
        r#".index("by_tag", ["tag"])"#,
        r#".index("by_n", ["n"])"#,
        r#".index("by_day_owner", ["day", "owner"])"#,
    ];
    format!(
        r#"import {{ defineSchema, defineTable }} from "convex/server";
import {{ v }} from "convex/values";
export default defineSchema({{ items: defineTable({{ tag: v.string(), n: v.number(), day: v.number(), owner: v.string() }}){}, notes: defineTable({{ at: v.number() }}) }});
"#,
        all[..indexes].concat()
    )
}

#[derive(Clone)]
struct Bench {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Bench {
    async fn deployment(&self, reference: &str) -> String {
        support::dev_deployment(&self.http, &self.url, &self.token, reference).await
    }

    /// Pushes the app with `indexes` indexes; returns how long the push took.
    async fn push(&self, name: &str, indexes: usize) -> Duration {
        let started = Instant::now();
        let r = self
            .http
            .post(format!("{}/d/{name}/api/push", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"modules": [
                {"path": "items.ts", "source": APP},
                {"path": "schema.ts", "source": schema(indexes)},
            ]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        started.elapsed()
    }

    async fn call(&self, name: &str, kind: &str, path: &str, args: Value) -> Value {
        let r: Value = self
            .http
            .post(format!("{}/d/{name}/api/{kind}", self.url))
            .json(&json!({"path": path, "args": args}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "success", "{r}");
        r["value"].clone()
    }

    /// p50 and p99 (ms) of `n` sequential calls as the client saw them, and the p50 of the
    /// time the server says it spent (`Server-Timing`).
    async fn latency(&self, name: &str, path: &str, args: Value, n: usize) -> (f64, f64, f64) {
        let (mut lat, mut server) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let t = Instant::now();
            let r = self
                .http
                .post(format!("{}/d/{name}/api/query", self.url))
                .json(&json!({"path": path, "args": args}))
                .send()
                .await
                .unwrap();
            let timing = r.headers()["server-timing"].to_str().unwrap().to_string();
            let body: Value = r.json().await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(body["status"], "success", "{body}");
            let dur = timing.split("dur=").nth(1).unwrap();
            server.push(dur.parse::<f64>().unwrap());
        }
        lat.sort_by(f64::total_cmp);
        server.sort_by(f64::total_cmp);
        (lat[n / 2], lat[(n * 99) / 100], server[n / 2])
    }

    /// Single-insert mutations (into another table) one after another until `stop`: how many
    /// landed and the slowest (ms).
    async fn insert_until(
        &self,
        name: &str,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> (u64, f64) {
        let (mut n, mut slowest) = (0u64, 0f64);
        while !*stop.borrow() {
            let t = Instant::now();
            self.call(name, "mutation", "items:note", json!({})).await;
            slowest = slowest.max(t.elapsed().as_secs_f64() * 1000.0);
            n += 1;
        }
        (n, slowest)
    }
}

#[tokio::main]
async fn main() {
    let max: usize = std::env::var("BERTH_BENCH_MAX_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), None, &[]);
    let b = Bench {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        token: server.token.clone(),
    };
    let mut lines = Vec::new();
    let name = b.deployment("dev/indexes").await;
    b.push(&name, 2).await;
    let mut seeded = 0usize;
    for size in [10usize, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|s| *s <= max)
    {
        let t = Instant::now();
        while seeded < size {
            let count = (size - seeded).min(1000);
            b.call(
                &name,
                "mutation",
                "items:seed",
                json!({"from": seeded, "count": count}),
            )
            .await;
            seeded += count;
        }
        let fill = t.elapsed();
        let (base50, base99, base_server) = b.latency(&name, "items:nothing", json!({}), 500).await;
        let (p50, p99, server50) = b
            .latency(&name, "items:byTag", json!({"tag": "t7"}), 500)
            .await;
        // Page through the whole table by `by_n`.
        let t = Instant::now();
        let (mut cursor, mut read) = (Value::Null, 0u64);
        loop {
            let r = b
                .call(&name, "query", "items:page", json!({"cursor": cursor}))
                .await;
            read += r["n"].as_u64().unwrap();
            if r["isDone"] == true {
                break;
            }
            cursor = r["cursor"].clone();
        }
        assert_eq!(read as usize, size);
        let paged = t.elapsed();
        // Build a third index over what is there, with inserts going on beside the push.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (writer, writer_name) = (b.clone(), name.clone());
        let inserts = tokio::spawn(async move { writer.insert_until(&writer_name, stopped).await });
        let built = b.push(&name, 3).await;
        stop.send(true).unwrap();
        let (landed, slowest) = inserts.await.unwrap();
        b.push(&name, 2).await;
        lines.push(format!(
            "{size:>9} docs   lookup take(10): p50 {p50:>5.2} ms  p99 {p99:>5.2} ms  server p50 {server50:.2} ms   (query reading nothing: p50 {base50:.2} ms  p99 {base99:.2} ms  server p50 {base_server:.2} ms)\n\
             {:>14}paging all in 1,000s: {:>7.2} s ({:.1} µs/doc)   building one index: {:>6.2} s, {landed} inserts beside it, slowest {slowest:.0} ms   (seeding took {:.1} s)",
            "",
            paged.as_secs_f64(),
            paged.as_secs_f64() * 1e6 / size as f64,
            built.as_secs_f64(),
            fill.as_secs_f64(),
        ));
    }

    // Single-insert mutations from 4 connections for 5 s: three indexes against none.
    let mut rates = Vec::new();
    for indexes in [0, 3] {
        let name = b.deployment(&format!("dev/inserts-{indexes}")).await;
        b.push(&name, indexes).await;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..4 {
            let (http, url, name) = (b.http.clone(), b.url.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < Duration::from_secs(5) {
                    let r = http
                        .post(format!("{url}/d/{name}/api/mutation"))
                        .json(&json!({"path": "items:add", "args": {"i": c * 1_000_000 + n}}))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                    n += 1;
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        rates.push(total as f64 / started.elapsed().as_secs_f64());
    }
    drop(server);

    println!(
        "\nberth stored-index benchmark (release build, embedded store, {} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for l in lines {
        println!("{l}");
    }
    println!(
        "\ninsert mutations, 4 connections, 5 s: {:.0}/s with no index, {:.0}/s with three ({:.0}%; target at least 70%)",
        rates[0],
        rates[1],
        rates[1] / rates[0] * 100.0
    );
}
