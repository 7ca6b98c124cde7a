//! The conformance suite on the embedded SQLite backend.

mod conformance;

use berth_store::{Store, sqlite::SqliteStore};
use std::sync::Arc;

async fn make_store() -> Option<Arc<dyn Store>> {
    let dir = std::env::temp_dir().join(format!(
        "berth-store-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    #[allow(clippy::unwrap_used)]
    let store = SqliteStore::open(&dir).await.unwrap();
    Some(Arc::new(store))
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

conformance_tests!(make_store);

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = std::env::temp_dir().join(format!("berth-store-reopen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    #[allow(clippy::unwrap_used)]
    {
        let s = SqliteStore::open(&dir).await.unwrap();
        assert!(s.bootstrap(&conformance::bootstrap_input()).await.unwrap());
        drop(s);
        let s = SqliteStore::open(&dir).await.unwrap();
        assert!(!s.bootstrap(&conformance::bootstrap_input()).await.unwrap());
        assert!(s.user_by_name("admin").await.unwrap().is_some());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
