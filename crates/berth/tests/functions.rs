//! Functions end to end: push the example app with the real CLI, call it with the CLI, with
//! curl-shaped HTTP, and with Convex's own npm client.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn project(s: &TestServer, name: &str, files: &[(&str, &Path)]) -> PathBuf {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    for (to, from) in files {
        std::fs::copy(from, dir.join("convex").join(to)).unwrap();
    }
    dir
}

fn post(s: &TestServer, path: &str, body: &str, auth: Option<&str>) -> (u16, Value) {
    let (status, text) = common::http(
        &s.url,
        "POST",
        path,
        &[("Authorization", auth.map(str::to_string))],
        Some(body),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
    )
}

#[test]
fn push_the_example_and_call_it() {
    let s = TestServer::start(&[]);
    let dir = project(
        &s,
        "app",
        &[("messages.ts", &repo("examples/messages/convex/messages.ts"))],
    );
    let d = s
        .cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "create",
            "dev/admin/app",
            "--type",
            "dev",
            "--select",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    let r = s
        .cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", "dev/admin/app", "--json"])
        .ok();
    assert!(r.stderr.contains("Deployed in"), "{}", r.stderr);
    let pushed = r.json();
    assert_eq!(pushed["functions"].as_array().unwrap().len(), 6);
    let shown = s
        .cli()
        .run(&["deployment", "show", &name, "--json"])
        .ok()
        .json();
    assert!(shown["lastDeployTime"].is_i64(), "the push is recorded");

    // The CLI runs functions (internal ones too) and reads data.
    s.cli()
        .cwd(&dir)
        .run(&["run", "messages:send", r#"{"author":"ada","body":"hello"}"#])
        .ok();
    assert_eq!(
        s.cli()
            .cwd(&dir)
            .run(&["run", "messages:seed", r#"{"count":3}"#])
            .ok()
            .stdout
            .trim(),
        "3"
    );
    let list = s.cli().cwd(&dir).run(&["run", "messages:list"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 4);
    let r = s
        .cli()
        .cwd(&dir)
        .run(&["run", "messages:send", r#"{"author":"x","body":" "}"#]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("EmptyMessage"), "{}", r.stderr);
    let tables = s.cli().cwd(&dir).run(&["data", "--json"]).ok().json();
    assert_eq!(tables, json!([{"name": "messages", "documents": 4}]));
    let docs = s
        .cli()
        .cwd(&dir)
        .run(&["data", "messages", "--limit", "2", "--json"])
        .ok()
        .json();
    assert_eq!(docs.as_array().unwrap().len(), 2);

    // The deployment API over plain HTTP, as curl would.
    let base = format!("/d/{name}/api");
    let (status, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"messages:count","args":{},"format":"json"}"#,
        None,
    );
    assert_eq!(
        (status, &v),
        (200, &json!({"status": "success", "value": 4}))
    );
    let (_, v) = post(&s, &format!("{base}/run/messages/count"), "{}", None);
    assert_eq!(v["value"], 4);
    let (_, v) = post(
        &s,
        &format!("{base}/mutation"),
        r#"{"path":"messages:send","args":[{"author":"bo","body":"hi"}]}"#,
        None,
    );
    assert_eq!(v["status"], "success");
    assert_eq!(
        v["logLines"],
        json!(["[LOG] 'new message from' 'bo'"]),
        "dev deployments send logs"
    );
    let (_, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"messages:seed","args":{}}"#,
        None,
    );
    assert!(v["errorMessage"].as_str().unwrap().ends_with("Could not find public function for 'messages.js:seed'. Did you forget to run `berth deploy`?"), "{v}");
    let (_, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"messages:send","args":{}}"#,
        None,
    );
    assert!(
        v["errorMessage"].as_str().unwrap().contains(
            "Trying to execute messages.js:send as Query, but it is defined as Mutation."
        ),
        "{v}"
    );
    let (status, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"messages:count","format":"xml"}"#,
        None,
    );
    assert_eq!((status, v["code"].as_str()), (400, Some("BadFormat")));
    let (status, _) = post(
        &s,
        &format!("{base}/function"),
        r#"{"path":"messages:seed","args":{}}"#,
        None,
    );
    assert_eq!(status, 401, "/api/function needs a credential");
    let (status, _) = post(
        &s,
        "/d/nope-nope-1/api/query",
        r#"{"path":"messages:count"}"#,
        None,
    );
    assert_eq!(status, 404);

    // A push with an error leaves the running code untouched, and names file and line.
    std::fs::write(
        dir.join("convex/broken.ts"),
        "export const a = 1;\nexport const b = ;\n",
    )
    .unwrap();
    let r = s
        .cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", "dev/admin/app"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("convex/broken.ts:2:"), "{}", r.stderr);
    std::fs::write(
        dir.join("convex/broken.ts"),
        "import x from 'left-pad';\nexport const a = x;\n",
    )
    .unwrap();
    let r = s
        .cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", "dev/admin/app"]);
    assert!(
        r.stderr.contains("convex/broken.ts:1:") && r.stderr.contains("'left-pad' is not allowed"),
        "{}",
        r.stderr
    );
    let (_, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"messages:count","args":{}}"#,
        None,
    );
    assert_eq!(v["value"], 5, "the old code still serves");
    std::fs::remove_file(dir.join("convex/broken.ts")).unwrap();

    // Without --deployment, berth deploy goes to the default prod, asking first.
    let r = s.cli().cwd(&dir).run(&["deploy"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no production deployment"),
        "{}",
        r.stderr
    );
    s.cli()
        .run(&["deployment", "create", "--type", "prod"])
        .ok();
    let r = s.cli().cwd(&dir).run(&["deploy"]);
    assert_eq!(
        r.code, 2,
        "asks, and without a terminal needs --yes: {}",
        r.stderr
    );
    s.cli().cwd(&dir).run(&["deploy", "--yes"]).ok();
}

#[test]
fn what_clients_see_follows_the_deployment_settings() {
    let s = TestServer::start(&[]);
    let dir = project(
        &s,
        "app",
        &[
            ("client.ts", &repo("tests/js/convex/client.ts")),
            ("messages.ts", &repo("examples/messages/convex/messages.ts")),
        ],
    );
    let prod = s
        .cli()
        .run(&["deployment", "create", "--type", "prod", "--json"])
        .ok()
        .json();
    let name = prod["name"].as_str().unwrap().to_string();
    s.cli().cwd(&dir).run(&["deploy", "--yes"]).ok();
    let base = format!("/d/{name}/api");
    let (_, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"client:crash","args":{}}"#,
        None,
    );
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(
        msg.starts_with("[Request ID: ") && msg.ends_with("] Server Error"),
        "prod hides details: {v}"
    );
    assert!(v.get("logLines").is_none(), "prod sends no logs: {v}");
    let (_, v) = post(
        &s,
        &format!("{base}/mutation"),
        r#"{"path":"client:fail","args":{}}"#,
        None,
    );
    assert_eq!(
        v["errorData"],
        json!({"reason": "nope", "n": {"$integer": "KgAAAAAAAAA="}}),
        "ConvexError data always: {v}"
    );
    s.cli()
        .run(&[
            "deployment",
            "update",
            &name,
            "--setting",
            "sendErrorDetailsToClient=true",
            "--setting",
            "sendLogsToClient=true",
            "--yes",
        ])
        .ok();
    let (_, v) = post(
        &s,
        &format!("{base}/query"),
        r#"{"path":"client:crash","args":{}}"#,
        None,
    );
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("Server Error\nUncaught Error: kaboom\n") && msg.contains("convex/client.ts"),
        "{v}"
    );
    assert_eq!(v["logLines"], json!(["[LOG] 'about to crash'"]));
}

/// Convex's own socket clients (`ConvexClient`, `ConvexReactClient`) against a berth deployment:
/// live updates after writes over the socket and over HTTP, mutations resolving once their write
/// shows, `ConvexError` data, actions, reconnection, pages and optimistic updates.
#[test]
fn convex_clients_get_live_updates() {
    let js = common::npm_package("react");
    let s = TestServer::start(&[]);
    let d = deployed(
        &s,
        "live",
        &[
            ("live.ts", &repo("tests/js/live/live.ts")),
            ("schema.ts", &repo("tests/js/live/schema.ts")),
        ],
    );
    let text = node_tests(&js, "live.test.mjs", &d, &[]);
    assert!(
        text.contains("# pass 10") && text.contains("# fail 0"),
        "{text}"
    );
}

/// Sessions subscribed to the same query share its runs (the deployment's fan-out): twenty
/// sockets cost one run when they subscribe and one per commit that touches the query, not one
/// each; a commit that does not touch it runs nothing.
#[test]
fn sessions_subscribed_to_one_query_share_its_runs() {
    let s = TestServer::start(&[]);
    let d = deployed(
        &s,
        "shared",
        &[
            ("live.ts", &repo("tests/js/live/live.ts")),
            ("schema.ts", &repo("tests/js/live/schema.ts")),
        ],
    );
    let name = d["name"].as_str().unwrap();
    let mut sockets: Vec<common::ws::Ws> = (0..20)
        .map(|i| {
            let mut ws =
                common::ws::Ws::connect(&s.url, &format!("/d/{name}/api/1.48.0/sync")).unwrap();
            ws.send(
                &json!({"type": "Connect", "sessionId": format!("shared-{i}"), "connectionCount": 0,
                    "lastCloseReason": "InitialConnect", "clientTs": 0})
                .to_string(),
            );
            ws.send(
                &json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                    {"type": "Add", "queryId": 0, "udfPath": "live:counted", "args": [{"channel": "s"}]}]})
                .to_string(),
            );
            let first = ws.recv_json().unwrap();
            assert_eq!(first["modifications"][0]["value"], json!(0), "{first}");
            ws
        })
        .collect();
    let add = |channel: &str| {
        let body =
            json!({"path": "live:add", "args": {"channel": channel, "text": "x"}}).to_string();
        let (status, text) = s.http(
            "POST",
            &format!("/d/{name}/api/mutation"),
            None,
            Some(&body),
        );
        assert_eq!(status, 200, "{text}");
    };
    add("s");
    add("elsewhere");
    add("s");
    for ws in &mut sockets {
        // One transition per batch of commits; the last one carries 2.
        loop {
            let m = ws.recv_json().unwrap();
            assert_eq!(m["type"], "Transition", "{m}");
            if m["modifications"][0]["value"] == json!(2) {
                break;
            }
        }
    }
    let (_, logs) = s.http(
        "GET",
        &format!("/d/{name}/api/logs?limit=1000"),
        Some(&s.admin_token()),
        None,
    );
    let logs: Value = serde_json::from_str(&logs).unwrap();
    let runs = logs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["text"].as_str().unwrap_or_default().contains("counted"))
        .count();
    assert!(
        (2..=3).contains(&runs),
        "one run to subscribe and one per batch of the commits on channel s (the two may share one), for twenty sessions: {runs} runs\n{logs}"
    );
}

