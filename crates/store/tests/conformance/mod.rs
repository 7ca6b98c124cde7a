//! The storage conformance suite: every behaviour of the `Store` trait, written once. Each
//! backend's test file instantiates it with `conformance_tests!(make_store)`, where `make_store`
//! is an async fn returning a fresh, empty store.

#![allow(clippy::unwrap_used, dead_code)]

use berth_model::{DeploymentType, deployment::SettingOverrides};
use berth_model::{Plan, Role};
use berth_store::{
    AddMember, Bootstrap, DeploymentFilter, NewAuditEvent, NewDeployment, NewTeam, Store,
    StoreError,
};

pub fn bootstrap_input() -> Bootstrap {
    Bootstrap {
        admin_username: "admin".into(),
        admin_token_hash: "h-admin".into(),
        team_slug: "default".into(),
        project_slug: "default".into(),
        plan: Plan::Business,
        now: 1_000,
    }
}

pub async fn bootstrap_runs_once(s: &dyn Store) {
    assert!(s.bootstrap(&bootstrap_input()).await.unwrap());
    let mut again = bootstrap_input();
    again.admin_token_hash = "h-other".into();
    assert!(
        !s.bootstrap(&again).await.unwrap(),
        "second bootstrap must change nothing"
    );
    let (tok, user) = s.access_token_by_hash("h-admin").await.unwrap().unwrap();
    assert_eq!(user.username, "admin");
    assert!(user.server_admin);
    assert_eq!(tok.expires_at, None);
    assert!(s.access_token_by_hash("h-other").await.unwrap().is_none());
    let teams = s.list_teams(None).await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].slug, "default");
    assert_eq!(
        s.membership(teams[0].id, user.id).await.unwrap(),
        Some(Role::Admin)
    );
    let projects = s.list_projects(teams[0].id).await.unwrap();
    assert_eq!(
        projects.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>(),
        ["default"]
    );
}

pub async fn reset_tokens_replaces_the_named_token(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    assert!(
        s.reset_tokens("admin", "admin-token", "h-new", 2_000)
            .await
            .unwrap()
    );
    assert!(s.access_token_by_hash("h-admin").await.unwrap().is_none());
    assert!(s.access_token_by_hash("h-new").await.unwrap().is_some());
    assert!(
        !s.reset_tokens("nobody", "admin-token", "h-x", 2_000)
            .await
            .unwrap()
    );
}

