//! Team lifecycle rules: previews never older than a team-wide maximum age, a new preview at the
//! deployment limit evicting the least recently deployed one (recorded in the audit log), and a
//! cap on each member's dev deployments.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::Value;

fn preview(s: &TestServer, reference: &str) -> common::Run {
    s.cli().run(&[
        "deployment",
        "create",
        reference,
        "--type",
        "preview",
        "--json",
    ])
}

#[test]
fn max_preview_age_caps_new_and_existing_previews() {
    let s = TestServer::start(&[]);
    let early = preview(&s, "preview/early").ok().json();
    common::assert_expires_within(&early, 14 * 24 - 1, 14 * 24);
    s.cli()
        .run(&["team", "update", "--max-preview-age", "2d"])
        .ok();
    let early = s
        .cli()
        .run(&["deployment", "show", "preview/early", "--json"])
        .ok()
        .json();
    common::assert_expires_within(&early, 47, 48);
    let late = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "preview/late",
            "--type",
            "preview",
            "--expiration",
            "in 10 days",
            "--json",
        ])
        .ok()
        .json();
    common::assert_expires_within(&late, 47, 48);
    let extended = s
        .cli()
        .run(&[
            "deployment",
            "update",
            "preview/late",
            "--expiration",
            "in 30 days",
            "--json",
        ])
        .ok()
        .json();
    common::assert_expires_within(&extended, 47, 48);
    let teams = s.cli().run(&["team", "list", "--json"]).ok().json();
    assert_eq!(teams[0]["maxPreviewAgeMs"], 2 * 24 * 3_600_000);
    // Dev deployments are not previews: no cap.
    let dev = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/long",
            "--type",
            "dev",
            "--expiration",
            "in 30 days",
            "--json",
        ])
        .ok()
        .json();
    common::assert_expires_within(&dev, 30 * 24 - 1, 30 * 24);
}

#[test]
fn at_the_limit_a_new_preview_evicts_the_least_recently_deployed() {
    let s = TestServer::start(&[]);
    s.cli()
        .run(&["team", "update", "default", "--deployment-limit", "3"])
        .ok();
    let names: Vec<String> = ["preview/a", "preview/b", "preview/c"]
        .iter()
        .map(|r| {
            preview(&s, r).ok().json()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let refused = preview(&s, "preview/d");
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("limit of 3"), "{}", refused.stderr);

    // preview/a is the oldest, but it was deployed to: preview/b is the least recently deployed.
    let dir = s.dir.path().join("app");
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::write(
        dir.join("convex/hi.ts"),
        "import { query } from './_generated/server';\nexport const hi = query(async () => 'hi');\n",
    )
    .unwrap();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", &names[0]])
        .ok();
    s.cli()
        .run(&["team", "update", "default", "--evict-previews", "true"])
        .ok();
    preview(&s, "preview/d").ok();
    let left: Vec<String> = s
        .cli()
        .run(&["deployment", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["preview/a", "preview/c", "preview/d"], "{left:?}");
    let (_, audit) = common::http(
        &s.url,
        "GET",
        "/v1/teams/default/audit_log",
        &[("Authorization", Some(format!("Bearer {}", s.admin_token())))],
        None,
    );
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let evicted: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "evict_preview")
        .collect();
    assert_eq!(evicted.len(), 1, "{audit}");
    assert_eq!(evicted[0]["target"], names[1].as_str());
    // Only previews are evicted: a dev deployment at the limit is still refused.
    let dev = s
        .cli()
        .run(&["deployment", "create", "dev/admin/x", "--type", "dev"]);
    assert_ne!(dev.code, 0, "{}", dev.stderr);
}

#[test]
fn each_member_holds_at_most_the_cap_of_dev_deployments() {
    let s = TestServer::start(&[]);
    let bob = s.cli().run(&["member", "add", "bob", "--json"]).ok().json()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let as_bob = |args: &[&str]| s.cli().env("BERTH_ACCESS_TOKEN", &bob).run(args);
    // Lifecycle rules are for team admins.
    let refused = as_bob(&["team", "update", "default", "--max-dev-per-member", "1"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("only admins of team 'default'"),
        "{}",
        refused.stderr
    );
    s.cli()
        .run(&["team", "update", "default", "--max-dev-per-member", "1"])
        .ok();
    as_bob(&["deployment", "create", "--type", "dev"]).ok();
    let second = as_bob(&["deployment", "create", "dev/bob/second", "--type", "dev"]);
    assert_ne!(second.code, 0);
    assert!(
        second.stderr.contains("1 dev deployments per member"),
        "{}",
        second.stderr
    );
    // Another member is not affected, and removing the cap lets bob create it.
    s.cli()
        .run(&["deployment", "create", "dev/admin/own", "--type", "dev"])
        .ok();
    s.cli()
        .run(&["team", "update", "default", "--max-dev-per-member", "none"])
        .ok();
    as_bob(&["deployment", "create", "dev/bob/second", "--type", "dev"]).ok();
}