/// A React app in a real browser (Debian's Chromium): `useQuery` shows a list, `useMutation`
/// adds to it, and a second tab sees the new item (`tests/js/react.test.mjs`). Without Chromium
/// it is skipped, except under `CI=true`.
#[test]
fn a_react_app_updates_live_in_a_real_browser() {
    let Some(chromium) = common::chromium() else {
        return;
    };
    let js = common::npm_package("react-dom");
    let s = TestServer::start(&[]);
    let d = deployed(
        &s,
        "react",
        &[
            ("live.ts", &repo("tests/js/live/live.ts")),
            ("schema.ts", &repo("tests/js/live/schema.ts")),
        ],
    );
    let chromium = chromium.to_string_lossy().into_owned();
    let text = node_tests(&js, "react.test.mjs", &d, &[("CHROMIUM", &chromium)]);
    assert!(
        text.contains("# pass 1") && text.contains("# fail 0"),
        "{text}"
    );
}

/// A new dev deployment `dev/admin/<reference>` with `files` pushed to it; its JSON.
fn deployed(s: &TestServer, reference: &str, files: &[(&str, &Path)]) -> serde_json::Value {
    let dir = project(s, reference, files);
    let d = s
        .cli()
        .run(&[
            "deployment",
            "create",
            &format!("dev/admin/{reference}"),
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", name])
        .ok();
    d
}

/// Runs a `node --test` file of `tests/js` against deployment `d` (its URL in
/// `BERTH_DEPLOYMENT_URL`, plus `env`); its output, once it passed.
fn node_tests(js: &Path, file: &str, d: &serde_json::Value, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("node")
        .args(["--test", "--test-concurrency=1", file])
        .current_dir(js)
        .env("BERTH_DEPLOYMENT_URL", d["deploymentUrl"].as_str().unwrap())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{file} failed:\n{text}");
    text
}

#[test]
fn convex_http_client_works_unchanged() {
    let js = common::npm_package("convex");
    let s = TestServer::start(&[]);
    let d = deployed(
        &s,
        "npm",
        &[
            ("client.ts", &repo("tests/js/convex/client.ts")),
            ("messages.ts", &repo("examples/messages/convex/messages.ts")),
        ],
    );
    let name = d["name"].as_str().unwrap();
    let key = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "create",
            "npm-test",
            "--deployment",
            name,
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let text = node_tests(&js, "client.test.mjs", &d, &[("BERTH_DEPLOY_KEY", &key)]);
    assert!(
        text.contains("# pass 5") && text.contains("# fail 0"),
        "{text}"
    );
}

#[test]
fn browsers_may_call_and_oversized_or_malformed_calls_are_refused() {
    let s = TestServer::start(&[]);
    let dir = project(
        &s,
        "app",
        &[("messages.ts", &repo("examples/messages/convex/messages.ts"))],
    );
    let d = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/web",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    // CORS: a preflight is answered, and answers allow any origin.
    let (status, _) = common::http(
        &s.url,
        "OPTIONS",
        &format!("/d/{name}/api/query"),
        &[
            ("Origin", Some("http://app.test".into())),
            ("Access-Control-Request-Method", Some("POST".into())),
        ],
        None,
    );
    assert_eq!(status, 204);
    // Arguments over 16 MiB are 413; args that are not an object, and empty paths, are 400.
    let big = format!(
        r#"{{"path":"messages:count","args":{{"pad":"{}"}}}}"#,
        "x".repeat(17 << 20)
    );
    let (status, _) = post(&s, &format!("/d/{name}/api/query"), &big, None);
    assert_eq!(status, 413);
    let (status, v) = post(
        &s,
        &format!("/d/{name}/api/query"),
        r#"{"path":"messages:count","args":5}"#,
        None,
    );
    assert_eq!((status, v["code"].as_str()), (400, Some("BadArgs")));
    let (status, v) = post(
        &s,
        &format!("/d/{name}/api/query"),
        r#"{"path":"","args":{}}"#,
        None,
    );
    assert_eq!((status, v["code"].as_str()), (400, Some("BadPath")));
}

#[test]
fn a_runaway_deployment_leaves_room_for_its_neighbours() {
    let s = TestServer::start(&[]);
    let dir = project(
        &s,
        "app",
        &[("messages.ts", &repo("examples/messages/convex/messages.ts"))],
    );
    std::fs::write(dir.join("convex/spin.ts"), "import { query } from './_generated/server';\nexport const forever = query(async () => { for (;;) {} });\n").unwrap();
    let bad = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/bad",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let good = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/good",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json()["name"]
        .as_str()
        .unwrap()
        .to_string();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &bad])
        .ok();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &good])
        .ok();
    let started = std::time::Instant::now();
    let spinners: Vec<_> = (0..12)
        .map(|_| {
            let (url, bad) = (s.url.clone(), bad.clone());
            std::thread::spawn(move || {
                common::http(
                    &url,
                    "POST",
                    &format!("/d/{bad}/api/query"),
                    &[],
                    Some(r#"{"path":"spin:forever","args":{}}"#),
                );
                started.elapsed()
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, v) = post(
        &s,
        &format!("/d/{good}/api/query"),
        r#"{"path":"messages:count","args":{}}"#,
        None,
    );
    let good_done = started.elapsed();
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("success")),
        "{v}"
    );
    let last_spinner = spinners
        .into_iter()
        .map(|t| t.join().unwrap())
        .max()
        .unwrap();
    assert!(
        good_done < last_spinner,
        "the neighbour was served before the runaway calls drained ({good_done:?} vs {last_spinner:?})"
    );
}

/// Stored indexes end to end with Convex's own client: a compound index over 10,000 documents,
/// paged through in 100s in both orders while the cursor's document is deleted between pages
/// (`tests/js/indexes.test.mjs`).
#[test]
fn indexes_page_through_ten_thousand_documents() {
    let js = common::npm_package("convex");
    let s = TestServer::start(&[]);
    let dir = project(
        &s,
        "indexed",
        &[
            ("schema.ts", &repo("tests/js/indexes/schema.ts")),
            ("events.ts", &repo("tests/js/indexes/events.ts")),
        ],
    );
    let d = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/indexed",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    let pushed = s
        .cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    assert!(
        pushed
            .stderr
            .contains("Added indexes: events.by_channel_at"),
        "{}",
        pushed.stderr
    );
    // Pushing the same schema again changes no index.
    let again = s
        .cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &name])
        .ok();
    assert!(!again.stderr.contains("indexes:"), "{}", again.stderr);
    let out = std::process::Command::new("node")
        .args(["--test", "indexes.test.mjs"])
        .current_dir(&js)
        .env("BERTH_DEPLOYMENT_URL", d["deploymentUrl"].as_str().unwrap())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the index tests failed:\n{text}");
    assert!(
        text.contains("# pass 2") && text.contains("# fail 0"),
        "{text}"
    );
}
