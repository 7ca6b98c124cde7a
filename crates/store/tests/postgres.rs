//! The conformance suite on PostgreSQL, each test in a schema of its own. Needs
//! `BERTH_TEST_DATABASE_URL` (`.ci/run` sets it when PostgreSQL runs on 127.0.0.1:5432); without
//! it every test here prints that it is skipped and passes.

mod conformance;

use berth_store::{Store, postgres::PgStore};
use sqlx::postgres::PgConnectOptions;
use std::sync::Arc;

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[allow(clippy::unwrap_used)]
async fn make_store() -> Option<Arc<dyn Store>> {
    let Ok(url) = std::env::var("BERTH_TEST_DATABASE_URL") else {
        // Written to stderr directly (not `eprintln!`), so the test harness does not swallow it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL conformance test (PostgreSQL not configured: set BERTH_TEST_DATABASE_URL, as .ci/run does)"
        );
        return None;
    };
    let schema = format!(
        "berth_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let base: PgConnectOptions = url.parse().unwrap();
    let admin = sqlx::PgPool::connect_with(base.clone()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    let options = base.options([("search_path", schema.as_str())]);
    Some(Arc::new(PgStore::open_with(options).await.unwrap()))
}

conformance_tests!(make_store);

/// A URL for another database, or one where nothing listens, is refused with what to do; the
/// password never appears in the message. Needs no PostgreSQL.
#[tokio::test]
async fn bad_database_urls_say_what_to_fix() {
    let Err(e) = PgStore::open("mysql://root:s3cret@localhost/app").await else {
        panic!("a mysql:// URL was accepted");
    };
    let m = e.to_string();
    assert!(m.contains("must start with postgres://"), "{m}");
    assert!(!m.contains("s3cret"), "{m}");

    let Err(e) = PgStore::open("postgres://nobody:s3cret@127.0.0.1:1/none").await else {
        panic!("a URL where nothing listens was accepted");
    };
    let m = e.to_string();
    assert!(m.contains("127.0.0.1:1"), "{m}");
    assert!(!m.contains("s3cret"), "{m}");
}

/// Log lines appended by many writers at once reach a follower reading by cursor, every one of
/// them: commits happen in `seq` order per deployment, so no line lands behind a cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::unwrap_used)]
async fn a_log_follower_sees_every_line_of_concurrent_writers() {
    let Some(s) = make_store().await else { return };
    s.bootstrap(&conformance::bootstrap_input()).await.unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    let project = s
        .project_by_slug(team.id, "default")
        .await
        .unwrap()
        .unwrap();
    let d = s
        .create_deployment(&berth_store::NewDeployment {
            name: "log-follow-101".into(),
            project_id: project.id,
            team_id: team.id,
            deployment_type: berth_model::DeploymentType::Dev,
            reference: "dev/logs".into(),
            region: "us".into(),
            creator: "admin".into(),
            creator_user_id: Some(1),
            is_default: false,
            expires_at: None,
            preview_identifier: None,
            overrides: Default::default(),
            now: 100,
            limit: None,
        })
        .await
        .unwrap();
    let (writers, each) = (8, 40);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (s, name, done) = (s.clone(), d.name.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let line = berth_store::LogRecord {
                    seq: 0,
                    time: 1,
                    level: "LOG".into(),
                    function: "f".into(),
                    request_id: format!("{w}-{i}"),
                    text: "x".repeat(200),
                };
                s.append_logs(&name, &[line], 100_000).await.unwrap();
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let finished = done.load(std::sync::atomic::Ordering::SeqCst) == writers;
        for l in s.read_logs(&d.name, Some(cursor), 1000).await.unwrap() {
            cursor = cursor.max(l.seq);
            seen.insert(l.request_id);
        }
        if finished {
            break;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(seen.len(), writers * each, "the follower missed lines");
}
