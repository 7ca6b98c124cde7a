//! The findings of the outside security review, each driven the way the reviewer did against the
//! real server: hostile names on the sync socket, resets under load, sessions that outlive their
//! credential, and who may read the data files (docs/RELIABILITY.md, "Security review").

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo, ws::Ws};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

/// A project folder with the example app, and a dev deployment of it with the code pushed.
fn app(s: &TestServer, folder: &str, reference: &str) -> (PathBuf, String) {
    let dir = s.dir.path().join(folder);
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("examples/messages/convex/messages.ts"),
        dir.join("convex/messages.ts"),
    )
    .unwrap();
    let d = s
        .cli()
        .cwd(&dir)
        .run(&["deployment", "create", reference, "--type", "dev", "--json"])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name, "--json"])
        .ok();
    (dir, name)
}

fn post(s: &TestServer, path: &str, body: &Value, auth: Option<&str>) -> (u16, String) {
    common::http(
        &s.url,
        "POST",
        path,
        &[("Authorization", auth.map(str::to_string))],
        Some(&body.to_string()),
    )
}

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn modify_query_set(path: &str) -> String {
    json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
        "modifications": [{"type": "Add", "queryId": 0, "udfPath": path, "args": [{}]}]})
    .to_string()
}

#[test]
fn hostile_names_on_the_sync_socket_touch_no_file() {
    let s = TestServer::start(&[]);
    let (_, name) = app(&s, "app", "dev/admin/app");
    let (_, doomed) = app(&s, "doomed", "dev/admin/doomed");
    s.cli()
        .run(&["deployment", "delete", &doomed, "--yes"])
        .ok();
    let outside = s.dir.path().to_path_buf();
    let absolute = std::env::temp_dir().join(format!("berth-review-{}", std::process::id()));
    let before = files(&outside);
    let fds = s.open_fds();

    let mut hostile = vec![
        "..%2F..%2Fescaped".to_string(),
        "..%2Fberth".to_string(),
        "%2E%2E%2F%2E%2E%2Fdotted".to_string(),
        format!(
            "%2F{}",
            absolute
                .display()
                .to_string()
                .trim_start_matches('/')
                .replace('/', "%2F")
        ),
        doomed.clone(),
    ];
    hostile.extend((0..1000).map(|i| format!("made-up-name-{i}")));
    for h in &hostile {
        match Ws::connect(&s.url, &format!("/d/{h}/api/1.48.0/sync")) {
            Err((status, body)) => {
                assert!(status == 404 || status == 410, "{h}: {status} {body}");
                assert!(
                    body.contains("not found") || body.contains("NotFound"),
                    "{h}: {body}"
                );
            }
            Ok(mut socket) => {
                // What the reviewer did next: one query on the socket.
                socket.send(&modify_query_set("messages:list"));
                let _ = socket.recv_within(Duration::from_secs(5));
                panic!("the sync socket of deployment name {h:?} was opened");
            }
        }
    }
    assert_eq!(
        files(&outside),
        before,
        "no file was created or brought back"
    );
    assert!(
        !absolute.exists(),
        "nothing was written at an absolute path"
    );
    let after = s.open_fds();
    assert!(
        after <= fds + 4,
        "the server holds {after} descriptors, {fds} before the hostile names"
    );
    // The server still takes pushes and answers calls.
    let dir = s.dir.path().join("app");
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name, "--json"])
        .ok();
    let (status, body) = post(
        &s,
        &format!("/d/{name}/api/query"),
        &json!({"path": "messages:count", "args": {}}),
        None,
    );
    assert_eq!(status, 200, "{body}");
}

fn backends() -> Vec<(&'static str, Vec<String>)> {
    let mut out = vec![("sqlite", vec![])];
    if let Some(db) = common::postgres_url("resets under load") {
        out.push(("postgres", vec!["--database-url".to_string(), db]));
    }
    out
}

