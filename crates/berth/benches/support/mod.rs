//! What the benchmarks share: a release `berth serve` on a scratch directory, and a scratch
//! PostgreSQL schema, dropped when the benchmark ends.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// A running `berth serve` (stopped with SIGTERM when dropped).
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The first admin's access token (empty when this server did not bootstrap one).
    pub token: String,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Starts the benchmarked binary on `dir/data` (home `dir/home`), on `db` when given (else the
/// embedded store), with `extra` flags; returns once it listens.
pub fn start(dir: &Path, db: Option<&str>, extra: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .env("BERTH_HOME", dir.join("home"))
        .env("BERTH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(db) = db {
        cmd.args(["--database-url", db]);
    }
    let mut child = cmd.spawn().expect("start berth serve");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .trim()
        .strip_prefix("berth listening on ")
        .unwrap_or_else(|| panic!("berth serve did not start: {line:?}"))
        .to_string();
    let token = std::fs::read_to_string(dir.join("data/admin-token"))
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    Server {
        child,
        url,
        token,
        dir: dir.to_path_buf(),
    }
}

/// A fresh schema in the database named by `BERTH_TEST_DATABASE_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`), made and dropped with `psql`.
pub struct Scratch {
    base: String,
    schema: String,
    /// A URL whose connections see only this schema.
    pub url: String,
}

impl Scratch {
    /// None when no PostgreSQL (or no `psql`) is reachable.
    pub fn new(prefix: &str) -> Option<Scratch> {
        let base = std::env::var("BERTH_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("{prefix}_{}", std::process::id());
        let made = psql(
            &base,
            &format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
            ),
        );
        if !made {
            return None;
        }
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(Scratch { base, schema, url })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        psql(
            &self.base,
            &format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {} CASCADE;",
                self.schema
            ),
        );
    }
}

fn psql(url: &str, sql: &str) -> bool {
    Command::new("psql")
        .arg(url)
        .args(["-qc", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Creates a dev deployment of project 1 with `reference`; its name.
pub async fn dev_deployment(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    reference: &str,
) -> String {
    let d: serde_json::Value = http
        .post(format!("{url}/v1/projects/1/create_deployment"))
        .bearer_auth(token)
        .json(&serde_json::json!({"type": "dev", "reference": reference}))
        .send()
        .await
        .expect("create a deployment")
        .json()
        .await
        .expect("its answer");
    d["name"].as_str().expect("a name").to_string()
}
