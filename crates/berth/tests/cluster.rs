//! Many berth servers on one PostgreSQL database (PRODUCT §11). Needs `BERTH_TEST_DATABASE_URL`
//! (`.ci/run` sets it when PostgreSQL runs on 127.0.0.1:5432); without it each test prints that
//! it is skipped. Each test works in a schema of its own.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A database URL whose connections use a fresh schema, or `None` (with a message) to skip.
fn database(test: &str) -> Option<String> {
    common::postgres_url(test)
}

/// Two servers on one database; the second uses the first's admin token.
fn cluster(db: &str, extra: &[&str]) -> (TestServer, TestServer) {
    let mut args = vec!["--database-url", db];
    args.extend_from_slice(extra);
    let a = TestServer::start(&args);
    let b = TestServer::start(&args);
    (a, b)
}

fn call(url: &str, kind: &str, name: &str, path: &str, args: Value) -> Value {
    let body = json!({"path": path, "args": args, "format": "json"}).to_string();
    let (status, text) = common::http(
        url,
        "POST",
        &format!("/d/{name}/api/{kind}"),
        &[],
        Some(&body),
    );
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], "success", "{v}");
    v["value"].clone()
}

fn deploy_counter(a: &TestServer) -> String {
    let dir = a.dir.path().join("app");
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("crates/berth/tests/app/counter.ts"),
        dir.join("convex/counter.ts"),
    )
    .unwrap();
    let d = a
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/cluster",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    a.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    name
}

#[test]
fn a_push_on_one_server_is_served_by_the_other() {
    let Some(db) = database("a_push_on_one_server_is_served_by_the_other") else {
        return;
    };
    let (a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    assert_eq!(
        call(&b.url, "query", &name, "counter:version", json!({})),
        json!(1)
    );
    let id = call(&b.url, "mutation", &name, "counter:create", json!({}));
    assert_eq!(
        call(&a.url, "query", &name, "counter:get", json!({"id": id})),
        json!(0)
    );
    // A subscription held on a, to what the code answers.
    let mut ws = common::ws::Ws::connect(&a.url, &format!("/d/{name}/api/1.48.0/sync")).unwrap();
    ws.send(
        &json!({"type": "Connect", "sessionId": "pushed", "connectionCount": 0,
            "lastCloseReason": "InitialConnect", "clientTs": 0})
        .to_string(),
    );
    ws.send(
        &json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "counter:version", "args": [{}]}]})
        .to_string(),
    );
    let first = ws.recv_json().unwrap();
    assert_eq!(first["modifications"][0]["value"], json!(1), "{first}");
    // A new push through b is what a serves on its next call.
    let dir = a.dir.path().join("app");
    std::fs::write(
        dir.join("convex/counter.ts"),
        std::fs::read_to_string(dir.join("convex/counter.ts"))
            .unwrap()
            .replace("async () => 1", "async () => 2"),
    )
    .unwrap();
    b.cli()
        .env("BERTH_ACCESS_TOKEN", b.admin_token())
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    assert_eq!(
        call(&a.url, "query", &name, "counter:version", json!({})),
        json!(2)
    );
    // The push through b is announced to a's subscription, which runs the new code.
    let update = ws.recv_json().unwrap();
    assert_eq!(update["type"], "Transition", "{update}");
    assert_eq!(update["modifications"][0]["value"], json!(2), "{update}");
    let (_, version) = a.http("GET", "/version", None, None);
    assert!(version.contains("\"storage\":\"postgres\""), "{version}");
}

