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
