//! The platform benchmark (issue "Benchmarks"): starts its own `berth serve` (release build) on a
//! temporary data directory, on the embedded SQLite store and, when PostgreSQL is reachable
//! (`BERTH_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`, and `psql`), on
//! PostgreSQL, and prints one table. Run with `cargo bench -p berth --bench platform`.
//!
//! Query and mutation throughput against their baselines are measured by the `functions`
//! benchmark; this one measures creation, the preview cycle, density and cost growth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

const PING: &str =
    "import { query } from './_generated/server';\nexport const ping = query(async () => 1);\n";
const SEED: &str = "import { internalMutation } from './_generated/server';\nexport const thousand = internalMutation(async (ctx) => { for (let i = 0; i < 1000; i++) { await ctx.db.insert('messages', { author: 'seed', body: `message ${i}` }); } return 1000; });\n";

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

struct Bench {
    http: reqwest::Client,
    s: support::Server,
    created: usize,
}

impl Bench {
    async fn create(&mut self, reference: &str, expiration: Option<&str>) -> (String, Duration) {
        let mut body = serde_json::json!({"type": "dev", "reference": reference});
        if let Some(e) = expiration {
            body["expiration"] = e.into();
        }
        let t = Instant::now();
        let r = self
            .http
            .post(format!("{}/v1/projects/1/create_deployment", self.s.url))
            .bearer_auth(&self.s.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let v: serde_json::Value = r.json().await.unwrap();
        self.created += 1;
        (v["name"].as_str().unwrap().to_string(), t.elapsed())
    }

    async fn fill_to(&mut self, n: usize) {
        while self.created < n {
            let i = self.created;
            self.create(&format!("dev/fill-{i}"), None).await;
        }
    }

    async fn push(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/d/{name}/api/push", self.s.url))
            .bearer_auth(&self.s.token)
            .json(&serde_json::json!({"modules": [{"path": "bench.ts", "source": PING}]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn call(&self, name: &str) -> Duration {
        let t = Instant::now();
        let r = self
            .http
            .post(format!("{}/d/{name}/api/query", self.s.url))
            .header("content-type", "application/json")
            .body(r#"{"path":"bench:ping","args":{}}"#)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        t.elapsed()
    }

    async fn list_page(&self) -> Duration {
        let t = Instant::now();
        let r = self
            .http
            .get(format!(
                "{}/v1/projects/1/list_deployments?limit=100",
                self.s.url
            ))
            .bearer_auth(&self.s.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        t.elapsed()
    }

    /// create, list and call latency (p50) at the current size.
    async fn growth(&mut self, probe: &str) -> (f64, f64, f64) {
        let mut c = Vec::new();
        for i in 0..100 {
            let n = self.created;
            c.push(self.create(&format!("dev/growth-{n}-{i}"), None).await.1);
        }
        let mut l = Vec::new();
        for _ in 0..100 {
            l.push(self.list_page().await);
        }
        let mut q = Vec::new();
        for _ in 0..300 {
            q.push(self.call(probe).await);
        }
        (pct(&mut c, 0.5), pct(&mut l, 0.5), pct(&mut q, 0.5))
    }
}

async fn preview_cycle(s: &support::Server) -> f64 {
    let http = reqwest::Client::new();
    let key: serde_json::Value = http
        .post(format!("{}/v1/projects/1/create_preview_deploy_key", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checkout = s.dir.join("checkout");
    std::fs::create_dir_all(checkout.join("convex")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/messages/convex/messages.ts");
    std::fs::copy(example, checkout.join("convex/messages.ts")).unwrap();
    std::fs::write(checkout.join("convex/seed.ts"), SEED).unwrap();
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "deploy",
            "--preview-create",
            "bench-branch",
            "--preview-run",
            "seed:thousand",
        ])
        .current_dir(&checkout)
        .env("BERTH_HOME", s.dir.join("ci-home"))
        .env(
            "CONVEX_DEPLOY_KEY",
            key["previewDeployKey"].as_str().unwrap(),
        )
        .env("BERTH_URL", &s.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64() * 1000.0
}

async fn reaper_round(b: &mut Bench) -> (f64, u64) {
    for i in 0..100 {
        b.create(&format!("dev/expiring-{i}"), Some("in 2 seconds"))
            .await;
    }
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let metrics = b
            .http
            .get(format!("{}/metrics", b.s.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let get = |k: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let deleted: u64 = get("berth_reaper_last_round_deleted ").parse().unwrap_or(0);
        if deleted > 0 {
            return (
                get("berth_reaper_last_round_seconds ")
                    .parse::<f64>()
                    .unwrap_or(0.0)
                    * 1000.0,
                deleted,
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the reaper did not run"
        );
    }
}

async fn run(label: &str, db: Option<&str>, rows: &mut Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let s = support::start(
        dir.path(),
        db,
        &["--min-expiration", "1s", "--reap-interval", "3s"],
    );
    let pid = s.child.id();
    let mut b = Bench {
        http: reqwest::Client::new(),
        s,
        created: 0,
    };
    let mut push = |k: String, v: String| rows.push((format!("{label}: {k}"), v));

    let base_rss = rss_kib(pid);
    push(
        "server memory, empty".into(),
        format!("{:.1} MiB", base_rss as f64 / 1024.0),
    );
    // Creation at the start.
    let mut lat = Vec::new();
    let t = Instant::now();
    let mut names = Vec::new();
    for i in 0..1000 {
        let (name, d) = b.create(&format!("dev/c{i}"), None).await;
        lat.push(d);
        names.push(name);
    }
    let rate = 1000.0 / t.elapsed().as_secs_f64();
    push(
        "create dev deployment (1,000)".into(),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, {rate:.0}/s",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        ),
    );

    // Cost growth and density.
    let probe = names[0].clone();
    b.push(&probe).await;
    b.call(&probe).await;
    let mut growth = Vec::new();
    for n in [10usize, 1_000, 10_000] {
        b.fill_to(n).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss = rss_kib(pid);
        let g = b.growth(&probe).await;
        growth.push((n, rss, g));
    }
    for (n, rss, (c, l, q)) in &growth {
        push(
            format!("at {n} deployments: create / list page / call p50"),
            format!("{c:.2} / {l:.2} / {q:.2} ms"),
        );
        push(
            format!("at {n} deployments: server memory"),
            format!("{:.1} MiB", *rss as f64 / 1024.0),
        );
    }
    let (_, rss_10, _) = growth[0];
    let (_, rss_10k, _) = growth[2];
    push(
        "memory per idle deployment (10 → 10,000)".into(),
        format!(
            "{:.1} KiB",
            (rss_10k as f64 - rss_10 as f64) / (10_000.0 - 10.0)
        ),
    );
    // 1,000 deployments each called once.
    let before = rss_kib(pid);
    for name in names.iter().take(1000) {
        b.push(name).await;
        b.call(name).await;
    }
    let after = rss_kib(pid);
    push(
        "1,000 deployments each called once: server memory".into(),
        format!(
            "{:.1} MiB (+{:.1} KiB per called deployment)",
            after as f64 / 1024.0,
            (after as f64 - before as f64) / 1000.0
        ),
    );
    // Reaper and preview cycle.
    let (ms, deleted) = reaper_round(&mut b).await;
    push(
        format!(
            "reaper round at {} deployments, {deleted} expired",
            b.created
        ),
        format!("{ms:.1} ms"),
    );
    let cycle = preview_cycle(&b.s).await;
    push(
        "preview cycle (--preview-create, push, seed 1,000 docs)".into(),
        format!("{cycle:.0} ms"),
    );
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();
    run("sqlite", None, &mut rows).await;
    match support::Scratch::new("berth_platform") {
        Some(pg) => run("postgres", Some(&pg.url), &mut rows).await,
        None => rows.push(("postgres".into(), "skipped: no PostgreSQL reachable at BERTH_TEST_DATABASE_URL (or no psql); start one or point the variable at one".into())),
    }
    println!(
        "\nberth platform benchmark (release build, one server, HTTP from this process, sequential requests)\n"
    );
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in &rows {
        println!("{k:<width$}  {v}");
    }
}
