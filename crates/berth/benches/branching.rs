//! Data branching: how long `deployment create --copy-data-from` takes for a small deployment
//! and for one holding about 100 MB of documents, on the embedded store (a file-level snapshot)
//! and on PostgreSQL (one INSERT ... SELECT transaction).
//!
//! Run with `cargo bench -p berth --bench branching` (release build).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

const APP: &str = r#"
import { mutation } from "./_generated/server";
import { v } from "convex/values";
export const fill = mutation({ args: { n: v.number(), size: v.number(), batch: v.number() }, handler: async (ctx, { n, size, batch }) => {
  const body = "x".repeat(size);
  for (let i = 0; i < n; i++) await ctx.db.insert("blobs", { batch, i, body });
} });
"#;

/// 100 batches of 250 documents of about 4 KB each: about 100 MB of documents.
const BATCHES: usize = 100;
const PER_BATCH: usize = 250;
const DOC_BYTES: usize = 4000;

async fn run(label: &str, db: Option<&str>, rows: &mut Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), db, &[]);
    let (url, token) = (server.url.clone(), server.token.clone());
    let http = reqwest::Client::new();
    let create = |reference: &str, copy: Option<&str>| {
        let mut body = serde_json::json!({"type": "dev", "reference": reference});
        if let Some(c) = copy {
            body["copyDataFrom"] = serde_json::json!(c);
        }
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let started = Instant::now();
            let r = http
                .post(format!("{url}/v1/projects/1/create_deployment"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
            let d: serde_json::Value = r.json().await.unwrap();
            (d["name"].as_str().unwrap().to_string(), started.elapsed())
        }
    };
    let fill = |name: String, batches: usize, per: usize| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let r = http
                .post(format!("{url}/d/{name}/api/push"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"modules": [{"path": "fill.ts", "source": APP}]}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            for b in 0..batches {
                let r: serde_json::Value = http
                    .post(format!("{url}/d/{name}/api/mutation"))
                    .json(&serde_json::json!({"path": "fill:fill", "args": {"n": per, "size": DOC_BYTES, "batch": b}}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(r["status"], "success", "{r}");
            }
        }
    };
    let (small, _) = create("dev/small", None).await;
    fill(small.clone(), 1, 10).await;
    let (_, small_copy) = create("dev/small-copy", Some(&small)).await;
    let (big, _) = create("dev/big", None).await;
    let started = Instant::now();
    fill(big.clone(), BATCHES, PER_BATCH).await;
    let filled = started.elapsed();
    let file_mb = std::fs::metadata(dir.path().join(format!("data/deployments/{big}.sqlite3")))
        .map(|m| format!(", source file {:.0} MB", m.len() as f64 / 1e6))
        .unwrap_or_default();
    let (_, big_copy) = create("dev/big-copy", Some(&big)).await;
    rows.push(format!(
        "{label:<9} copy of 10 documents: {:>8.1} ms   copy of {} documents (~{} MB{file_mb}): {:>8.1} ms   (filling it took {:.1} s)",
        small_copy.as_secs_f64() * 1000.0,
        BATCHES * PER_BATCH,
        BATCHES * PER_BATCH * DOC_BYTES / 1_000_000,
        big_copy.as_secs_f64() * 1000.0,
        filled.as_secs_f64()
    ));
    drop(server);
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();
    run("sqlite", None, &mut rows).await;
    match support::Scratch::new("berth_branching") {
        Some(pg) => run("postgres", Some(&pg.url), &mut rows).await,
        None => rows
            .push("postgres  skipped: no PostgreSQL reachable at BERTH_TEST_DATABASE_URL".into()),
    }
    println!(
        "\nberth data-branching benchmark (release build; create_deployment with copyDataFrom, end to end over HTTP)\n"
    );
    for r in rows {
        println!("{r}");
    }
}
