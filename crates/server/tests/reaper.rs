//! The reaper on virtual time: a manual clock decides what has expired, a channel decides when
//! the reaper runs. No sleeping.

use berth_api::CreateDeploymentRequest;
use berth_control::{Control, ControlConfig, Principal};
use berth_model::{Plan, time::ManualClock};
use std::sync::Arc;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn reaper_deletes_exactly_what_has_expired_on_each_tick() {
    let dir = tempfile::tempdir().unwrap();
    let store = berth_store::open(dir.path(), None).await.unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    let control = Arc::new(Control::new(
        store.clone(),
        Arc::new(clock.clone()),
        ControlConfig {
            default_plan: Plan::Business,
            regions: vec!["us".into()],
            public_url: "http://berth.test".into(),
            min_expiration_ms: 60_000,
            max_expiration_ms: 365 * 24 * HOUR,
            log_retention: 1000,
        },
    ));
    control.bootstrap(dir.path()).await.unwrap();
    let admin = Principal::Member(store.user_by_name("admin").await.unwrap().unwrap());
    let create = |reference: &str, expiration: Option<&str>| CreateDeploymentRequest {
        deployment_type: "dev".into(),
        reference: Some(reference.into()),
        expiration: expiration.map(str::to_string),
        ..Default::default()
    };
    let soon = control
        .create_deployment(&admin, 1, create("dev/soon", Some("in 1 hour")))
        .await
        .unwrap();
    let later = control
        .create_deployment(&admin, 1, create("dev/later", Some("in 3 hours")))
        .await
        .unwrap();
    let never = control
        .create_deployment(&admin, 1, create("dev/never", None))
        .await
        .unwrap();

    let exists = |name: String| {
        let store = store.clone();
        async move { store.deployment_by_name(&name).await.unwrap().is_some() }
    };
    // Runs the reaper loop for exactly `n` ticks and returns once it has handled them all.
    let ticks = |n: usize| {
        let control = control.clone();
        async move {
            let (tick, ticks) = tokio::sync::mpsc::channel(n.max(1));
            for _ in 0..n {
                tick.send(()).await.unwrap();
            }
            drop(tick);
            berth_server::reaper::run_on(control, ticks).await;
        }
    };

    // Before anything expires, a tick deletes nothing.
    ticks(2).await;
    assert!(exists(soon.name.clone()).await);

    // Past the first expiration: it stops serving at once, then the next tick deletes it.
    clock.advance(HOUR + 1);
    let refused = control
        .get_deployment(&admin, &soon.name, false)
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code, refused.kind.http_status()),
        ("DeploymentExpired", 410)
    );
    ticks(1).await;
    assert!(
        !exists(soon.name.clone()).await,
        "expired deployment reaped"
    );
    assert!(
        exists(later.name.clone()).await,
        "unexpired deployment kept"
    );
    assert!(exists(never.name.clone()).await);

    let log = control
        .audit_log(&admin, "default", Default::default())
        .await
        .unwrap();
    let reaped: Vec<_> = log
        .items
        .iter()
        .filter(|e| e.action == "reap_deployment")
        .collect();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].target, soon.name);
    assert_eq!(reaped[0].actor, "reaper");

    // A direct round after the second expiration takes the other one.
    clock.advance(2 * HOUR);
    assert_eq!(control.reap_expired().await.unwrap(), 1);
    assert!(!exists(later.name).await);
}
