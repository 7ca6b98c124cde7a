//! Deployments end to end (issue: create, select, list, update, delete, expire), with the real
//! binaries.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::Value;
use std::time::{Duration, Instant};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn workdir(s: &TestServer, name: &str) -> std::path::PathBuf {
    let d = s.dir.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_exact_line_creates_and_selects() {
    let s = TestServer::start(&[]);
    let dir = workdir(&s, "app");
    std::fs::write(
        dir.join(".env.local"),
        "# my notes\nOTHER=keep me  # as is\n",
    )
    .unwrap();
    let r = s
        .cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "create",
            "dev/james/feature-payment-integration",
            "--type=dev",
            "--region",
            "us",
            "--expiration",
            "in 7 days",
            "--select",
        ])
        .ok();
    let name = r.stdout.trim().to_string();
    assert!(berth_model_like_name(&name), "{name}");
    assert!(
        r.stderr.contains(&format!(
            "[Development] default:default:dev/james/feature-payment-integration ({name})"
        )),
        "{}",
        r.stderr
    );
    let env = std::fs::read_to_string(dir.join(".env.local")).unwrap();
    assert!(
        env.starts_with("# my notes\nOTHER=keep me  # as is\n"),
        "{env}"
    );
    assert!(
        env.contains(&format!(
            "CONVEX_DEPLOYMENT=dev:{name} # team: default, project: default\n"
        )),
        "{env}"
    );
    assert!(
        env.contains(&format!("CONVEX_URL={}/d/{name}\n", s.url)),
        "{env}"
    );
    assert!(env.contains(&format!("BERTH_URL={}\n", s.url)), "{env}");
    assert_eq!(
        std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
        ".env.local\n"
    );

    // `show` with no selector uses .env.local.
    let d = s
        .cli()
        .cwd(&dir)
        .run(&["deployment", "show", "--json"])
        .ok()
        .json();
    assert_eq!(d["name"], name.as_str());
    assert_eq!(d["kind"], "cloud");
    assert_eq!(d["deploymentType"], "dev");
    assert_eq!(d["region"], "us");
    assert_eq!(d["creator"], "admin");
    assert_eq!(d["isDefault"], false);
    let week = 7 * 24 * 3_600_000;
    let expires = d["expiresAt"].as_i64().unwrap();
    assert!(
        (expires - (now_ms() + week)).abs() < 60_000,
        "expires in 7 days"
    );

    // Selecting again rewrites in place: same lines, one CONVEX_DEPLOYMENT.
    s.cli().cwd(&dir).run(&["deployment", "select", &name]).ok();
    assert_eq!(
        std::fs::read_to_string(dir.join(".env.local")).unwrap(),
        env
    );
}

fn berth_model_like_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1].chars().all(|c| c.is_ascii_lowercase())
        && parts[2].chars().all(|c| c.is_ascii_digit())
}

