//! What the benchmarks share: a scratch PostgreSQL schema, dropped when the benchmark ends.

use std::process::{Command, Stdio};

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
