//! Function benchmark: starts the real `berth serve` (release build) on a temporary data
//! directory, pushes a tiny app, and compares, in the same run and the same way:
//! - a trivial query over HTTP against a bare axum JSON handler (throughput, p50, p99 at 1, 16
//!   and 64 concurrent keep-alive connections);
//! - an insert mutation over HTTP against a raw SQLite single-row transaction with the same
//!   durability (WAL, synchronous=NORMAL);
//! - the first call on an idle deployment (its code not loaded yet).
//!
//! It runs on the embedded default, then on PostgreSQL (`BERTH_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, a fresh schema made with `psql`), where the mutation
//! baseline is the same transaction through sqlx on PostgreSQL.
//!
//! Run with `cargo bench -p berth --bench functions`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const ping = query({ args: {}, handler: async () => 1 });
export const insert = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => ctx.db.insert("items", { n }) });
"#;

const RUN: Duration = Duration::from_secs(3);

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// Sends `body` to `url` from `conc` keep-alive connections for `RUN`; returns rate and latency.
async fn load(url: String, body: String, conc: usize, headers: Vec<(String, String)>) -> Figures {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conc {
        let (url, body, headers) = (url.clone(), body.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut n = 0u64;
            while started.elapsed() < RUN {
                let t = Instant::now();
                let mut req = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.replace("$I", &format!("{i}{n}")));
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                let resp = req.send().await.unwrap();
                assert!(resp.status().is_success());
                let bytes = resp.bytes().await.unwrap();
                assert!(
                    !bytes.windows(7).any(|w| w == b"\"error\""),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
                lat.push(t.elapsed());
                n += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    Figures {
        rate: all.len() as f64 / secs,
        p50: pct(&mut all, 0.5),
        p99: pct(&mut all, 0.99),
    }
}

async fn raw_sqlite(dir: &std::path::Path, conc: usize) -> Figures {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let opts = SqliteConnectOptions::new()
        .filename(dir.join(format!("raw-{conc}.sqlite3")))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(conc as u32)
        .connect_with(opts)
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, n REAL, value TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    writers(conc, move |i, n| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("INSERT INTO items (id, n, value) VALUES (?, ?, ?)")
                .bind(format!("{i}-{n}"))
                .bind(n as f64)
                .bind(r#"{"n":1}"#)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

/// Runs `write(writer, n)` in a loop on `conc` tasks for `RUN`, timing each call.
async fn writers<F, Fut>(conc: usize, write: F) -> Figures
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conc {
        let write = write.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while started.elapsed() < RUN {
                let t = Instant::now();
                write(i, n).await;
                lat.push(t.elapsed());
                n += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    Figures {
        rate: all.len() as f64 / secs,
        p50: pct(&mut all, 0.5),
        p99: pct(&mut all, 0.99),
    }
}

/// The same transaction through rusqlite on one thread: no async hand-offs at all.
fn raw_rusqlite(dir: &std::path::Path) -> Figures {
    let c = rusqlite::Connection::open(dir.join("raw-rusqlite.sqlite3")).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE items (id TEXT PRIMARY KEY, n REAL, value TEXT);")
        .unwrap();
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut n = 0u64;
    while started.elapsed() < RUN {
        let t = Instant::now();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        c.prepare_cached("INSERT INTO items (id, n, value) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute(rusqlite::params![n.to_string(), n as f64, r#"{"n":1}"#])
            .unwrap();
        c.execute_batch("COMMIT").unwrap();
        lat.push(t.elapsed());
        n += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    Figures {
        rate: lat.len() as f64 / secs,
        p50: pct(&mut lat, 0.5),
        p99: pct(&mut lat, 0.99),
    }
}

/// The PostgreSQL baseline: the same single-row transaction through sqlx on a pool.
async fn raw_postgres(db: &str, conc: usize) -> Figures {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(conc as u32)
        .connect(db)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS raw_items (id TEXT PRIMARY KEY, n DOUBLE PRECISION, value TEXT)",
    )
    .execute(&pool)
    .await
    .unwrap();
    writers(conc, move |i, n| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO raw_items (id, n, value) VALUES ($1, $2, $3)")
                .bind(format!("{conc}-{i}-{n}"))
                .bind(n as f64)
                .bind(r#"{"n":1}"#)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let mut rows: Vec<(String, String)> = Vec::new();
    run("sqlite", None, &mut rows).await;
    match support::Scratch::new("berth_functions") {
        Some(pg) => run("postgres", Some(&pg.url), &mut rows).await,
        None => rows.push(("postgres".into(), "skipped: no PostgreSQL reachable at BERTH_TEST_DATABASE_URL (or no psql); start one or point the variable at one".into())),
    }
    println!(
        "\nberth function benchmark (release build, HTTP keep-alive from this process, {RUN:?} per row)\n"
    );
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in &rows {
        println!("{k:<width$}  {v}");
    }
}

/// Starts a server on `db` (None: the embedded default) and measures it beside its baselines.
async fn run(label: &str, db: Option<&str>, rows: &mut Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), db, &[]);
    let (url, token) = (server.url.clone(), server.token.clone());
    let http = reqwest::Client::new();
    let auth = format!("Bearer {token}");

    let create = |reference: String| {
        let (http, url, auth) = (http.clone(), url.clone(), auth.clone());
        async move {
            let d: serde_json::Value = http
                .post(format!("{url}/v1/projects/1/create_deployment"))
                .header("authorization", &auth)
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
                .header("authorization", &auth)
                .json(&serde_json::json!({"modules": [{"path": "bench.ts", "source": APP}]}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
            name
        }
    };
    let name = create("dev/bench".into()).await;

    // A bare axum JSON handler, in this process.
    let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_url = format!("http://{}/api/query", bare.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/api/query",
        axum::routing::post(|axum::Json(_): axum::Json<serde_json::Value>| async {
            axum::Json(serde_json::json!({"status": "success", "value": 1.0}))
        }),
    );
    tokio::spawn(async move { axum::serve(bare, app).await.unwrap() });

    let query_body =
        r#"{"path":"bench:ping","args":{},"format":"convex_encoded_json"}"#.to_string();
    let mutation_body =
        r#"{"path":"bench:insert","args":{"n":1},"format":"convex_encoded_json"}"#.to_string();
    rows.push((format!("{label}:"), String::new()));
    let fmt = |f: &Figures| {
        format!(
            "{:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
            f.rate, f.p50, f.p99
        )
    };

    // Warm the deployment.
    load(
        format!("{url}/d/{name}/api/query"),
        query_body.clone(),
        1,
        vec![],
    )
    .await;
    for conc in [1, 16, 64] {
        let b = load(bare_url.clone(), query_body.clone(), conc, vec![]).await;
        let q = load(
            format!("{url}/d/{name}/api/query"),
            query_body.clone(),
            conc,
            vec![],
        )
        .await;
        rows.push((format!("bare axum JSON handler, {conc} conn"), fmt(&b)));
        rows.push((
            format!("trivial query, {conc} conn"),
            format!("{}  ({:.0}% of bare)", fmt(&q), 100.0 * q.rate / b.rate),
        ));
    }
    for conc in [1, 16, 64] {
        // The async baseline: sqlx from tokio tasks, as an async Rust server would write it,
        // on the store this server uses.
        let (raw_label, raw) = match db {
            None => ("raw SQLite", raw_sqlite(dir.path(), conc).await),
            Some(db) => ("raw PostgreSQL", raw_postgres(db, conc).await),
        };
        let m = load(
            format!("{url}/d/{name}/api/mutation"),
            mutation_body.clone(),
            conc,
            vec![],
        )
        .await;
        rows.push((
            format!("{raw_label} 1-row transaction, {conc} writer(s)"),
            fmt(&raw),
        ));
        rows.push((
            format!("insert mutation, {conc} conn"),
            format!("{}  ({:.0}% of raw)", fmt(&m), 100.0 * m.rate / raw.rate),
        ));
    }

    if db.is_none() {
        let direct = raw_rusqlite(dir.path());
        rows.push((
            "raw SQLite 1-row transaction, rusqlite, same thread".into(),
            fmt(&direct),
        ));
    }

    // First call on idle deployments (code pushed, never called on this server).
    let mut names = Vec::new();
    for i in 0..20 {
        names.push(create(format!("dev/cold{i}")).await);
    }
    let mut cold = Vec::new();
    for n in &names {
        let t = Instant::now();
        let r = http
            .post(format!("{url}/d/{n}/api/query"))
            .header("content-type", "application/json")
            .body(query_body.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        cold.push(t.elapsed());
    }
    rows.push((
        "first call on an idle deployment (20 deployments)".into(),
        format!(
            "p50 {:.2} ms  max {:.2} ms",
            pct(&mut cold, 0.5),
            pct(&mut cold, 1.0)
        ),
    ));

    drop(server);
}