#[test]
fn each_invalid_reference_is_refused_with_its_own_message() {
    let s = TestServer::start(&[]);
    for (reference, message) in [
        ("ab", "3 to 100 characters"),
        (&*"x".repeat(101), "3 to 100 characters"),
        ("dev/with space", "' ' is not allowed"),
        ("dev_x", "'_' is not allowed"),
        ("happy-otter-123", "looks like a generated deployment name"),
        ("local-mine", "starting with 'local-'"),
        ("prod", "reserved word"),
        ("default", "reserved word"),
        ("new", "reserved word"),
    ] {
        let r = s
            .cli()
            .run(&["deployment", "create", reference, "--type", "dev"]);
        assert_eq!(r.code, 1, "{reference}");
        assert!(r.stderr.contains(message), "{reference}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    }
    s.cli()
        .run(&["deployment", "create", "staging", "--type", "dev"])
        .ok();
    let r = s
        .cli()
        .run(&["deployment", "create", "Staging", "--type", "dev"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("already has a deployment with reference 'Staging'"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&[
        "deployment",
        "create",
        "eu-thing",
        "--type",
        "dev",
        "--region",
        "eu",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("unknown region 'eu'; this server offers: us"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&[
        "deployment",
        "create",
        "later",
        "--type",
        "dev",
        "--expiration",
        "in 1 minute",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("at least 30m") && r.stderr.contains("accepted forms"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&[
        "deployment",
        "create",
        "later",
        "--type",
        "dev",
        "--expiration",
        "next tuesday",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("in N seconds|minutes|hours|days|weeks"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&["deployment", "create", "later"]);
    assert_eq!(r.code, 2, "no --type and no terminal");
    assert!(r.stderr.contains("--type"), "{}", r.stderr);
}

#[test]
fn every_selector_form_and_the_deployment_flag() {
    let s = TestServer::start(&["--regions", "us,eu"]);
    let admin = || s.cli();
    admin().run(&["team", "create", "acme"]).ok();
    admin()
        .run(&["project", "create", "web", "--team", "acme"])
        .ok();
    let in_web = ["--team", "acme", "--project", "web"];
    let create = |args: &[&str]| {
        let mut a = vec!["deployment", "create"];
        a.extend_from_slice(args);
        a.extend_from_slice(&in_web);
        a.push("--json");
        admin().run(&a).ok().json()
    };
    let dev = create(&["--type", "dev"]);
    assert_eq!(dev["reference"], "dev/admin");
    assert_eq!(
        dev["isDefault"], true,
        "the first dev/<you> is your default"
    );
    let staging = create(&["staging", "--type", "dev", "--region", "eu"]);
    assert_eq!(staging["region"], "eu");
    assert_eq!(staging["isDefault"], false);
    let prod = create(&["--type", "prod"]);
    assert_eq!(prod["reference"], "production");
    assert_eq!(prod["isDefault"], true);
    assert_eq!(prod["sendLogsToClient"], false);
    assert_eq!(prod["editableBy"], "admins");
    let preview = create(&["preview/fix-login", "--type", "preview"]);
    let expires = preview["expiresAt"].as_i64().unwrap();
    assert!(
        (expires - (now_ms() + 14 * 24 * 3_600_000)).abs() < 60_000,
        "business plan previews live 14 days"
    );

    let name = |v: &Value| v["name"].as_str().unwrap().to_string();
    let show = |extra: &[&str]| {
        let mut a = vec!["deployment", "show", "--json"];
        a.extend_from_slice(extra);
        admin().run(&a).ok().json()["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(show(&[&name(&staging)]), name(&staging), "name");
    assert_eq!(
        show(&["acme:web:staging"]),
        name(&staging),
        "team:project:ref"
    );
    assert_eq!(
        show(&["web:staging", "--team", "acme"]),
        name(&staging),
        "project:ref"
    );
    assert_eq!(
        show(&["staging", "--team", "acme", "--project", "web"]),
        name(&staging),
        "ref"
    );
    assert_eq!(
        show(&["dev", "--team", "acme", "--project", "web"]),
        name(&dev),
        "dev"
    );
    assert_eq!(
        show(&["prod", "--team", "acme", "--project", "web"]),
        name(&prod),
        "prod"
    );
    assert_eq!(show(&["acme:web:preview/fix-login"]), name(&preview));
    // The global flag on another command.
    assert_eq!(show(&["--deployment", "acme:web:staging"]), name(&staging));
    let r = admin().run(&["deployment", "show", "acme:web:nothing"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no deployment with reference 'nothing' in project 'acme:web'"),
        "{}",
        r.stderr
    );

    // Selecting links the folder: later commands default to its project.
    let dir = workdir(&s, "linked");
    admin()
        .cwd(&dir)
        .run(&["deployment", "select", "acme:web:staging"])
        .ok();
    assert_eq!(
        admin()
            .cwd(&dir)
            .run(&["deployment", "show", "dev", "--json"])
            .ok()
            .json()["name"],
        dev["name"],
        "`dev` resolves in the linked project"
    );
    let listed = admin()
        .cwd(&dir)
        .run(&["deployment", "list", "--json"])
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 4);
    let previews = admin()
        .cwd(&dir)
        .run(&["deployment", "list", "--type", "preview", "--json"])
        .ok()
        .json();
    assert_eq!(previews.as_array().unwrap().len(), 1);

    // Production is never selected.
    let before = std::fs::read_to_string(dir.join(".env.local")).unwrap();
    let r = admin().cwd(&dir).run(&["deployment", "select", "prod"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("Selecting a production deployment is unsupported"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".env.local")).unwrap(),
        before
    );
    let r = admin().cwd(&dir).run(&[
        "deployment",
        "create",
        "prod-two",
        "--type",
        "prod",
        "--select",
    ]);
    assert_eq!(r.code, 2);

    // No selection anywhere: a clear error.
    let r = admin()
        .cwd(&workdir(&s, "empty"))
        .run(&["deployment", "show"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no deployment selected"), "{}", r.stderr);
    // CONVEX_DEPLOYMENT in the environment works too.
    let r = admin()
        .cwd(&workdir(&s, "env"))
        .env("CONVEX_DEPLOYMENT", format!("dev:{}", name(&staging)))
        .run(&["deployment", "show", "--json"])
        .ok();
    assert_eq!(r.json()["name"], staging["name"]);
}

#[test]
fn members_edit_dev_but_not_prod_and_confirmations_need_yes() {
    let s = TestServer::start(&[]);
    let prod = s
        .cli()
        .run(&["deployment", "create", "--type", "prod", "--json"])
        .ok()
        .json();
    let prod_name = prod["name"].as_str().unwrap().to_string();
    let bob_token = s
        .cli()
        .run(&["member", "add", "bob"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let bob = || {
        s.cli_as_stranger("bob")
            .url(&s.url)
            .env("BERTH_ACCESS_TOKEN", &bob_token)
    };

    let r = bob().run(&["deployment", "create", "prod-2", "--type", "prod"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("only admins of project 'default:default' may create production deployments"),
        "{}",
        r.stderr
    );
    let r = bob().run(&[
        "deployment",
        "update",
        &prod_name,
        "--expiration",
        "in 2 days",
        "--yes",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("may be edited only by admins"),
        "{}",
        r.stderr
    );
    let r = bob().run(&["deployment", "delete", &prod_name, "--yes"]);
    assert_eq!(r.code, 1);
    // Bob may see prod.
    bob().run(&["deployment", "show", "prod"]).ok();

    let dev = bob()
        .run(&["deployment", "create", "--type", "dev", "--json"])
        .ok()
        .json();
    assert_eq!(dev["reference"], "dev/bob");
    assert_eq!(dev["isDefault"], true);
    let dev_name = dev["name"].as_str().unwrap().to_string();
    let updated = bob()
        .run(&[
            "deployment",
            "update",
            &dev_name,
            "--setting",
            "sendLogsToClient=false",
            "--expiration",
            "in 3 days",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(updated["sendLogsToClient"], false);
    assert!(updated["expiresAt"].is_i64());
    let cleared = bob()
        .run(&[
            "deployment",
            "update",
            &dev_name,
            "--expiration",
            "none",
            "--setting",
            "sendLogsToClient=default",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(cleared["expiresAt"], Value::Null);
    assert_eq!(cleared["sendLogsToClient"], true);
    let r = bob().run(&[
        "deployment",
        "update",
        &dev_name,
        "--setting",
        "editableBy=admins",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("only admins of project"), "{}", r.stderr);

    // Prod asks for confirmation: without a terminal, --yes is required.
    let r = s.cli().run(&[
        "deployment",
        "update",
        &prod_name,
        "--expiration",
        "in 30 days",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    s.cli()
        .run(&[
            "deployment",
            "update",
            &prod_name,
            "--setting",
            "editableBy=members",
            "--yes",
        ])
        .ok();
    // Now bob may edit prod.
    bob()
        .run(&[
            "deployment",
            "update",
            &prod_name,
            "--reference",
            "production-main",
            "--yes",
        ])
        .ok();
    let r = s.cli().run(&[
        "deployment",
        "update",
        &dev_name,
        "--reference",
        "production-main",
    ]);
    assert_eq!(r.code, 1, "reference taken");

    bob().run(&["deployment", "delete", &dev_name]).ok();
    let r = bob().run(&["deployment", "delete", &dev_name]);
    assert_eq!(r.code, 1);
    bob()
        .run(&["deployment", "delete", &dev_name, "--if-exists"])
        .ok();

    // The audit log has creations, updates and deletions.
    let (status, body) = s.http(
        "GET",
        "/v1/teams/default/audit_log",
        Some(&s.admin_token()),
        None,
    );
    assert_eq!(status, 200);
    let log: Value = serde_json::from_str(&body).unwrap();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "create_deployment",
        "update_deployment",
        "delete_deployment",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let (status, _) = s.http("GET", "/v1/teams/default/audit_log", Some(&bob_token), None);
    assert_eq!(status, 403, "members do not read the audit log");
}

#[test]
fn a_free_team_reaches_its_limit_and_deleting_frees_room() {
    let s = TestServer::start(&[]);
    s.cli()
        .run(&["team", "create", "tiny", "--plan", "free"])
        .ok();
    let project = s
        .cli()
        .run(&["project", "create", "app", "--team", "tiny", "--json"])
        .ok()
        .json();
    let id = project["id"].as_i64().unwrap();
    let token = s.admin_token();
    for i in 0..40 {
        let (status, body) = s.http(
            "POST",
            &format!("/v1/projects/{id}/create_deployment"),
            Some(&token),
            Some(&format!(r#"{{"type":"dev","reference":"dev/n{i}"}}"#)),
        );
        assert_eq!(status, 200, "{body}");
    }
    let r = s.cli().run(&[
        "deployment",
        "create",
        "dev/one-more",
        "--type",
        "dev",
        "--team",
        "tiny",
        "--project",
        "app",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("team 'tiny' has reached its limit of 40 deployments"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("delete deployments"), "{}", r.stderr);
    let (status, body) = s.http(
        "POST",
        &format!("/v1/projects/{id}/create_deployment"),
        Some(&token),
        Some(r#"{"type":"dev","reference":"dev/one-more"}"#),
    );
    assert_eq!(status, 409);
    assert!(body.contains("DeploymentLimitReached"));
    s.cli()
        .run(&["deployment", "delete", "tiny:app:dev/n0"])
        .ok();
    s.cli()
        .run(&[
            "deployment",
            "create",
            "dev/one-more",
            "--type",
            "dev",
            "--team",
            "tiny",
            "--project",
            "app",
        ])
        .ok();
}

#[test]
fn expired_deployments_are_refused_at_once_and_reaped_within_the_interval() {
    let s = TestServer::start(&["--min-expiration", "1s", "--reap-interval", "1s"]);
    let d = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/short",
            "--type",
            "dev",
            "--expiration",
            "in 2 seconds",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    let expires = d["expiresAt"].as_i64().unwrap();
    let token = s.admin_token();
    // Refused (410) the moment it expires.
    while now_ms() < expires {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = s.http(
        "GET",
        &format!("/v1/deployments/{name}"),
        Some(&token),
        None,
    );
    if status == 410 {
        assert!(body.contains("DeploymentExpired"), "{body}");
    } else {
        assert_eq!(
            status, 404,
            "either refused as expired or already reaped: {body}"
        );
    }
    // Gone within the interval (plus a margin for a loaded machine).
    let started = Instant::now();
    loop {
        let (status, _) = s.http(
            "GET",
            &format!("/v1/deployments/{name}"),
            Some(&token),
            None,
        );
        if status == 404 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not reaped 5 s after expiring"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, body) = s.http("GET", "/v1/teams/default/audit_log", Some(&token), None);
    assert!(
        body.contains("reap_deployment") && body.contains(&name),
        "{body}"
    );
}

#[test]
fn expired_deployments_do_not_count_toward_the_limit() {
    let s = TestServer::start(&["--min-expiration", "1s", "--reap-interval", "1h"]);
    s.cli()
        .run(&["team", "create", "tiny", "--plan", "free"])
        .ok();
    let id = s
        .cli()
        .run(&["project", "create", "app", "--team", "tiny", "--json"])
        .ok()
        .json()["id"]
        .as_i64()
        .unwrap();
    let token = s.admin_token();
    for i in 0..40 {
        let expiration = if i == 0 {
            r#","expiration":"in 1 second""#
        } else {
            ""
        };
        let (status, body) = s.http(
            "POST",
            &format!("/v1/projects/{id}/create_deployment"),
            Some(&token),
            Some(&format!(
                r#"{{"type":"dev","reference":"dev/n{i}"{expiration}}}"#
            )),
        );
        assert_eq!(status, 200, "{body}");
    }
    std::thread::sleep(Duration::from_millis(1100));
    s.cli()
        .run(&[
            "deployment",
            "create",
            "dev/after",
            "--type",
            "dev",
            "--team",
            "tiny",
            "--project",
            "app",
        ])
        .ok();
}

#[test]
fn another_teams_member_sees_none_of_the_first_teams_deployments() {
    let s = TestServer::start(&[]);
    let d = s
        .cli()
        .run(&["deployment", "create", "staging", "--type", "dev", "--json"])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap();
    s.cli().run(&["team", "create", "other"]).ok();
    let carol_token = s
        .cli()
        .run(&["member", "add", "carol", "--team", "other"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let carol = || {
        s.cli_as_stranger("carol")
            .url(&s.url)
            .env("BERTH_ACCESS_TOKEN", &carol_token)
    };
    let r = carol().run(&["deployment", "show", name]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains(&format!("no deployment named '{name}' that you can see")),
        "{}",
        r.stderr
    );
    let r = carol().run(&["deployment", "list", "--team", "default"]);
    assert_eq!(r.code, 1);
    let r = carol().run(&["deployment", "delete", name, "--yes"]);
    assert_eq!(r.code, 1);
    let (status, _) = s.http(
        "GET",
        "/v1/projects/1/list_deployments",
        Some(&carol_token),
        None,
    );
    assert_eq!(status, 404);
    carol()
        .run(&["project", "create", "theirs", "--team", "other"])
        .ok();
    let list = carol()
        .run(&[
            "deployment",
            "list",
            "--team",
            "other",
            "--project",
            "theirs",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn init_links_a_folder_and_reuses_the_default_dev_deployment() {
    let s = TestServer::start(&[]);
    let dir = workdir(&s, "proj");
    let first = s.cli().cwd(&dir).run(&["init", "--json"]).ok().json();
    assert_eq!(first["reference"], "dev/admin");
    assert_eq!(first["isDefault"], true);
    assert!(dir.join("convex/messages.ts").exists());
    let env = std::fs::read_to_string(dir.join(".env.local")).unwrap();
    assert!(env.contains(&format!(
        "CONVEX_DEPLOYMENT=dev:{} # team: default, project: default",
        first["name"].as_str().unwrap()
    )));
    let again = s.cli().cwd(&dir).run(&["init", "--json"]).ok().json();
    assert_eq!(again["name"], first["name"]);
    // init team:project creates the project when it does not exist, and links to it.
    let other = workdir(&s, "other");
    let d = s
        .cli()
        .cwd(&other)
        .run(&["init", "default:shop", "--json"])
        .ok()
        .json();
    assert_eq!(d["projectSlug"], "shop");
    let listed = s
        .cli()
        .cwd(&other)
        .run(&["deployment", "list", "--json"])
        .ok()
        .json();
    assert_eq!(listed[0]["projectSlug"], "shop");
}

#[test]
fn expired_but_unreaped_deployments_can_be_deleted_and_their_reference_reused() {
    let s = TestServer::start(&["--min-expiration", "1s", "--reap-interval", "1h"]);
    s.cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/short",
            "--type",
            "dev",
            "--expiration",
            "in 1 second",
        ])
        .ok();
    std::thread::sleep(Duration::from_millis(1100));
    let r = s.cli().run(&["deployment", "show", "dev/admin/short"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("has expired"), "{}", r.stderr);
    // The reference is free again for a new deployment (the old one is reaped on the spot).
    let again = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/short",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(again["reference"], "dev/admin/short");
    s.cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/other",
            "--type",
            "dev",
            "--expiration",
            "in 1 second",
        ])
        .ok();
    std::thread::sleep(Duration::from_millis(1100));
    s.cli()
        .run(&["deployment", "delete", "dev/admin/other"])
        .ok();
}

#[test]
fn dev_references_belong_to_their_member_and_slashes_are_checked() {
    let s = TestServer::start(&[]);
    let bob = s
        .cli()
        .run(&["member", "add", "bob"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let r = s
        .cli()
        .run(&["deployment", "create", "dev/bob/feature", "--type", "dev"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("belong to the member 'bob'"),
        "{}",
        r.stderr
    );
    s.cli_as_stranger("bob")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", &bob)
        .run(&["deployment", "create", "dev/bob/feature", "--type", "dev"])
        .ok();
    s.cli()
        .run(&["deployment", "create", "dev/nobody/x", "--type", "dev"])
        .ok();
    for bad in ["/abc", "abc/", "a//b"] {
        let r = s.cli().run(&["deployment", "create", bad, "--type", "dev"]);
        assert!(
            r.stderr.contains("'/' separates parts"),
            "{bad}: {}",
            r.stderr
        );
    }
    let token = s.admin_token();
    let (status, body) = s.http(
        "POST",
        "/v1/projects/1/create_deployment",
        Some(&token),
        Some(r#"{"type":"preview","previewIdentifier":"---"}"#),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.http(
        "POST",
        "/v1/projects/1/create_deployment",
        Some(&token),
        Some(r#"{"type":"dev","reference":"dev/admin/secs","expiresAt":1895681850}"#),
    );
    assert_eq!(status, 400);
    assert!(body.contains("looks like seconds"), "{body}");
}
