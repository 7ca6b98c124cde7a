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

/// A store on a fresh directory with the first team and project, and `n` dev deployments.
#[allow(clippy::unwrap_used)]
async fn with_deployments(
    dir: &std::path::Path,
    n: usize,
) -> (SqliteStore, Vec<berth_store::DeploymentRecord>) {
    let _ = std::fs::remove_dir_all(dir);
    let s = SqliteStore::open(dir).await.unwrap();
    s.bootstrap(&conformance::bootstrap_input()).await.unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    let project = s
        .project_by_slug(team.id, "default")
        .await
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            s.create_deployment(&berth_store::NewDeployment {
                name: format!("test-deployment-{i}"),
                project_id: project.id,
                team_id: team.id,
                deployment_type: berth_model::DeploymentType::Dev,
                reference: format!("dev/d{i}"),
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
            .unwrap(),
        );
    }
    (s, out)
}

fn data_files(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("deployments"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Opening the data of an id without a row creates nothing, and the open-data cache is bounded:
/// descriptors do not grow with the number of deployments touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::unwrap_used)]
async fn data_is_opened_only_for_deployments_with_a_row_and_stays_bounded() {
    let dir = std::env::temp_dir().join(format!("berth-store-open-{}", std::process::id()));
    let (s, deployments) = with_deployments(&dir, berth_store::sqlite::OPEN_DATA + 100).await;
    let before = data_files(&dir);
    for id in [0, -1, 999_999] {
        assert!(s.deployment_docs(id).await.is_err());
    }
    assert_eq!(data_files(&dir), before, "no file for an id without a row");
    let fds = open_fds();
    for d in &deployments {
        let docs = s.deployment_docs(d.id).await.unwrap();
        tokio::task::spawn_blocking(move || docs.begin(false).unwrap().tables().unwrap())
            .await
            .unwrap();
    }
    let grown = open_fds().saturating_sub(fds);
    // Each open deployment holds one idle connection: its file, WAL and shared memory.
    assert!(
        grown <= berth_store::sqlite::OPEN_DATA * 3 + 16,
        "{grown} descriptors for {} deployments",
        deployments.len()
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reset waits for the target's open transactions, switches it to the copy in one step, and
/// removes the replaced file; the target keeps its code, and a restart finds the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::unwrap_used)]
async fn a_reset_waits_for_open_transactions_and_switches_at_once() {
    use berth_store::docs::{Doc, ModuleRecord};
    let dir = std::env::temp_dir().join(format!("berth-store-reset-{}", std::process::id()));
    let (s, d) = with_deployments(&dir, 2).await;
    let s = Arc::new(s);
    let (from, to) = (d[0].clone(), d[1].clone());
    let source = s.deployment_docs(from.id).await.unwrap();
    let target = s.deployment_docs(to.id).await.unwrap();
    let module = ModuleRecord {
        path: "m.ts".into(),
        source: "s".into(),
        js: "j".into(),
        hash: "h".into(),
    };
    let (m, t2) = (module.clone(), target.clone());
    let reader = tokio::task::spawn_blocking(move || {
        let mut tx = source.begin(true).unwrap();
        tx.insert(&Doc {
            id: "doc1".into(),
            table: "things".into(),
            creation_time: 1.0,
            json: "{}".into(),
        })
        .unwrap();
        tx.commit().unwrap();
        t2.replace_code(&[m], "[]", &Default::default()).unwrap();
        // A read transaction on the target, held while the reset starts.
        let mut tx = t2.begin(false).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400));
        tx.get("doc1").unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    s.copy_deployment_data(from.id, to.id, false).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(200),
        "the reset waited for the open transaction"
    );
    assert_eq!(
        reader.await.unwrap(),
        None,
        "the held transaction saw the old data"
    );
    let check = |docs: Arc<dyn berth_store::docs::DocStore>| {
        tokio::task::spawn_blocking(move || {
            let found = docs.begin(false).unwrap().get("doc1").unwrap().is_some();
            (found, docs.modules().unwrap(), docs.code_meta().unwrap())
        })
    };
    let (found, modules, meta) = check(target.clone()).await.unwrap();
    assert!(found, "the target has the copy");
    assert_eq!(modules, vec![module.clone()], "and keeps its code");
    assert_eq!(meta.as_deref(), Some("[]"));
    assert_eq!(
        data_files(&dir)
            .iter()
            .filter(|f| f.ends_with(".sqlite3"))
            .cloned()
            .collect::<Vec<_>>(),
        ["test-deployment-0.sqlite3", "test-deployment-1.1.sqlite3"],
        "the replaced file is gone"
    );
    drop((target, s));
    // A leftover of a crash between writing a copy and switching to it is swept at start.
    std::fs::write(
        dir.join("deployments/test-deployment-1.2.sqlite3.copy"),
        b"x",
    )
    .unwrap();
    let s = SqliteStore::open(&dir).await.unwrap();
    let (found, modules, _) = check(s.deployment_docs(to.id).await.unwrap())
        .await
        .unwrap();
    assert!(
        found && modules == vec![module],
        "a restart finds the copy and the code"
    );
    assert!(
        !dir.join("deployments/test-deployment-1.2.sqlite3.copy")
            .exists()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
