//! Many servers on PostgreSQL: function-call throughput through one berth server, then through
//! two servers on the same database, in the same run, the same way (64 keep-alive connections,
//! spread evenly over the servers). Needs PostgreSQL: `BERTH_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, and `psql`. Run with
//! `cargo bench -p berth --bench cluster`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const ping = query({ args: {}, handler: async () => 1 });
export const insert = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => ctx.db.insert("items", { n }) });
"#;
const RUN: Duration = Duration::from_secs(4);

fn serve(db: &str, dir: &std::path::Path, name: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join(name))
        .args(["--database-url", db])
        .env("BERTH_HOME", dir.join(format!("{name}-home")))
        .env("BERTH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        line.trim()
            .strip_prefix("berth listening on ")
            .unwrap()
            .to_string(),
    )
}

async fn load(urls: &[String], body: &str, conc: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conc {
        let url = urls[i % urls.len()].clone();
        let body = body.to_string();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0u64;
            while started.elapsed() < RUN {
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let Some(pg) = support::Scratch::new("berth_bench") else {
        eprintln!(
            "SKIPPED: the cluster benchmark needs PostgreSQL (BERTH_TEST_DATABASE_URL) and psql"
        );
        return;
    };
    let db = pg.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, url_a) = serve(&db, dir.path(), "a");
    let token = std::fs::read_to_string(dir.path().join("a/admin-token"))
        .unwrap()
        .trim()
        .to_string();
    let http = reqwest::Client::new();
    let d: serde_json::Value = http
        .post(format!("{url_a}/v1/projects/1/create_deployment"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"type": "dev", "reference": "dev/bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = d["name"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{url_a}/d/{name}/api/push"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"modules": [{"path": "bench.ts", "source": APP}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let query = r#"{"path":"bench:ping","args":{}}"#;
    let mutation = r#"{"path":"bench:insert","args":{"n":1}}"#;
    let q = |u: &str| format!("{u}/d/{name}/api/query");
    let m = |u: &str| format!("{u}/d/{name}/api/mutation");
    load(&[q(&url_a)], query, 8).await; // warm up
    let one_q = load(&[q(&url_a)], query, 64).await;
    let one_m = load(&[m(&url_a)], mutation, 64).await;
    let (mut b, url_b) = serve(&db, dir.path(), "b");
    load(&[q(&url_b)], query, 8).await;
    let two_q = load(&[q(&url_a), q(&url_b)], query, 64).await;
    let two_m = load(&[m(&url_a), m(&url_b)], mutation, 64).await;
    for c in [&mut a, &mut b] {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    drop(pg);
    println!(
        "\nberth on PostgreSQL, one vs two servers on one database (64 keep-alive connections, {RUN:?} per row, same machine)\n"
    );
    println!("{:<34}{:>10.0}/s", "trivial query, one server", one_q);
    println!(
        "{:<34}{:>10.0}/s  ({:.2}x)",
        "trivial query, two servers",
        two_q,
        two_q / one_q
    );
    println!("{:<34}{:>10.0}/s", "insert mutation, one server", one_m);
    println!(
        "{:<34}{:>10.0}/s  ({:.2}x)",
        "insert mutation, two servers",
        two_m,
        two_m / one_m
    );
}
