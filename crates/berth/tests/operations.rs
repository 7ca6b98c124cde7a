//! Operating a deployment end to end: environment variables and project defaults, logs, what
//! clients see per deployment type, and `berth dev`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

fn app(s: &TestServer, name: &str) -> PathBuf {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("crates/berth/tests/app/ops.ts"),
        dir.join("convex/ops.ts"),
    )
    .unwrap();
    dir
}

fn post(s: &TestServer, path: &str, body: &str) -> Value {
    let (_, text) = common::http(&s.url, "POST", path, &[], Some(body));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn environment_variables_round_trip_and_reach_functions() {
    let s = TestServer::start(&[]);
    let dir = app(&s, "app");
    s.cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "create",
            "dev/admin/env",
            "--type",
            "dev",
            "--select",
        ])
        .ok();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", "dev/admin/env"])
        .ok();
    let value = |name: &str| {
        s.cli()
            .cwd(&dir)
            .run(&["run", "ops:envValue", &format!(r#"{{"name":"{name}"}}"#)])
            .ok()
            .json()
    };
    assert_eq!(value("API_URL"), Value::Null);
    s.cli()
        .cwd(&dir)
        .run(&["env", "set", "API_URL", "https://one.example"])
        .ok();
    assert_eq!(
        value("API_URL"),
        "https://one.example",
        "visible on the next call"
    );
    s.cli()
        .cwd(&dir)
        .run(&["env", "set", "API_URL=https://two.example"])
        .ok();
    assert_eq!(value("API_URL"), "https://two.example");
    s.cli()
        .cwd(&dir)
        .run_with_stdin(&["env", "set", "SECRET"], "from stdin\n")
        .ok();
    std::fs::write(dir.join("cert.pem"), "line1\nline2").unwrap();
    s.cli()
        .cwd(&dir)
        .run(&["env", "set", "CERT", "--from-file", "cert.pem"])
        .ok();
    assert_eq!(
        s.cli()
            .cwd(&dir)
            .run(&["env", "get", "SECRET"])
            .ok()
            .stdout
            .trim(),
        "from stdin"
    );
    assert_eq!(value("CERT"), "line1\nline2");
    let all = s
        .cli()
        .cwd(&dir)
        .run(&["env", "list", "--json"])
        .ok()
        .json();
    assert_eq!(
        all,
        json!({"API_URL": "https://two.example", "CERT": "line1\nline2", "SECRET": "from stdin"})
    );
    s.cli().cwd(&dir).run(&["env", "remove", "SECRET"]).ok();
    assert_eq!(s.cli().cwd(&dir).run(&["env", "get", "SECRET"]).code, 1);
    // Name and size rules, with clear errors.
    let r = s.cli().cwd(&dir).run(&["env", "set", "1BAD", "x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("starting with a letter"), "{}", r.stderr);
    let big = "x".repeat(9000);
    let r = s.cli().cwd(&dir).run(&["env", "set", "BIG", &big]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at most 8 KiB"), "{}", r.stderr);
    // The HTTP routes of PROTOCOL §2.
    let name = s
        .cli()
        .cwd(&dir)
        .run(&["deployment", "show", "--json"])
        .ok()
        .json()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let token = s.admin_token();
    let (status, body) = common::http(
        &s.url,
        "POST",
        &format!("/d/{name}/api/v1/update_environment_variables"),
        &[("Authorization", Some(format!("Convex {token}")))],
        Some(r#"{"changes":[{"name":"A","value":"1"},{"name":"API_URL","value":null}]}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (_, body) = common::http(
        &s.url,
        "GET",
        &format!("/d/{name}/api/v1/list_environment_variables"),
        &[("Authorization", Some(format!("Convex {token}")))],
        None,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"environmentVariables": {"A": "1", "CERT": "line1\nline2"}})
    );
}

#[test]
fn project_defaults_are_copied_into_new_deployments_only() {
    let s = TestServer::start(&[]);
    let old = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/old",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    s.cli()
        .run(&["env", "default", "set", "GREETING=hello", "--type", "dev"])
        .ok();
    s.cli()
        .run(&["env", "default", "set", "LEVEL", "strict", "--type", "prod"])
        .ok();
    let listed = s
        .cli()
        .run(&["env", "default", "list", "--json"])
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let new = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/new",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let vars = |d: &Value| {
        s.cli()
            .run(&[
                "env",
                "list",
                "--json",
                "--deployment",
                d["name"].as_str().unwrap(),
            ])
            .ok()
            .json()
    };
    assert_eq!(vars(&new), json!({"GREETING": "hello"}));
    assert_eq!(vars(&old), json!({}), "existing deployments are unchanged");
    let prod = s
        .cli()
        .run(&["deployment", "create", "--type", "prod", "--json"])
        .ok()
        .json();
    assert_eq!(vars(&prod), json!({"LEVEL": "strict"}));
    // Members may not change defaults, and do not see prod's.
    let bob = s
        .cli()
        .run(&["member", "add", "bob"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let bob = || {
        s.cli_as_stranger("bob")
            .url(&s.url)
            .env("BERTH_ACCESS_TOKEN", &bob)
    };
    let r = bob().run(&["env", "default", "set", "X=1", "--type", "dev"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("only admins of project"), "{}", r.stderr);
    let seen = bob().run(&["env", "default", "list", "--json"]).ok().json();
    assert_eq!(
        seen,
        json!([{"name": "GREETING", "deploymentType": "dev", "value": "hello"}])
    );
}

#[test]
fn logs_keep_every_line_and_follow_new_ones() {
    let s = TestServer::start(&[]);
    let dir = app(&s, "app");
    s.cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "create",
            "dev/admin/logs",
            "--type",
            "dev",
            "--select",
        ])
        .ok();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", "dev/admin/logs"])
        .ok();
    for n in 1..=3 {
        s.cli()
            .cwd(&dir)
            .run(&["run", "ops:chatty", &format!(r#"{{"n":{n}}}"#)])
            .ok();
    }
    let _ = s.cli().cwd(&dir).run(&["run", "ops:noisyQuery"]);
    let r = s.cli().cwd(&dir).run(&["logs", "--history", "3"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].contains("[INFO] ops.js:chatty") && lines[0].ends_with("'line' 3"),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].contains("[LOG] ops.js:noisyQuery") && lines[1].ends_with("'query says hi'"),
        "{}",
        r.stdout
    );
    assert!(
        lines[2].contains("[ERROR] ops.js:noisyQuery")
            && lines[2].contains("Uncaught Error: query failed"),
        "{}",
        r.stdout
    );
    assert!(
        lines[3].contains("at handler (convex/ops.ts:"),
        "the error's stack follows: {}",
        r.stdout
    );
    let entries = s
        .cli()
        .cwd(&dir)
        .run(&["logs", "--history", "5", "--json"])
        .ok()
        .stdout;
    assert_eq!(
        entries.lines().count(),
        5,
        "one JSON object per entry: {entries}"
    );
    let json_lines = s
        .cli()
        .cwd(&dir)
        .run(&["logs", "--history", "1", "--json"])
        .ok();
    let entry: Value = serde_json::from_str(json_lines.stdout.trim()).unwrap();
    assert_eq!(entry["requestId"].as_str().unwrap().len(), 16);

    // --follow prints lines as they happen.
    let mut follower = std::process::Command::new(common::BIN)
        .args(["logs", "--follow", "--history", "1", "--json"])
        .env("BERTH_HOME", &s.home)
        .env("BERTH_URL", &s.url)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(follower.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    s.cli()
        .cwd(&dir)
        .run(&["run", "ops:chatty", r#"{"n":42}"#])
        .ok();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut next = String::new();
        let _ = reader.read_line(&mut next);
        let _ = tx.send(next);
    });
    let next = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the follower printed the new line");
    let _ = follower.kill();
    let _ = follower.wait();
    let entry: Value = serde_json::from_str(next.trim()).unwrap();
    assert_eq!(entry["text"], "'line' 42", "{next}");
}

#[test]
fn what_each_deployment_type_shows_its_clients() {
    let s = TestServer::start(&[]);
    let dir = app(&s, "app");
    let mut names = Vec::new();
    for (reference, ty) in [
        ("dev/admin/table", "dev"),
        ("preview/table", "preview"),
        ("production", "prod"),
    ] {
        let d = s
            .cli()
            .run(&["deployment", "create", reference, "--type", ty, "--json"])
            .ok()
            .json();
        let name = d["name"].as_str().unwrap().to_string();
        s.cli()
            .cwd(&dir)
            .run(&["deploy", "--deployment", &name, "--yes"])
            .ok();
        names.push((ty, name));
    }
    let js = common::npm_package("convex");
    let check = |ty: &str, name: &str, details: bool, logs: bool| {
        for (kind, word) in [
            ("query", "query"),
            ("mutation", "mutation"),
            ("action", "action"),
        ] {
            let f = format!("ops:noisy{}{}", word[..1].to_uppercase(), &word[1..]);
            let v = post(
                &s,
                &format!("/d/{name}/api/{kind}"),
                &format!(r#"{{"path":"{f}","args":{{}}}}"#),
            );
            assert_eq!(v["status"], "error", "{ty} {kind}: {v}");
            let msg = v["errorMessage"].as_str().unwrap();
            assert!(msg.starts_with("[Request ID: "), "{ty} {kind}: {msg}");
            assert_eq!(
                msg.contains(&format!("Uncaught Error: {word} failed")),
                details,
                "{ty} {kind} details: {msg}"
            );
            assert_eq!(v.get("logLines").is_some(), logs, "{ty} {kind} logs: {v}");
            if logs {
                assert_eq!(v["logLines"], json!([format!("[LOG] '{word} says hi'")]));
            }
        }
        let v = post(
            &s,
            &format!("/d/{name}/api/mutation"),
            r#"{"path":"ops:rejects","args":{}}"#,
        );
        assert_eq!(
            v["errorData"],
            json!({"code": "Rejected"}),
            "{ty}: ConvexError data is always sent"
        );
        // The same through Convex's own client.
        let out = std::process::Command::new("node")
            .arg("settings.mjs")
            .current_dir(&js)
            .env("BERTH_DEPLOYMENT_URL", format!("{}/d/{name}", s.url))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
        for (kind, word) in [
            ("query", "query"),
            ("mutation", "mutation"),
            ("action", "action"),
        ] {
            let msg = seen[kind].as_str().unwrap();
            assert_eq!(
                msg.contains(&format!("{word} failed")),
                details,
                "ConvexHttpClient {ty} {kind}: {msg}"
            );
        }
        assert_eq!(seen["data"], json!({"code": "Rejected"}));
    };
    for (ty, name) in &names {
        let (details, logs) = if *ty == "prod" {
            (false, false)
        } else {
            (true, true)
        };
        check(ty, name, details, logs);
    }
    // The full error is in the deployment's log under the request id, even where hidden.
    let prod = &names[2].1;
    let v = post(
        &s,
        &format!("/d/{prod}/api/query"),
        r#"{"path":"ops:noisyQuery","args":{}}"#,
    );
    let id = v["errorMessage"]
        .as_str()
        .unwrap()
        .trim_start_matches("[Request ID: ")
        .split(']')
        .next()
        .unwrap()
        .to_string();
    let logged = s
        .cli()
        .run(&["logs", "--history", "5", "--json", "--deployment", prod])
        .ok()
        .stdout;
    assert!(
        logged
            .lines()
            .any(|l| l.contains(&id) && l.contains("Uncaught Error: query failed")),
        "{logged}"
    );
    // Flip one setting: the next call follows it.
    s.cli()
        .run(&[
            "deployment",
            "update",
            prod,
            "--setting",
            "sendErrorDetailsToClient=true",
            "--yes",
        ])
        .ok();
    check("prod with details", prod, true, false);
    s.cli()
        .run(&[
            "deployment",
            "update",
            &names[0].1,
            "--setting",
            "sendLogsToClient=false",
        ])
        .ok();
    check("dev without logs", &names[0].1, true, false);
}

#[test]
fn berth_dev_pushes_on_every_change() {
    let s = TestServer::start(&[]);
    let dir = app(&s, "app");
    s.cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "create",
            "dev/admin/watch",
            "--type",
            "dev",
            "--select",
        ])
        .ok();
    std::fs::write(
        dir.join("convex/version.ts"),
        "import { query } from './_generated/server';\nexport const get = query(async () => 1);\n",
    )
    .unwrap();
    let r = s.cli().cwd(&dir).run(&["dev", "--once"]).ok();
    assert!(r.stderr.contains("Deployed in"), "{}", r.stderr);
    let version = || {
        s.cli()
            .cwd(&dir)
            .run(&["run", "version:get"])
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(version(), "1");
    let mut watcher = std::process::Command::new(common::BIN)
        .arg("dev")
        .env("BERTH_HOME", &s.home)
        .env("BERTH_URL", &s.url)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    std::fs::write(
        dir.join("convex/version.ts"),
        "import { query } from './_generated/server';\nexport const get = query(async () => 2);\n",
    )
    .unwrap();
    let started = Instant::now();
    while version() != "2" {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "berth dev did not push the change"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A broken save is reported with file and line; the old code keeps serving.
    std::fs::write(dir.join("convex/version.ts"), "export const get = ;\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(version(), "2");
    let _ = watcher.kill();
    let _ = watcher.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut watcher.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("convex/version.ts:1:"), "{err}");
    // Not against production.
    s.cli()
        .run(&["deployment", "create", "--type", "prod"])
        .ok();
    let r = s
        .cli()
        .cwd(&dir)
        .run(&["dev", "--once", "--deployment", "prod"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("does not run against a production deployment"),
        "{}",
        r.stderr
    );
}
