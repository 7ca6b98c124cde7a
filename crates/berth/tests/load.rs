//! Sustained load: 200 concurrent clients for 60 s over 50 deployments (queries and mutations),
//! with no error, and the server's memory (resident set) growing by at most 10% from the end of
//! the warm-up to the end of the run.
//!
//! Long: it runs only when `BERTH_LONG_TESTS=1` (`.ci/run` sets it) and otherwise prints that it
//! is skipped. `BERTH_LOAD_SECONDS` shortens or lengthens the run.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const add = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => ctx.db.insert("items", { n }) });
export const recent = query({ args: {}, handler: async (ctx) => (await ctx.db.query("items").order("desc").take(10)).length });
"#;

const CLIENTS: usize = 200;
const DEPLOYMENTS: usize = 50;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_hundred_clients_for_a_minute_over_fifty_deployments() {
    if std::env::var("BERTH_LONG_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED: the 60 s load test (set BERTH_LONG_TESTS=1 to run it, as .ci/run does)"
        );
        return;
    }
    let seconds: u64 = std::env::var("BERTH_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let s = TestServer::start(&[]);
    let pid = s.child.as_ref().unwrap().id();
    let token = s.admin_token();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let names: Vec<String> = rt.block_on(async {
        let mut names = Vec::new();
        for i in 0..DEPLOYMENTS {
            let d: serde_json::Value = http
                .post(format!("{}/v1/projects/1/create_deployment", s.url))
                .bearer_auth(&token)
                .json(
                    &serde_json::json!({"type": "dev", "reference": format!("dev/admin/load{i}")}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let name = d["name"].as_str().unwrap().to_string();
            let r = http
                .post(format!("{}/d/{name}/api/push", s.url))
                .bearer_auth(&token)
                .json(&serde_json::json!({"modules": [{"path": "load.ts", "source": APP}]}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            names.push(name);
        }
        names
    });

    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let warmup = Duration::from_secs((seconds / 6).max(2));
    let run = Duration::from_secs(seconds);
    let (rss_after_warmup, rss_end, first_error) = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (http, url, name) = (http.clone(), s.url.clone(), names[c % DEPLOYMENTS].clone());
            let (calls, errors) = (calls.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut first_error = None;
                let mut i = 0u64;
                while started.elapsed() < run {
                    let (kind, body) = if i.is_multiple_of(3) {
                        (
                            "mutation",
                            format!(r#"{{"path":"load:add","args":{{"n":{i}}}}}"#),
                        )
                    } else {
                        ("query", r#"{"path":"load:recent","args":{}}"#.to_string())
                    };
                    let r = http
                        .post(format!("{url}/d/{name}/api/{kind}"))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let ok = match r {
                        Ok(r) if r.status().is_success() => {
                            let text = r.text().await.unwrap_or_default();
                            let ok = text.contains("\"success\"");
                            if !ok && first_error.is_none() {
                                first_error = Some(text);
                            }
                            ok
                        }
                        Ok(r) => {
                            if first_error.is_none() {
                                first_error = Some(format!("HTTP {}", r.status()));
                            }
                            false
                        }
                        Err(e) => {
                            if first_error.is_none() {
                                first_error = Some(e.to_string());
                            }
                            false
                        }
                    };
                    calls.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
                first_error
            }));
        }
        tokio::time::sleep(warmup).await;
        let after_warmup = rss_kib(pid);
        let mut first_error = None;
        for t in tasks {
            if let Some(e) = t.await.unwrap() {
                first_error.get_or_insert(e);
            }
        }
        (after_warmup, rss_kib(pid), first_error)
    });
    let total = calls.load(Ordering::Relaxed);
    let failed = errors.load(Ordering::Relaxed);
    let growth = (rss_end as f64 - rss_after_warmup as f64) / rss_after_warmup as f64 * 100.0;
    eprintln!(
        "load: {CLIENTS} clients, {DEPLOYMENTS} deployments, {seconds} s: {total} calls ({:.0}/s), {failed} errors; RSS {} MiB after warm-up, {} MiB at the end ({growth:+.1}%)",
        total as f64 / started.elapsed().as_secs_f64(),
        rss_after_warmup / 1024,
        rss_end / 1024,
    );
    assert_eq!(
        failed, 0,
        "calls failed under load; the first: {first_error:?}"
    );
    assert!(total > 1000, "the load ran: {total} calls");
    assert!(
        growth <= 10.0,
        "memory grew by {growth:.1}% under steady load ({rss_after_warmup} KiB -> {rss_end} KiB)"
    );
}