pub async fn team_slugs_are_unique(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let admin = s.user_by_name("admin").await.unwrap().unwrap();
    let new = NewTeam {
        slug: "acme".into(),
        name: "Acme".into(),
        plan: Plan::Free,
        now: 5,
    };
    let t = s.create_team(&new, admin.id).await.unwrap();
    assert_eq!(t.plan, Plan::Free);
    assert_eq!(t.deployment_limit(), Some(40));
    assert_eq!(s.team_by_slug("acme").await.unwrap(), Some(t.clone()));
    assert_eq!(s.team_by_id(t.id).await.unwrap(), Some(t.clone()));
    assert!(matches!(
        s.create_team(&new, admin.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.list_teams(None).await.unwrap().len(), 2);
    let mut raised = t.clone();
    raised.plan = Plan::Professional;
    raised.deployment_limit_override = Some(1000);
    assert_eq!(
        (t.max_preview_age_ms, t.evict_previews, t.max_dev_per_member),
        (None, false, None),
        "no lifecycle rules until a team admin sets them"
    );
    raised.max_preview_age_ms = Some(7 * 86_400_000);
    raised.evict_previews = true;
    raised.max_dev_per_member = Some(3);
    s.update_team(&raised).await.unwrap();
    let read = s.team_by_id(t.id).await.unwrap().unwrap();
    assert_eq!(read.deployment_limit(), Some(1000));
    assert_eq!(read.plan, Plan::Professional);
    assert_eq!(read, raised, "every team setting round-trips");
    assert_eq!(
        s.membership(t.id, admin.id).await.unwrap(),
        Some(Role::Admin)
    );
}

fn add(team_id: i64, username: &str, role: Role, hash: &str) -> AddMember {
    AddMember {
        team_id,
        username: username.into(),
        role: Some(role),
        new_token_hash: hash.into(),
        project_admin_of: vec![],
        now: 10,
    }
}

pub async fn members_are_created_once_and_removed(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    let project = s
        .project_by_slug(team.id, "default")
        .await
        .unwrap()
        .unwrap();
    let mut a = add(team.id, "bob", Role::Member, "h-bob");
    a.project_admin_of = vec![project.id];
    let (m, created) = s.add_member(&a).await.unwrap();
    assert!(created);
    assert_eq!(m.role, Role::Member);
    assert_eq!(m.project_admin_of, vec!["default".to_string()]);
    assert!(s.is_project_admin(project.id, m.user_id).await.unwrap());
    // Adding again changes the role and keeps the first token.
    let (m2, created2) = s
        .add_member(&add(team.id, "bob", Role::Admin, "h-bob-2"))
        .await
        .unwrap();
    assert!(!created2);
    assert_eq!(m2.role, Role::Admin);
    // Without a role, an existing member keeps theirs.
    let mut keep = add(team.id, "bob", Role::Member, "h-x");
    keep.role = None;
    assert_eq!(s.add_member(&keep).await.unwrap().0.role, Role::Admin);
    assert!(s.access_token_by_hash("h-bob").await.unwrap().is_some());
    assert!(s.access_token_by_hash("h-bob-2").await.unwrap().is_none());
    let names: Vec<String> = s
        .list_members(team.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(names, ["admin", "bob"]);
    // A second team sees bob only once added there.
    let other = s
        .create_team(
            &NewTeam {
                slug: "other".into(),
                name: "o".into(),
                plan: Plan::Free,
                now: 1,
            },
            m.user_id,
        )
        .await
        .unwrap();
    assert_eq!(s.list_teams(Some(m.user_id)).await.unwrap().len(), 2);
    assert!(s.remove_member(team.id, m.user_id).await.unwrap());
    assert!(!s.remove_member(team.id, m.user_id).await.unwrap());
    assert!(!s.is_project_admin(project.id, m.user_id).await.unwrap());
    assert_eq!(s.membership(team.id, m.user_id).await.unwrap(), None);
    assert_eq!(
        s.membership(other.id, m.user_id).await.unwrap(),
        Some(Role::Admin)
    );
    let teams = s.list_teams(Some(m.user_id)).await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
        ["other"]
    );
}

pub async fn projects_are_unique_per_team_and_deleted(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let admin = s.user_by_name("admin").await.unwrap().unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    let other = s
        .create_team(
            &NewTeam {
                slug: "other".into(),
                name: "o".into(),
                plan: Plan::Free,
                now: 1,
            },
            admin.id,
        )
        .await
        .unwrap();
    let p = s.create_project(team.id, "web", "Web", 7).await.unwrap();
    assert_eq!(p.name, "Web");
    assert!(matches!(
        s.create_project(team.id, "web", "x", 8).await,
        Err(StoreError::Conflict(_))
    ));
    // The same slug in another team is fine.
    s.create_project(other.id, "web", "Web", 8).await.unwrap();
    assert_eq!(s.project_by_id(p.id).await.unwrap(), Some(p.clone()));
    assert!(s.delete_project(p.id).await.unwrap());
    assert!(!s.delete_project(p.id).await.unwrap());
    assert_eq!(s.project_by_slug(team.id, "web").await.unwrap(), None);
    // Ids are never reused.
    let q = s.create_project(team.id, "web", "Web", 9).await.unwrap();
    assert!(q.id > p.id);
}

pub async fn audit_pages_newest_first(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    for i in 0..5 {
        s.append_audit(&NewAuditEvent {
            team_id: Some(team.id),
            time: i,
            actor: "admin".into(),
            action: format!("a{i}"),
            target: "t".into(),
            details: "{}".into(),
        })
        .await
        .unwrap();
    }
    let first = s.list_audit(team.id, None, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a4", "a3", "a2"]
    );
    let rest = s.list_audit(team.id, Some(first[2].id), 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a1", "a0"]
    );
}

pub async fn token_use_is_recorded(s: &dyn Store) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let (tok, _) = s.access_token_by_hash("h-admin").await.unwrap().unwrap();
    s.touch_access_token(tok.id, 99).await.unwrap();
}

fn new_deployment(
    name: &str,
    reference: &str,
    ty: DeploymentType,
    team_id: i64,
    project_id: i64,
) -> NewDeployment {
    NewDeployment {
        name: name.into(),
        project_id,
        team_id,
        deployment_type: ty,
        reference: reference.into(),
        region: "us".into(),
        creator: "admin".into(),
        creator_user_id: Some(1),
        is_default: false,
        expires_at: None,
        preview_identifier: None,
        overrides: SettingOverrides::default(),
        now: 100,
        limit: None,
    }
}

async fn default_ids(s: &dyn Store) -> (i64, i64) {
    s.bootstrap(&bootstrap_input()).await.unwrap();
    let team = s.team_by_slug("default").await.unwrap().unwrap();
    let project = s
        .project_by_slug(team.id, "default")
        .await
        .unwrap()
        .unwrap();
    (team.id, project.id)
}

pub async fn deployments_round_trip(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let mut n = new_deployment("happy-otter-101", "Dev/James/X", DeploymentType::Dev, t, p);
    n.expires_at = Some(5_000);
    n.is_default = true;
    n.preview_identifier = None;
    n.overrides.send_logs_to_client = Some(false);
    let d = s.create_deployment(&n).await.unwrap();
    assert_eq!(d.name, "happy-otter-101");
    assert_eq!(d.reference, "Dev/James/X");
    assert!(d.is_default);
    assert_eq!(d.overrides.send_logs_to_client, Some(false));
    assert_eq!(d.overrides.editable_by, None);
    assert_eq!(
        s.deployment_by_name("happy-otter-101").await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(
        s.deployment_by_reference(p, "dev/james/x").await.unwrap(),
        Some(d.clone()),
        "case-insensitive"
    );
    assert_eq!(
        s.default_deployment(p, Some(1)).await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(s.default_deployment(p, None).await.unwrap(), None);
    let mut changed = d.clone();
    changed.reference = "dev/renamed".into();
    changed.expires_at = None;
    changed.overrides.editable_by = Some(berth_model::EditableBy::Admins);
    s.update_deployment(&changed).await.unwrap();
    assert_eq!(s.deployment_by_name(&d.name).await.unwrap(), Some(changed));
    assert_eq!(s.record_push(d.id, 777).await.unwrap(), 1);
    assert_eq!(s.record_push(d.id, 778).await.unwrap(), 2);
    let pushed = s.deployment_by_name(&d.name).await.unwrap().unwrap();
    assert_eq!(
        (pushed.last_deploy_time, pushed.code_version),
        (Some(778), 2)
    );
}

pub async fn deployment_conflicts_and_names_never_reused(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "brave-lion-100",
            "staging",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let same_ref = new_deployment("brave-lion-200", "STAGING", DeploymentType::Dev, t, p);
    assert!(
        matches!(s.create_deployment(&same_ref).await, Err(StoreError::Conflict(w)) if w == "reference")
    );
    let same_name = new_deployment("brave-lion-100", "other", DeploymentType::Dev, t, p);
    assert!(
        matches!(s.create_deployment(&same_name).await, Err(StoreError::Conflict(w)) if w == "name")
    );
    assert!(s.delete_deployment(d.id).await.unwrap());
    assert!(!s.delete_deployment(d.id).await.unwrap());
    // Deleted, the name stays used; the reference is free again.
    assert!(
        matches!(s.create_deployment(&same_name).await, Err(StoreError::Conflict(w)) if w == "name")
    );
    s.create_deployment(&new_deployment(
        "brave-lion-300",
        "staging",
        DeploymentType::Dev,
        t,
        p,
    ))
    .await
    .unwrap();
    // One default prod per project.
    let mut prod = new_deployment("brave-lion-400", "production", DeploymentType::Prod, t, p);
    prod.is_default = true;
    s.create_deployment(&prod).await.unwrap();
    let mut prod2 = new_deployment("brave-lion-500", "production-2", DeploymentType::Prod, t, p);
    prod2.is_default = true;
    assert!(
        matches!(s.create_deployment(&prod2).await, Err(StoreError::Conflict(w)) if w == "default")
    );
    // Renaming onto a taken reference conflicts.
    let mut other = s
        .create_deployment(&new_deployment(
            "brave-lion-600",
            "qa",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    other.reference = "Staging".into();
    assert!(matches!(
        s.update_deployment(&other).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn deployment_limit_counts_only_live_ones(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let mut a = new_deployment("calm-cat-100", "dev/a", DeploymentType::Dev, t, p);
    a.expires_at = Some(150);
    a.limit = Some(2);
    s.create_deployment(&a).await.unwrap();
    let mut b = new_deployment("calm-cat-101", "dev/b", DeploymentType::Dev, t, p);
    b.limit = Some(2);
    s.create_deployment(&b).await.unwrap();
    let mut c = new_deployment("calm-cat-102", "dev/c", DeploymentType::Dev, t, p);
    c.limit = Some(2);
    assert!(matches!(
        s.create_deployment(&c).await,
        Err(StoreError::LimitReached { limit: 2 })
    ));
    assert_eq!(s.count_live_deployments(t, 100).await.unwrap(), 2);
    // At 200, `a` has expired and no longer counts.
    c.now = 200;
    s.create_deployment(&c).await.unwrap();
    assert_eq!(s.count_live_deployments(t, 200).await.unwrap(), 2);
    let expired = s.expired_deployments(200, 10).await.unwrap();
    assert_eq!(
        expired.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["calm-cat-100"]
    );
}

pub async fn deployments_list_filters_and_pages(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    for i in 0..5 {
        let ty = if i % 2 == 0 {
            DeploymentType::Dev
        } else {
            DeploymentType::Preview
        };
        let mut n = new_deployment(
            &format!("eager-emu-{}", 100 + i),
            &format!("{ty}/b{i}"),
            ty,
            t,
            p,
        );
        if i == 4 {
            n.expires_at = Some(50);
        }
        s.create_deployment(&n).await.unwrap();
    }
    let all = s
        .list_deployments(p, &DeploymentFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let live = s
        .list_deployments(
            p,
            &DeploymentFilter {
                live_at: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(live.len(), 4);
    let previews = s
        .list_deployments(
            p,
            &DeploymentFilter {
                deployment_type: Some(DeploymentType::Preview),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(previews.len(), 2);
    let page1 = s
        .list_deployments(
            p,
            &DeploymentFilter {
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let page2 = s
        .list_deployments(
            p,
            &DeploymentFilter {
                limit: Some(2),
                after_id: Some(page1[1].id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page1.len() + page2.len(), 4);
    assert!(page2[0].id > page1[1].id);
    let found = s
        .list_deployments(
            p,
            &DeploymentFilter {
                reference_prefix: Some("PREVIEW/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    let none = s
        .list_deployments(
            p,
            &DeploymentFilter {
                reference_prefix: Some("%".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty(), "LIKE wildcards in the search are literal");
}

pub async fn deleting_a_project_deletes_its_deployments(s: &dyn Store) {
    let (t, _) = default_ids(s).await;
    let p = s.create_project(t, "web", "web", 1).await.unwrap();
    s.create_deployment(&new_deployment(
        "fine-fox-100",
        "staging",
        DeploymentType::Dev,
        t,
        p.id,
    ))
    .await
    .unwrap();
    assert!(s.delete_project(p.id).await.unwrap());
    assert_eq!(s.deployment_by_name("fine-fox-100").await.unwrap(), None);
    assert_eq!(s.count_live_deployments(t, 0).await.unwrap(), 0);
}

/// Instantiates every conformance test for one backend.
/// Two admins demoting each other at the same time: one change wins, the other is refused, and
/// the team keeps an admin. Removing the last admin is refused the same way.
pub async fn a_team_always_keeps_an_admin(s: &dyn Store) {
    let (t, _) = default_ids(s).await;
    let add = |username: &str, role: Role| AddMember {
        team_id: t,
        username: username.into(),
        role: Some(role),
        new_token_hash: format!("h-{username}"),
        project_admin_of: vec![],
        now: 2_000,
    };
    s.add_member(&add("bob", Role::Admin)).await.unwrap();
    let (demote_admin, demote_bob) = (add("admin", Role::Member), add("bob", Role::Member));
    let (a, b) = tokio::join!(s.add_member(&demote_admin), s.add_member(&demote_bob));
    let refused = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LastAdmin)))
        .count();
    assert_eq!(refused, 1, "{a:?} {b:?}");
    let admins: Vec<_> = s
        .list_members(t)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.role == Role::Admin)
        .collect();
    assert_eq!(admins.len(), 1);
    assert!(matches!(
        s.remove_member(t, admins[0].user_id).await,
        Err(StoreError::LastAdmin)
    ));
    assert_eq!(
        s.membership(t, admins[0].user_id).await.unwrap(),
        Some(Role::Admin),
        "a refused change changes nothing"
    );
}

/// A table created in a transaction that rolls back does not exist afterwards, and its number
/// goes to the next table created, whose ids then resolve to that table.
pub async fn table_numbers_do_not_survive_a_rollback(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "rolled-back-101",
            "dev/rb",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut tx = docs.begin(true).unwrap();
        let first = tx.table_number("first", true).unwrap().unwrap();
        assert_eq!(tx.table_number("first", true).unwrap(), Some(first));
        drop(tx);
        let mut tx = docs.begin(true).unwrap();
        assert_eq!(
            tx.table_number("first", false).unwrap(),
            None,
            "rolled back"
        );
        let second = tx.table_number("second", true).unwrap().unwrap();
        assert_eq!(tx.table_name(second).unwrap().as_deref(), Some("second"));
        tx.commit().unwrap();
        let mut tx = docs.begin(false).unwrap();
        assert_eq!(tx.table_number("first", false).unwrap(), None);
        assert_eq!(tx.table_number("second", false).unwrap(), Some(second));
        assert_eq!(tx.table_name(second).unwrap().as_deref(), Some("second"));
    })
    .await
    .unwrap();
}

/// A request's answer is kept with its transaction's writes, or not at all, and answers older
/// than a day are forgotten.
pub async fn request_answers_commit_with_their_writes(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "answers-102",
            "dev/answers",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let day = berth_store::docs::REQUEST_ANSWERS_KEPT;
        let mut tx = docs.begin(true).unwrap();
        tx.record_answer("s", 1, "\"lost\"", 1000.0).unwrap();
        drop(tx);
        let mut tx = docs.begin(true).unwrap();
        assert_eq!(tx.request_answer("s", 1).unwrap(), None, "rolled back");
        tx.record_answer("s", 1, "\"kept\"", 1000.0).unwrap();
        tx.commit().unwrap();
        let mut tx = docs.begin(true).unwrap();
        assert_eq!(
            tx.request_answer("s", 1).unwrap().as_deref(),
            Some("\"kept\"")
        );
        assert_eq!(tx.request_answer("s", 2).unwrap(), None);
        assert_eq!(tx.request_answer("other", 1).unwrap(), None);
        // A day later, the next answer recorded forgets it.
        tx.record_answer("s", 2, "2", 1001.0 + day).unwrap();
        tx.commit().unwrap();
        let mut tx = docs.begin(true).unwrap();
        assert_eq!(tx.request_answer("s", 1).unwrap(), None, "forgotten");
        assert_eq!(tx.request_answer("s", 2).unwrap().as_deref(), Some("2"));
    })
    .await
    .unwrap();
}

/// A deployment's data is reached through its row: an id without one is refused.
pub async fn data_of_a_missing_deployment_is_refused(s: &dyn Store) {
    default_ids(s).await;
    assert!(matches!(
        s.deployment_docs(987_654).await.map(|_| ()),
        Err(StoreError::NoDeployment(987_654))
    ));
}

fn thing(i: u32, tag: Option<&str>, n: f64) -> berth_store::docs::Doc {
    let id = format!("thing{i:05}");
    let mut v = serde_json::json!({"_id": id, "_creationTime": 1000.0 + f64::from(i), "n": n});
    if let Some(t) = tag {
        v["tag"] = serde_json::json!(t);
    }
    berth_store::docs::Doc {
        id,
        table: "things".into(),
        creation_time: 1000.0 + f64::from(i),
        json: v.to_string(),
    }
}

/// What a sort of the whole table gives for `tag == want` (or every document), by (tag, n,
/// creation time, id): the reference a range scan must match.
fn sorted_reference(docs: &[berth_store::docs::Doc], want: Option<&str>) -> Vec<String> {
    let mut rows: Vec<(berth_value::Value, &berth_store::docs::Doc)> = docs
        .iter()
        .map(|d| {
            let v = berth_value::decode(&serde_json::from_str(&d.json).unwrap()).unwrap();
            (v, d)
        })
        .filter(|(v, _)| {
            want.is_none_or(|w| v.get_path("tag") == Some(&berth_value::Value::String(w.into())))
        })
        .collect();
    rows.sort_by(|(a, da), (b, db)| {
        berth_value::compare(a.get_path("tag"), b.get_path("tag"))
            .then(berth_value::compare(a.get_path("n"), b.get_path("n")))
            .then(da.creation_time.total_cmp(&db.creation_time))
            .then(da.id.cmp(&db.id))
    });
    rows.into_iter().map(|(_, d)| d.id.clone()).collect()
}

/// Stored indexes: built at push from existing documents, kept through inserts, replaces,
/// deletes and rollbacks, read by range in both orders and in pages, dropped by a push.
pub async fn stored_indexes_answer_ranges_as_a_sort_would(s: &dyn Store) {
    use berth_store::docs::{IndexDef, Order};
    use berth_value::key;
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "indexed-101",
            "dev/ix",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let tags = ["b", "a", "c", "a\u{0}", ""];
        let mut all = Vec::new();
        let mut x: u32 = 7;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            x >> 8
        };
        // Half the documents exist before the index does: the push builds their entries.
        let mut tx = docs.begin(true).unwrap();
        for i in 0..300 {
            let r = next();
            let tag = (r % 6 != 5).then(|| tags[(r % 5) as usize]);
            let doc = thing(i, tag, f64::from(next() % 7));
            tx.insert(&doc).unwrap();
            all.push(doc);
        }
        tx.commit().unwrap();
        let by_tag = IndexDef {
            name: "things.by_tag".into(),
            table: "things".into(),
            fields: vec!["tag".into(), "n".into()],
        };
        let schema = berth_store::docs::SchemaDef {
            indexes: vec![by_tag],
            ..Default::default()
        };
        let changes = docs.replace_code(&[], "[]", &schema).unwrap();
        assert_eq!(changes.added.len(), 1);
        assert_eq!(changes.added[0].name, "things.by_tag");
        assert_eq!(docs.indexes().unwrap(), changes.added);
        let mut tx = docs.begin(true).unwrap();
        for i in 300..600 {
            let r = next();
            let tag = (r % 6 != 5).then(|| tags[(r % 5) as usize]);
            let doc = thing(i, tag, f64::from(next() % 7));
            tx.insert(&doc).unwrap();
            all.push(doc);
        }
        // Replaces move entries; deletes remove them.
        for i in (0..600).step_by(7) {
            let moved = thing(i as u32, Some("a"), 99.0);
            assert!(tx.replace(&moved.id, &moved.json).unwrap());
            all[i] = moved;
        }
        for i in (3..600).step_by(11) {
            assert!(tx.delete(&all[i].id).unwrap());
        }
        all.retain(|d| {
            let i: usize = d.id.trim_start_matches("thing").parse().unwrap();
            i < 3 || !(i - 3).is_multiple_of(11)
        });
        tx.commit().unwrap();
        // A rolled-back insert leaves no entry.
        let mut tx = docs.begin(true).unwrap();
        tx.insert(&thing(9999, Some("a"), 1.0)).unwrap();
        drop(tx);

        let mut tx = docs.begin(false).unwrap();
        assert!(tx.has_index("things.by_tag").unwrap());
        let ids = |rows: Vec<(Vec<u8>, berth_store::docs::Doc)>| -> Vec<String> {
            rows.into_iter().map(|(_, d)| d.id).collect()
        };
        for want in [None, Some("a"), Some("a\u{0}"), Some(""), Some("zz")] {
            let (lo, hi) = match want {
                None => (Vec::new(), vec![0xff]),
                Some(w) => {
                    let p = key::key([Some(&berth_value::Value::String(w.into()))]);
                    let end = key::prefix_end(&p);
                    (p, end)
                }
            };
            let expected = sorted_reference(&all, want);
            let got = ids(tx
                .index_scan("things.by_tag", &lo, &hi, Order::Asc, 10_000)
                .unwrap());
            assert_eq!(got, expected, "eq {want:?}");
            let mut down = ids(tx
                .index_scan("things.by_tag", &lo, &hi, Order::Desc, 10_000)
                .unwrap());
            down.reverse();
            assert_eq!(down, expected, "eq {want:?}, descending");
            // In pages of 17, continuing after the last key read.
            let mut paged = Vec::new();
            let mut from = lo.clone();
            loop {
                let page = tx
                    .index_scan("things.by_tag", &from, &hi, Order::Asc, 17)
                    .unwrap();
                let Some((last, _)) = page.last() else { break };
                from = key::successor(last);
                paged.extend(ids(page));
            }
            assert_eq!(paged, expected, "eq {want:?}, in pages");
        }
        // A range on the second field: tag == "a", 2 <= n < 5.
        let a = berth_value::Value::String("a".into());
        let lo = key::key([Some(&a), Some(&berth_value::Value::Float64(2.0))]);
        let hi = key::key([Some(&a), Some(&berth_value::Value::Float64(5.0))]);
        let got = ids(tx
            .index_scan("things.by_tag", &lo, &hi, Order::Asc, 10_000)
            .unwrap());
        let expected: Vec<String> = sorted_reference(&all, Some("a"))
            .into_iter()
            .filter(|id| {
                let d = all.iter().find(|d| &d.id == id).unwrap();
                let v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
                let n = v["n"].as_f64().unwrap();
                (2.0..5.0).contains(&n)
            })
            .collect();
        assert_eq!(got, expected);
        drop(tx);
        // A push without the index drops its entries.
        let changes = docs.replace_code(&[], "[]", &Default::default()).unwrap();
        assert_eq!(changes.removed.len(), 1);
        assert_eq!(changes.removed[0].name, "things.by_tag");
        assert!(docs.indexes().unwrap().is_empty());
        let mut tx = docs.begin(false).unwrap();
        assert!(!tx.has_index("things.by_tag").unwrap());
        assert!(
            tx.index_scan("things.by_tag", &[], &[0xff], Order::Asc, 10)
                .unwrap()
                .is_empty()
        );
    })
    .await
    .unwrap();
}

/// With schema validation, writes are checked against their table's document type, and a push
/// whose types the existing documents break is refused with nothing changed.
pub async fn writes_are_checked_against_the_schema(s: &dyn Store) {
    use berth_store::docs::SchemaDef;
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "typed-101",
            "dev/typed",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let number = serde_json::json!({"type": "object", "value": {
            "n": {"fieldType": {"type": "number"}, "optional": false}}});
        let typed = |validation| SchemaDef {
            validation,
            document_types: [("things".to_string(), number.clone())].into(),
            ..Default::default()
        };
        let mut tx = docs.begin(true).unwrap();
        let text = thing(1, None, 1.0);
        let mut stringy = thing(2, None, 0.0);
        stringy.json = stringy.json.replace("\"n\":0.0", "\"n\":\"zero\"");
        tx.insert(&text).unwrap();
        tx.insert(&stringy).unwrap();
        tx.commit().unwrap();
        // The push is refused, naming the document that does not fit; nothing changes.
        let refused = docs.replace_code(&[], "first", &typed(true));
        match refused {
            Err(StoreError::SchemaMismatch(m)) => {
                assert!(m.contains("thing00002") && m.contains("\"things\""), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(docs.code_meta().unwrap(), None);
        // Without validation it is taken; the bad document is fixed; then validation is on.
        docs.replace_code(&[], "second", &typed(false)).unwrap();
        let mut tx = docs.begin(true).unwrap();
        tx.insert(&thing(3, None, 2.0)).unwrap();
        assert!(tx.replace(&stringy.id, &thing(2, None, 2.0).json).unwrap());
        tx.commit().unwrap();
        docs.replace_code(&[], "third", &typed(true)).unwrap();
        let mut tx = docs.begin(true).unwrap();
        let mut bad = thing(4, None, 0.0);
        bad.json = bad.json.replace("\"n\":0.0", "\"n\":true");
        assert!(matches!(
            tx.insert(&bad),
            Err(StoreError::SchemaMismatch(_))
        ));
        match tx.replace(&text.id, &bad.json.replace("thing00004", "thing00001")) {
            Err(StoreError::SchemaMismatch(m)) => assert!(
                m.starts_with("Failed to insert or update a document in table \"things\""),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        tx.insert(&thing(5, None, 5.0)).unwrap();
        tx.commit().unwrap();
    })
    .await
    .unwrap();
}

/// Scans by creation time: bounds inclusive and exclusive, both orders, continuing after a
/// position, and limits.
pub async fn scans_honour_bounds_order_and_position(s: &dyn Store) {
    use berth_store::docs::Order;
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "scanned-101",
            "dev/scan",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut tx = docs.begin(true).unwrap();
        for i in 0..20 {
            tx.insert(&thing(i, None, 0.0)).unwrap();
        }
        tx.commit().unwrap();
        let mut tx = docs.begin(false).unwrap();
        let ids = |v: Vec<berth_store::docs::Doc>| -> Vec<u32> {
            v.iter()
                .map(|d| d.id.trim_start_matches("thing").parse().unwrap())
                .collect()
        };
        // Creation times are 1000 + i.
        let got = tx
            .scan(
                "things",
                Order::Asc,
                Some((1005.0, true)),
                Some((1008.0, false)),
                None,
                100,
            )
            .unwrap();
        assert_eq!(ids(got), [5, 6, 7]);
        let got = tx
            .scan(
                "things",
                Order::Desc,
                Some((1005.0, false)),
                Some((1008.0, true)),
                None,
                100,
            )
            .unwrap();
        assert_eq!(ids(got), [8, 7, 6]);
        let after = (1003.0, "thing00003".to_string());
        let got = tx
            .scan("things", Order::Asc, None, None, Some(&after), 4)
            .unwrap();
        assert_eq!(ids(got), [4, 5, 6, 7]);
        let got = tx
            .scan("things", Order::Desc, None, None, Some(&after), 10)
            .unwrap();
        assert_eq!(ids(got), [2, 1, 0]);
        assert!(
            tx.scan("other", Order::Asc, None, None, None, 10)
                .unwrap()
                .is_empty()
        );
    })
    .await
    .unwrap();
}

/// A read transaction sees one snapshot: a write committed after its first read is not seen.
/// Creation times only grow, even when the clock goes back.
pub async fn reads_see_one_snapshot_and_creation_times_grow(s: &dyn Store) {
    use berth_store::docs::Order;
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "snapshot-101",
            "dev/snap",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut w = docs.begin(true).unwrap();
        w.insert(&thing(1, None, 1.0)).unwrap();
        w.commit().unwrap();
        let mut r = docs.begin(false).unwrap();
        assert_eq!(
            r.scan("things", Order::Asc, None, None, None, 10)
                .unwrap()
                .len(),
            1
        );
        let mut w = docs.begin(true).unwrap();
        w.insert(&thing(2, None, 2.0)).unwrap();
        w.commit().unwrap();
        assert_eq!(
            r.scan("things", Order::Asc, None, None, None, 10)
                .unwrap()
                .len(),
            1,
            "the read transaction keeps its snapshot"
        );
        assert!(r.get("thing00002").unwrap().is_none());
        drop(r);
        let mut r = docs.begin(false).unwrap();
        assert_eq!(
            r.scan("things", Order::Asc, None, None, None, 10)
                .unwrap()
                .len(),
            2
        );
        drop(r);
        // The newest creation time is 1002; a clock behind it still gets a later one.
        let mut w = docs.begin(true).unwrap();
        let a = w.creation_time("things", 10.0).unwrap();
        assert!(a > 1002.0, "{a}");
        let mut x = thing(3, None, 3.0);
        x.creation_time = a;
        w.insert(&x).unwrap();
        let b = w.creation_time("things", 10.0).unwrap();
        assert!(b > a, "{b} > {a}");
        assert_eq!(w.creation_time("things", 5_000.0).unwrap(), 5_000.0);
        w.commit().unwrap();
    })
    .await
    .unwrap();
}

/// Writers on one deployment, on several threads at once: every write lands, each table gets one
/// number, and the tables' counts add up.
pub async fn concurrent_writers_all_land(s: &dyn Store) {
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "writers-101",
            "dev/writers",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    let mut threads = Vec::new();
    for w in 0..4u32 {
        let docs = docs.clone();
        threads.push(tokio::task::spawn_blocking(move || {
            for i in 0..25u32 {
                let mut tx = docs.begin(true).unwrap();
                let table = format!("t{}", i % 3);
                let n = tx.table_number(&table, true).unwrap().unwrap();
                let mut doc = thing(w * 1000 + i, None, 0.0);
                doc.table = table;
                tx.insert(&doc).unwrap();
                tx.commit().unwrap();
                assert!(n > 10_000, "{n}");
            }
        }));
    }
    for th in threads {
        th.await.unwrap();
    }
    tokio::task::spawn_blocking(move || {
        let mut tx = docs.begin(false).unwrap();
        let tables = tx.tables().unwrap();
        assert_eq!(tables.len(), 3, "{tables:?}");
        let numbers: std::collections::BTreeSet<u32> = tables.iter().map(|t| t.number).collect();
        assert_eq!(numbers.len(), 3, "one number per table: {tables:?}");
        assert_eq!(tables.iter().map(|t| t.documents).sum::<u64>(), 100);
        for t in &tables {
            assert_eq!(
                tx.table_name(t.number).unwrap().as_deref(),
                Some(t.name.as_str())
            );
        }
    })
    .await
    .unwrap();
}

/// A copy replaces the target's documents with the source's; the target keeps its code and (unless
/// asked) its variables; the source is unchanged.
pub async fn copies_replace_documents_and_keep_the_targets_code(s: &dyn Store) {
    use berth_store::docs::{ModuleRecord, Order};
    let (t, p) = default_ids(s).await;
    let from = s
        .create_deployment(&new_deployment(
            "source-101",
            "dev/src",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let to = s
        .create_deployment(&new_deployment(
            "target-101",
            "dev/dst",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let (a, b) = (
        s.deployment_docs(from.id).await.unwrap(),
        s.deployment_docs(to.id).await.unwrap(),
    );
    let module = ModuleRecord {
        path: "m.ts".into(),
        source: "s".into(),
        js: "j".into(),
        hash: "h".into(),
    };
    {
        let (a, b, module) = (a.clone(), b.clone(), module.clone());
        tokio::task::spawn_blocking(move || {
            let mut tx = a.begin(true).unwrap();
            tx.insert(&thing(1, None, 1.0)).unwrap();
            tx.insert(&thing(2, None, 2.0)).unwrap();
            tx.commit().unwrap();
            a.update_env(&[("WHO".into(), Some("source".into()))])
                .unwrap();
            let mut tx = b.begin(true).unwrap();
            tx.insert(&thing(9, None, 9.0)).unwrap();
            tx.commit().unwrap();
            b.replace_code(&[module], "[]", &Default::default())
                .unwrap();
            b.update_env(&[("WHO".into(), Some("target".into()))])
                .unwrap();
        })
        .await
        .unwrap();
    }
    s.copy_deployment_data(from.id, to.id, false).await.unwrap();
    let b = s.deployment_docs(to.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut tx = b.begin(false).unwrap();
        let ids: Vec<String> = tx
            .scan("things", Order::Asc, None, None, None, 10)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["thing00001", "thing00002"]);
        assert_eq!(b.modules().unwrap(), vec![module]);
        assert_eq!(
            b.env().unwrap().get("WHO").map(String::as_str),
            Some("target")
        );
        let mut tx = a.begin(false).unwrap();
        assert_eq!(
            tx.scan("things", Order::Asc, None, None, None, 10)
                .unwrap()
                .len(),
            2
        );
    })
    .await
    .unwrap();
    s.copy_deployment_data(from.id, to.id, true).await.unwrap();
    let b = s.deployment_docs(to.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            b.env().unwrap().get("WHO").map(String::as_str),
            Some("source")
        );
    })
    .await
    .unwrap();
}

/// A push is one operation: code, indexes and version move together, and a push the data
/// refuses changes none of them.
pub async fn a_push_moves_code_indexes_and_version_together(s: &dyn Store) {
    use berth_store::docs::{Code, IndexDef, ModuleRecord, SchemaDef};
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "pushed-101",
            "dev/push",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    {
        let docs = docs.clone();
        tokio::task::spawn_blocking(move || {
            let mut tx = docs.begin(true).unwrap();
            tx.insert(&thing(1, Some("a"), 1.0)).unwrap();
            tx.commit().unwrap();
        })
        .await
        .unwrap();
    }
    let code = |js: &str, schema: SchemaDef| Code {
        modules: vec![ModuleRecord {
            path: "m.ts".into(),
            source: js.into(),
            js: js.into(),
            hash: js.into(),
        }],
        meta: format!("[\"{js}\"]"),
        schema,
    };
    let by_tag = IndexDef {
        name: "things.by_tag".into(),
        table: "things".into(),
        fields: vec!["tag".into()],
    };
    let indexed = SchemaDef {
        indexes: vec![by_tag.clone()],
        ..Default::default()
    };
    let (v1, changes) = s
        .push_code(d.id, code("one", indexed.clone()), 500)
        .await
        .unwrap();
    assert_eq!((v1, changes.added.len()), (1, 1));
    let strict = SchemaDef {
        indexes: vec![],
        validation: true,
        document_types: [(
            "things".to_string(),
            serde_json::json!({"type": "object", "value": {"n": {"fieldType": {"type": "string"}, "optional": false}}}),
        )]
        .into(),
    };
    assert!(matches!(
        s.push_code(d.id, code("two", strict), 600).await,
        Err(StoreError::SchemaMismatch(_))
    ));
    let after = s.deployment_by_name(&d.name).await.unwrap().unwrap();
    assert_eq!((after.code_version, after.last_deploy_time), (1, Some(500)));
    tokio::task::spawn_blocking(move || {
        assert_eq!(docs.modules().unwrap()[0].js, "one");
        assert_eq!(docs.code_meta().unwrap().as_deref(), Some("[\"one\"]"));
        assert_eq!(docs.indexes().unwrap(), vec![by_tag]);
    })
    .await
    .unwrap();
}

/// Every document of `things`, read in creation order.
fn all_things(docs: &dyn berth_store::docs::DocStore) -> Vec<berth_store::docs::Doc> {
    let mut tx = docs.begin(false).unwrap();
    tx.scan(
        "things",
        berth_store::docs::Order::Asc,
        None,
        None,
        None,
        u32::MAX,
    )
    .unwrap()
}

/// The ids `things.by_tag` gives for its whole range.
fn by_tag_ids(docs: &dyn berth_store::docs::DocStore) -> Vec<String> {
    let mut tx = docs.begin(false).unwrap();
    tx.index_scan(
        "things.by_tag",
        &[],
        &[0xff],
        berth_store::docs::Order::Asc,
        u32::MAX,
    )
    .unwrap()
    .into_iter()
    .map(|(_, d)| d.id)
    .collect()
}

/// An index built ahead of its push, in batches while writes go on: not read until the push
/// commits, then exactly what a sort of the table gives. One begun but left unfinished is built
/// whole by the push; one the push does not want is dropped.
pub async fn indexes_built_ahead_serve_only_once_pushed(s: &dyn Store) {
    use berth_store::docs::{BuildProgress, IndexDef, SchemaDef};
    let (t, p) = default_ids(s).await;
    let d = s
        .create_deployment(&new_deployment(
            "ahead-101",
            "dev/ahead",
            DeploymentType::Dev,
            t,
            p,
        ))
        .await
        .unwrap();
    let docs = s.deployment_docs(d.id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let tags = ["b", "a", "c"];
        let mut tx = docs.begin(true).unwrap();
        for i in 0..3500 {
            tx.insert(&thing(i, Some(tags[(i % 3) as usize]), f64::from(i % 7)))
                .unwrap();
        }
        tx.commit().unwrap();
        let by_tag = IndexDef {
            name: "things.by_tag".into(),
            table: "things".into(),
            fields: vec!["tag".into(), "n".into()],
        };
        let by_n = IndexDef {
            name: "things.by_n".into(),
            table: "things".into(),
            fields: vec!["n".into()],
        };
        // Writes run beside the build: inserts, replaces of documents on both sides of where
        // the build has got to, deletes.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (docs, stop) = (docs.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || i < 50 {
                    let mut tx = docs.begin(true).unwrap();
                    tx.insert(&thing(5000 + i, Some("a"), 1.0)).unwrap();
                    let moved = thing((i * 37) % 3500, Some("z"), f64::from(i));
                    tx.replace(&moved.id, &moved.json).unwrap();
                    // A change that leaves the index's key as it was (only a field it does
                    // not cover): the build must still write this document's entry.
                    let k = (i * 41 + 7) % 3500;
                    if let Some(d) = tx.get(&thing(k, None, 0.0).id).unwrap() {
                        let mut v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
                        v["extra"] = serde_json::json!(i);
                        tx.replace(&d.id, &v.to_string()).unwrap();
                    }
                    tx.delete(&thing((i * 53 + 11) % 3500, None, 0.0).id)
                        .unwrap();
                    tx.commit().unwrap();
                    i += 1;
                }
            })
        };
        let mut seen: Vec<BuildProgress> = Vec::new();
        berth_store::docs::build_ahead(&*docs, std::slice::from_ref(&by_tag), &mut |p| {
            seen.push(p.clone());
            // Not read before the push, whatever the build has done.
            let mut tx = docs.begin(false).unwrap();
            assert!(!tx.has_index("things.by_tag").unwrap());
        })
        .unwrap();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.join().unwrap();
        let last = seen.last().unwrap();
        assert_eq!((last.indexes_done, last.indexes_total), (1, 1));
        assert_eq!(last.documents_done, last.documents_total);
        assert!(seen.len() >= 3, "{seen:?}");
        assert!(
            seen.windows(2)
                .all(|w| w[0].documents_done <= w[1].documents_done)
        );
        assert!(docs.indexes().unwrap().is_empty());
        // The push finds it built, reports it added and serves it.
        let schema = SchemaDef {
            indexes: vec![by_tag.clone()],
            ..Default::default()
        };
        let changes = docs.replace_code(&[], "[]", &schema).unwrap();
        assert_eq!(changes.added, vec![by_tag.clone()]);
        assert_eq!(docs.indexes().unwrap(), vec![by_tag.clone()]);
        assert_eq!(
            by_tag_ids(&*docs),
            sorted_reference(&all_things(&*docs), None)
        );

        // Begun, a few entries written, then pushed: the push builds the rest itself.
        let wanted = [by_tag.clone(), by_n.clone()];
        assert_eq!(docs.begin_ahead(&wanted).unwrap(), vec![by_n.clone()]);
        let some: Vec<(Vec<u8>, String)> = all_things(&*docs)[..10]
            .iter()
            .map(|d| {
                let v = berth_value::decode(&serde_json::from_str(&d.json).unwrap()).unwrap();
                let key =
                    berth_store::docs::index::entry_key(&by_n.fields, &v, d.creation_time, &d.id);
                (key, d.id.clone())
            })
            .collect();
        assert!(docs.fill_ahead(&by_n, &some, false).unwrap());
        let both = SchemaDef {
            indexes: wanted.to_vec(),
            ..Default::default()
        };
        let changes = docs.replace_code(&[], "[]", &both).unwrap();
        assert_eq!(changes.added, vec![by_n.clone()]);
        let count = |index: &str| {
            let mut tx = docs.begin(false).unwrap();
            tx.index_scan(index, &[], &[0xff], berth_store::docs::Order::Asc, u32::MAX)
                .unwrap()
                .len()
        };
        assert_eq!(count("things.by_n"), all_things(&*docs).len());

        // Begun for a push that never came: the next push without it drops its entries.
        let by_day = IndexDef {
            name: "things.by_day".into(),
            table: "things".into(),
            fields: vec!["day".into()],
        };
        berth_store::docs::build_ahead(&*docs, std::slice::from_ref(&by_day), &mut |_| {}).unwrap();
        assert_eq!(count("things.by_day"), all_things(&*docs).len());
        // Once complete, a fill that comes late (another server's build) writes nothing.
        assert!(!docs.fill_ahead(&by_day, &some, false).unwrap());
        let changes = docs.replace_code(&[], "[]", &both).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(count("things.by_day"), 0);
        // Building it again after that push starts from nothing and is complete.
        berth_store::docs::build_ahead(&*docs, std::slice::from_ref(&by_day), &mut |_| {}).unwrap();
        assert_eq!(count("things.by_day"), all_things(&*docs).len());
    })
    .await
    .unwrap();
}

#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make,
            bootstrap_runs_once,
            reset_tokens_replaces_the_named_token,
            team_slugs_are_unique,
            members_are_created_once_and_removed,
            projects_are_unique_per_team_and_deleted,
            audit_pages_newest_first,
            token_use_is_recorded,
            deployments_round_trip,
            deployment_conflicts_and_names_never_reused,
            deployment_limit_counts_only_live_ones,
            deployments_list_filters_and_pages,
            deleting_a_project_deletes_its_deployments,
            a_team_always_keeps_an_admin,
            table_numbers_do_not_survive_a_rollback,
            request_answers_commit_with_their_writes,
            data_of_a_missing_deployment_is_refused,
            stored_indexes_answer_ranges_as_a_sort_would,
            writes_are_checked_against_the_schema,
            scans_honour_bounds_order_and_position,
            reads_see_one_snapshot_and_creation_times_grow,
            concurrent_writers_all_land,
            copies_replace_documents_and_keep_the_targets_code,
            a_push_moves_code_indexes_and_version_together,
            indexes_built_ahead_serve_only_once_pushed,
        );
    };
    (@each $make:path, $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(store) = $make().await else { return };
                conformance::$name(&*store).await;
            }
        )*
    };
}