#[test]
fn resets_under_load_keep_code_and_data_whole() {
    for (label, args) in backends() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = TestServer::start(&args);
        let token = s.admin_token();
        let (dir, source) = app(&s, "source", "dev/admin/source");
        let (_, target) = app(&s, "target", "dev/admin/target");
        for i in 0..20 {
            s.cli()
                .cwd(&dir)
                .run(&[
                    "run",
                    "messages:send",
                    &json!({"author": "ada", "body": format!("m{i}")}).to_string(),
                    "--deployment",
                    &source,
                ])
                .ok();
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = (0..6)
            .map(|i| {
                let (url, target, stop) = (s.url.clone(), target.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut answers: Vec<(u16, String)> = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (path, body) = if i % 3 == 2 {
                            ("mutation", json!({"path": "messages:send", "args": {"author": "bo", "body": "x"}}))
                        } else {
                            ("query", json!({"path": "messages:count", "args": {}}))
                        };
                        answers.push(common::http(
                            &url,
                            "POST",
                            &format!("/d/{target}/api/{path}"),
                            &[],
                            Some(&body.to_string()),
                        ));
                    }
                    answers
                })
            })
            .collect();
        for _ in 0..100 {
            let (status, body) = post(
                &s,
                &format!("/v1/deployments/{target}/reset"),
                &json!({"from": source}),
                Some(&format!("Bearer {token}")),
            );
            assert!(
                status == 200 || status == 503,
                "{label}: reset answered {status}: {body}"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut answered = 0;
        for c in callers {
            for (status, body) in c.join().unwrap() {
                answered += 1;
                assert!(
                    status == 200 || status == 503,
                    "{label}: a call during resets answered {status}: {body}"
                );
                let v: Value = serde_json::from_str(&body).unwrap();
                if status == 503 || v["status"] == "error" {
                    let m = v["message"]
                        .as_str()
                        .or(v["errorMessage"].as_str())
                        .unwrap_or("");
                    assert!(m.contains("try again"), "{label}: unclear refusal: {body}");
                }
            }
        }
        assert!(answered > 100, "{label}: only {answered} calls were made");
        // After a restart, the code and the last copy's documents are whole.
        s.stop();
        s.spawn(&args);
        let (status, body) = post(
            &s,
            &format!("/d/{target}/api/query"),
            &json!({"path": "messages:count", "args": {}}),
            None,
        );
        assert_eq!(status, 200, "{label}: {body}");
        let count = serde_json::from_str::<Value>(&body).unwrap()["value"].clone();
        assert!(
            count.as_f64().is_some_and(|n| n >= 20.0),
            "{label}: the target has {count} documents after its last reset from 20"
        );
        if label == "sqlite" {
            // One file per deployment: every replaced generation was removed.
            let data: Vec<String> = files(&s.data_dir.join("deployments"))
                .into_iter()
                .filter(|f| f.ends_with(".sqlite3"))
                .collect();
            assert_eq!(data.len(), 2, "{data:?}");
        }
        assert!(!s.server_log().contains("panicked"), "{}", s.server_log());
    }
}

/// Sends `Authenticate` with `credential` and a query of the CLI's that needs it; returns the
/// socket once the query was answered.
fn admin_session(s: &TestServer, name: &str, credential: &str) -> Ws {
    let mut ws = Ws::connect(&s.url, &format!("/d/{name}/api/1.48.0/sync")).unwrap();
    ws.send(
        &json!({"type": "Connect", "sessionId": "00000000-0000-4000-8000-000000000000",
        "connectionCount": 0, "lastCloseReason": null})
        .to_string(),
    );
    ws.send(
        &json!({"type": "Authenticate", "tokenType": "Admin", "value": credential,
        "baseVersion": 0})
        .to_string(),
    );
    let t = ws.recv_json().unwrap();
    assert_eq!(t["type"], "Transition", "{t}");
    ws.send(&modify_query_set("_system/cli/queryEnvironmentVariables"));
    let t = ws.recv_json().unwrap();
    assert_eq!(t["modifications"][0]["type"], "QueryUpdated", "{t}");
    ws
}

#[test]
fn a_sync_session_ends_when_its_credential_goes() {
    let s = TestServer::start(&[]);
    let token = s.admin_token();
    let bearer = format!("Bearer {token}");
    let (_, name) = app(&s, "app", "dev/admin/app");

    // A deploy key deleted while its session is open: the next message is refused.
    let (status, body) = post(
        &s,
        &format!("/v1/deployments/{name}/create_deploy_key"),
        &json!({"name": "socket"}),
        Some(&bearer),
    );
    assert_eq!(status, 200, "{body}");
    let key = serde_json::from_str::<Value>(&body).unwrap()["deployKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = admin_session(&s, &name, &key);
    let (status, body) = post(
        &s,
        &format!("/v1/deployments/{name}/delete_deploy_key"),
        &json!({"name": "socket"}),
        Some(&bearer),
    );
    assert_eq!(status, 200, "{body}");
    ws.send(&modify_query_set("_system/cli/queryEnvironmentVariables"));
    let m = ws.recv_json().unwrap();
    assert_eq!(m["type"], "AuthError", "{m}");
    assert!(
        ws.recv_within(Duration::from_secs(5)).is_none(),
        "and the socket closes"
    );

    // A member removed from the team while the socket is quiet: the server ends it unprompted.
    let (status, body) = post(
        &s,
        "/v1/teams/default/add_member",
        &json!({"username": "bob"}),
        Some(&bearer),
    );
    assert_eq!(status, 200, "{body}");
    let bob = serde_json::from_str::<Value>(&body).unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = admin_session(&s, &name, &bob);
    let (status, body) = post(
        &s,
        "/v1/teams/default/remove_member",
        &json!({"username": "bob"}),
        Some(&bearer),
    );
    assert_eq!(status, 200, "{body}");
    let m = ws
        .recv_within(Duration::from_secs(15))
        .map(|t| serde_json::from_str::<Value>(&t).unwrap());
    assert_eq!(
        m.as_ref().map(|m| m["type"].clone()),
        Some(json!("AuthError")),
        "{m:?}"
    );
}

#[cfg(unix)]
#[test]
fn data_files_are_readable_by_the_server_user_only() {
    let s = TestServer::start(&[]);
    let (_, name) = app(&s, "app", "dev/admin/app");
    s.cli()
        .run(&["env", "set", "SECRET", "hunter2", "--deployment", &name])
        .ok();
    assert_eq!(common::mode(&s.data_dir) & 0o777, 0o700);
    assert_eq!(common::mode(&s.data_dir.join("deployments")) & 0o777, 0o700);
    for f in files(&s.data_dir) {
        if f.contains("sqlite3") || f.starts_with("berth.db") {
            assert_eq!(common::mode(&s.data_dir.join(&f)) & 0o777, 0o600, "{f}");
        }
    }
}
