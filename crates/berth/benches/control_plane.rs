//! Control-plane benchmark: starts the real `berth serve` (release build) on a temporary data
//! directory and prints a table of figures. Run with `cargo bench -p berth --bench control_plane`.
//!
//! Measured over HTTP on one keep-alive connection, one request at a time, from this process:
//! - creating a dev deployment (`POST /v1/projects/{id}/create_deployment`): p50, p99, and
//!   creations per second over 1,000 creations;
//! - the same at 10,000 deployments already in the team;
//! - listing one page of a project's deployments with 10 and with ~11,000 in it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

struct Figures(Vec<Duration>);

impl Figures {
    fn pct(&mut self, p: f64) -> f64 {
        self.0.sort();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i].as_secs_f64() * 1000.0
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), None, &[]);
    let (url, token) = (server.url.clone(), server.token.clone());
    let http = reqwest::Client::new();

    let project = |slug: &'static str| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let p: serde_json::Value = http
                .post(format!("{url}/v1/teams/default/create_project"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"projectName": slug}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            p["id"].as_i64().unwrap()
        }
    };
    let create = |project: i64, reference: String| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let started = Instant::now();
            let resp = http
                .post(format!("{url}/v1/projects/{project}/create_deployment"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"type": "dev", "reference": reference}))
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
            resp.bytes().await.unwrap();
            started.elapsed()
        }
    };
    let list_page = |project: i64, limit: u32| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let started = Instant::now();
            let resp = http
                .get(format!(
                    "{url}/v1/projects/{project}/list_deployments?limit={limit}"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
            resp.bytes().await.unwrap();
            started.elapsed()
        }
    };

    let small = project("small").await;
    let big = project("big").await;
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. 1,000 creations on an almost empty server.
    for i in 0..10 {
        create(small, format!("dev/s{i}")).await;
    }
    let started = Instant::now();
    let mut f = Figures(Vec::new());
    for i in 0..1000 {
        f.0.push(create(big, format!("dev/a{i}")).await);
    }
    let rate = 1000.0 / started.elapsed().as_secs_f64();
    rows.push((
        "create dev deployment (1,000, first 1,000 in team)".into(),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, {rate:.0}/s",
            f.pct(0.5),
            f.pct(0.99)
        ),
    ));

    // 2. Fill to 10,000 and measure creation again.
    for i in 1000..9990 {
        create(big, format!("dev/a{i}")).await;
    }
    let started = Instant::now();
    let mut f = Figures(Vec::new());
    for i in 0..1000 {
        f.0.push(create(big, format!("dev/b{i}")).await);
    }
    let rate = 1000.0 / started.elapsed().as_secs_f64();
    rows.push((
        "create dev deployment (1,000, at 10,000 in team)".into(),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, {rate:.0}/s",
            f.pct(0.5),
            f.pct(0.99)
        ),
    ));

    // 3. Listing one page at 10 and at ~11,000 deployments in the project: the same page size
    //    (10) so that only the project's size differs, then a full page of 100.
    for (label, project, limit) in [("10", small, 10), ("10,990", big, 10), ("10,990", big, 100)] {
        let mut f = Figures(Vec::new());
        for _ in 0..300 {
            f.0.push(list_page(project, limit).await);
        }
        rows.push((
            format!("list one page ({limit}) of a project with {label} deployments"),
            format!("p50 {:.2} ms, p99 {:.2} ms", f.pct(0.5), f.pct(0.99)),
        ));
    }

    drop(server);

    println!(
        "\nberth control-plane benchmark (release build, embedded SQLite, one keep-alive HTTP connection, sequential requests)\n"
    );
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in &rows {
        println!("{k:<width$}  {v}");
    }
}
