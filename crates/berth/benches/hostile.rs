//! Noisy neighbours: how a well-behaved deployment's latency changes while another deployment on
//! the same server runs hostile functions (infinite loops, memory bombs, deep recursion) as fast
//! as its callers can send them. Prints the neighbour's p50 and p99 idle and under attack, and
//! their ratio (the target is at most 2x), for spinning loops alone, for a mix of loops,
//! memory bombs and runaway recursion, and for anonymous `/api/run` callers of a deployment whose
//! modules take 6 s to load (their top level spins).
//!
//! Run with `cargo bench -p berth --bench hostile` (release build, embedded store).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const GOOD: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const ping = query({ args: {}, handler: async () => 1 });
export const add = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => ctx.db.insert("items", { n }) });
"#;

const BAD: &str = r#"
import { query, mutation } from "./_generated/server";
export const loop = query({ args: {}, handler: async () => { for (;;) {} } });
export const bomb = mutation({ args: {}, handler: async () => { const a: string[] = []; for (;;) a.push("x".repeat(1 << 20) + a.length); } });
export const recurse = query({ args: {}, handler: async () => { const f = (n: number): number => f(n + 1) + 1; return f(0); } });
"#;

/// A module whose top level spins for 6 s before it exports anything.
const SLOW: &str = r#"
import { query } from "./_generated/server";
const until = Date.now() + 6000;
while (Date.now() < until) {}
export const answer = query({ args: {}, handler: async () => 42 });
"#;

const RUN: Duration = Duration::from_secs(5);
const NEIGHBOUR_CONNECTIONS: usize = 4;
const ATTACKERS: usize = 12;

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// The neighbour's calls for `RUN` from a few keep-alive connections: (p50, p99, calls/s).
async fn neighbour(url: &str, name: &str) -> (f64, f64, f64) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..NEIGHBOUR_CONNECTIONS {
        let url = format!(
            "{url}/d/{name}/api/{}",
            if c % 2 == 0 { "query" } else { "mutation" }
        );
        let body = if c % 2 == 0 {
            r#"{"path":"good:ping","args":{}}"#
        } else {
            r#"{"path":"good:add","args":{"n":1}}"#
        };
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::new();
            while started.elapsed() < RUN {
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let text = r.text().await.unwrap();
                assert!(text.contains("\"success\""), "the neighbour failed: {text}");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (pct(&mut all, 0.5), pct(&mut all, 0.99), rate)
}

/// Runs `ATTACKERS` callers of the hostile `paths` (on threads of their own, so their traffic
/// does not share this process's runtime with the neighbour's) while measuring the neighbour.
async fn attack(
    url: &str,
    bad: &str,
    good: &str,
    paths: &'static [(&'static str, &'static str)],
) -> ((f64, f64, f64), u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| {
            let (url, bad, stop, refused) = (
                url.to_string(),
                bad.to_string(),
                stop.clone(),
                refused.clone(),
            );
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let http = reqwest::Client::new();
                    let (kind, path) = paths[i % paths.len()];
                    while !stop.load(Ordering::Relaxed) {
                        // `run`: the curl-shaped route, function named in the URL.
                        let (to, body) = if kind == "run" {
                            (format!("{url}/d/{bad}/api/run/{path}"), "{}".to_string())
                        } else {
                            (
                                format!("{url}/d/{bad}/api/{kind}"),
                                format!(r#"{{"path":"{path}","args":{{}}}}"#),
                            )
                        };
                        let r = http
                            .post(to)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        if let Ok(r) = r
                            && r.text().await.unwrap_or_default().contains("\"error\"")
                        {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let measured = neighbour(url, good).await;
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.join();
    }
    (measured, refused.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), None, &[]);
    let (url, token) = (server.url.clone(), server.token.clone());
    let http = reqwest::Client::new();
    let mut names = Vec::new();
    for (reference, path, source) in [
        ("dev/good", "good.ts", GOOD),
        ("dev/bad", "bad.ts", BAD),
        ("dev/slow", "slow.ts", SLOW),
    ] {
        let d: serde_json::Value = http
            .post(format!("{url}/v1/projects/1/create_deployment"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"type": "dev", "reference": reference}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let name = d["name"].as_str().unwrap().to_string();
        let r = http
            .post(format!("{url}/d/{name}/api/push"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"modules": [{"path": path, "source": source}]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        names.push(name);
    }
    let (good, bad, slow) = (names[0].clone(), names[1].clone(), names[2].clone());

    neighbour(&url, &good).await; // warm up
    let idle = neighbour(&url, &good).await;

    let loops = attack(&url, &bad, &good, &[("query", "bad:loop")]).await;
    let mixed = attack(
        &url,
        &bad,
        &good,
        &[
            ("query", "bad:loop"),
            ("mutation", "bad:bomb"),
            ("query", "bad:recurse"),
        ],
    )
    .await;
    let loading = attack(&url, &slow, &good, &[("run", "slow/answer")]).await;
    let after = neighbour(&url, &good).await;
    drop(server);

    println!(
        "\nberth noisy-neighbour benchmark (release build, {} cores, {RUN:?} per row)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("neighbour ({NEIGHBOUR_CONNECTIONS} connections: ping queries and insert mutations)");
    let row = |label: &str, f: (f64, f64, f64)| {
        println!(
            "  {label:<34} {:>7.0} calls/s  p50 {:>7.2} ms  p99 {:>8.2} ms",
            f.2, f.0, f.1
        );
    };
    row("idle", idle);
    for (label, (f, refused)) in [
        ("infinite loops", loops),
        ("loops, memory bombs, recursion", mixed),
        ("a deployment loading for 6 s", loading),
    ] {
        row(&format!("while {ATTACKERS} callers run {label}"), f);
        println!(
            "    vs idle: p50 {:.2}x, p99 {:.2}x (target: at most 2x); {refused} hostile calls stopped",
            f.0 / idle.0,
            f.1 / idle.1
        );
    }
    row("after the attacks", after);
}
