//! The dashboard in a real browser: Debian's Chromium driven by `playwright-core`
//! (`tests/js/dashboard.test.mjs`), against a real `berth serve` filled here with the CLI. After
//! the browser is done, every change it made is checked on berth's side, through the CLI.
//!
//! Without Chromium the test prints `SKIPPED` and passes, except under `CI=true`, where it fails:
//! `.ci/run` installs Chromium (`apt-get install chromium`) so that it runs there.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use std::path::PathBuf;

#[test]
fn the_dashboard_in_a_real_browser() {
    let Some(chromium) = common::chromium() else {
        return;
    };
    let js = common::npm_package("playwright-core");
    let s = TestServer::start(&[]);

    // A member, a dev and a prod deployment running the example app, a document in each, a key.
    let bob = s.cli().run(&["member", "add", "bob", "--json"]).ok().json()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = s.dir.path().join("app");
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("examples/messages/convex/messages.ts"),
        dir.join("convex/messages.ts"),
    )
    .unwrap();
    let create = |args: &[&str]| {
        let d = s.cli().cwd(&dir).run(args).ok().json();
        (
            d["name"].as_str().unwrap().to_string(),
            d["projectId"].as_i64().unwrap(),
        )
    };
    let (dev, project) = create(&[
        "deployment",
        "create",
        "dev/admin/demo",
        "--type",
        "dev",
        "--json",
    ]);
    let (prod, _) = create(&[
        "deployment",
        "create",
        "production",
        "--type",
        "prod",
        "--json",
    ]);
    for (d, msg) in [(&dev, "hello dev"), (&prod, "hello prod")] {
        s.cli()
            .cwd(&dir)
            .run(&["deploy", "--deployment", d, "--yes"])
            .ok();
        let args = format!(r#"{{"author": "ann", "body": "{msg}"}}"#);
        s.cli()
            .run(&["run", "messages:send", &args, "--deployment", d, "--yes"])
            .ok();
    }
    // A team-wide maximum preview age, and a preview it caps.
    s.cli()
        .run(&["team", "update", "default", "--max-preview-age", "2d"])
        .ok();
    s.cli()
        .run(&[
            "deployment",
            "create",
            "preview/capped",
            "--type",
            "preview",
        ])
        .ok();
    let key = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "create",
            "ci-key",
            "--deployment",
            &dev,
        ])
        .ok()
        .stdout
        .trim()
        .to_string();

    let shots = std::env::var("BERTH_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo("docs/screenshots"));
    let out = std::process::Command::new("node")
        .args(["--test", "--test-concurrency=1", "dashboard.test.mjs"])
        .current_dir(&js)
        .env("BERTH_URL", &s.url)
        .env("ADMIN_TOKEN", s.admin_token())
        .env("MEMBER_TOKEN", &bob)
        .env("PROJECT_ID", project.to_string())
        .env("DEV_NAME", &dev)
        .env("PROD_NAME", &prod)
        .env("KEY_NAME", "ci-key")
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "the browser tests failed:\n{text}");
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );

    // What the browser did, seen by the CLI.
    let list = s.cli().run(&["deployment", "list", "--json"]).ok().json();
    let made = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reference"] == "dev/admin/from-dashboard")
        .expect("the deployment created in the dashboard");
    common::assert_expires_within(made, 71, 72);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|d| d["reference"] != "dev/admin/bad-expiry")
    );
    let env = s
        .cli()
        .run(&["env", "get", "GREETING", "--deployment", &dev])
        .ok();
    assert_eq!(env.stdout.trim(), "hello from the dashboard");
    for (d, body) in [(&dev, "edited on dev"), (&prod, "edited on prod")] {
        let data = s
            .cli()
            .run(&["data", "messages", "--deployment", d, "--json"])
            .ok()
            .stdout;
        assert!(data.contains(body), "{d}: {data}");
    }
    let (status, body) = common::http(
        &s.url,
        "POST",
        &format!("/d/{dev}/api/function"),
        &[("Authorization", Some(format!("Convex {key}")))],
        Some(r#"{"path": "messages:count", "args": {}}"#),
    );
    assert_eq!(status, 401, "the revoked key still works: {body}");
    let (_, audit) = common::http(
        &s.url,
        "GET",
        "/v1/teams/default/audit_log",
        &[("Authorization", Some(format!("Bearer {}", s.admin_token())))],
        None,
    );
    for action in [
        "replace_document",
        "update_environment_variables",
        "create_deployment",
    ] {
        assert!(
            audit.contains(action),
            "{action} is not in the audit log: {audit}"
        );
    }
}