#[test]
fn concurrent_mutations_through_both_servers_keep_every_increment() {
    let Some(db) = database("concurrent_mutations_through_both_servers_keep_every_increment")
    else {
        return;
    };
    let (a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    let id = call(&a.url, "mutation", &name, "counter:create", json!({}));
    let threads: Vec<_> = [a.url.clone(), b.url.clone(), a.url.clone(), b.url.clone()]
        .into_iter()
        .map(|url| {
            let (name, id) = (name.clone(), id.clone());
            std::thread::spawn(move || {
                for _ in 0..25 {
                    call(
                        &url,
                        "mutation",
                        &name,
                        "counter:increment",
                        json!({"id": id}),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        call(&b.url, "query", &name, "counter:get", json!({"id": id})),
        json!(100)
    );
}

#[test]
fn an_expired_deployment_is_reaped_exactly_once() {
    let Some(db) = database("an_expired_deployment_is_reaped_exactly_once") else {
        return;
    };
    let (a, b) = cluster(&db, &["--min-expiration", "1s", "--reap-interval", "200ms"]);
    let d = a
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/short",
            "--type",
            "dev",
            "--expiration",
            "in 1 second",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let (status, _) = b.http(
            "GET",
            &format!("/v1/deployments/{name}?includeExpired=true"),
            Some(&a.admin_token()),
            None,
        );
        if status == 404 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not reaped");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(600));
    let (_, log) = a.http(
        "GET",
        "/v1/teams/default/audit_log?limit=1000",
        Some(&a.admin_token()),
        None,
    );
    let log: Value = serde_json::from_str(&log).unwrap();
    let reaps = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reap_deployment" && e["target"] == name.as_str())
        .count();
    assert_eq!(reaps, 1, "{log}");
}

#[test]
fn a_killed_server_loses_no_acknowledged_write() {
    let Some(db) = database("a_killed_server_loses_no_acknowledged_write") else {
        return;
    };
    let (mut a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let writer = {
        let (url, name) = (a.url.clone(), name.clone());
        std::thread::spawn(move || {
            for i in 0.. {
                let body = json!({"path": "counter:add", "args": {"tag": format!("w{i}")}, "format": "json"}).to_string();
                let Ok((status, text)) = common::try_http(
                    &url,
                    "POST",
                    &format!("/d/{name}/api/mutation"),
                    &[],
                    Some(&body),
                ) else {
                    return;
                };
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                if status == 200 && v["status"] == "success" {
                    let _ = tx.send(v["value"].as_str().unwrap_or_default().to_string());
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    let child = a.child.as_mut().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = writer.join();
    let acknowledged: Vec<String> = rx.try_iter().collect();
    assert!(
        acknowledged.len() > 5,
        "the load ran: {}",
        acknowledged.len()
    );
    for id in &acknowledged {
        assert_eq!(
            call(&b.url, "query", &name, "counter:has", json!({"id": id})),
            json!(true),
            "{id} was acknowledged but is gone"
        );
    }
}

#[test]
fn logs_written_through_one_server_are_read_through_the_other() {
    let Some(db) = database("logs_written_through_one_server_are_read_through_the_other") else {
        return;
    };
    let (a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    call(
        &a.url,
        "query",
        &name,
        "counter:shout",
        json!({"word": "ahoy"}),
    );
    let token = b.admin_token();
    let started = Instant::now();
    loop {
        let (_, page) = b.http(
            "GET",
            &format!("/d/{name}/api/logs?limit=10"),
            Some(&token),
            None,
        );
        if page.contains("'shouting' 'ahoy'") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not in b's view of the log: {page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A live query on one server hears a commit made through the other (`NOTIFY berth_commits`):
/// the subscription's new value arrives in a transition, and the other server's writes to
/// tables it did not read send nothing.
#[test]
fn a_subscription_on_one_server_sees_a_mutation_through_the_other() {
    let Some(db) = database("a_subscription_on_one_server_sees_a_mutation_through_the_other")
    else {
        return;
    };
    let (a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    let id = call(&b.url, "mutation", &name, "counter:create", json!({}));
    let id = id.as_str().unwrap().to_string();
    let mut ws = common::ws::Ws::connect(&a.url, &format!("/d/{name}/api/1.48.0/sync")).unwrap();
    ws.send(
        &json!({"type": "Connect", "sessionId": "two-servers", "connectionCount": 0,
            "lastCloseReason": "InitialConnect", "clientTs": 0})
        .to_string(),
    );
    ws.send(
        &json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "counter:get", "args": [{"id": id}]}]})
        .to_string(),
    );
    let first = ws.recv_json().unwrap();
    assert_eq!(first["type"], "Transition", "{first}");
    assert_eq!(first["modifications"][0]["value"], json!(0), "{first}");
    // A write elsewhere on the deployment (another table) changes nothing for this query.
    call(
        &b.url,
        "mutation",
        &name,
        "counter:add",
        json!({"tag": "x"}),
    );
    // The increment through server B reaches the subscription held on server A.
    let started = Instant::now();
    call(
        &b.url,
        "mutation",
        &name,
        "counter:increment",
        json!({"id": id}),
    );
    let update = ws.recv_json().unwrap();
    assert_eq!(update["type"], "Transition", "{update}");
    assert_eq!(update["modifications"][0]["value"], json!(1), "{update}");
    assert_eq!(update["startVersion"], first["endVersion"], "{update}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_mutation_sent_again_to_the_other_server_runs_once() {
    let Some(db) = database("a_mutation_sent_again_to_the_other_server_runs_once") else {
        return;
    };
    let (a, b) = cluster(&db, &[]);
    let name = deploy_counter(&a);
    let id = call(&a.url, "mutation", &name, "counter:create", json!({}));
    // Convex's client sends a mutation still unanswered when its socket drops again, with the
    // same session and request id, on its next socket: here, one to the other server.
    let send = |url: &str| {
        let mut ws = common::ws::Ws::connect(url, &format!("/d/{name}/api/1.48.0/sync")).unwrap();
        ws.send(
            &json!({"type": "Connect", "sessionId": "resent", "connectionCount": 0,
                "lastCloseReason": "InitialConnect", "clientTs": 0})
            .to_string(),
        );
        ws.send(
            &json!({"type": "Mutation", "requestId": 3, "udfPath": "counter:increment",
                "args": [{"id": id}]})
            .to_string(),
        );
        loop {
            let m = ws.recv_json().unwrap();
            if m["type"] == "MutationResponse" {
                return m;
            }
        }
    };
    let first = send(&a.url);
    let again = send(&b.url);
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(again["success"], true, "{again}");
    assert_eq!(again["result"], first["result"], "{again}");
    let value = call(&a.url, "query", &name, "counter:get", json!({"id": id}));
    assert_eq!(value, json!(1), "the increment ran once");
}
