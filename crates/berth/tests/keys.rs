//! Deploy keys end to end with the real binaries: a key saved to a folder works without a login,
//! opens its deployment alone, dies when revoked; preview keys reach previews only; no secret
//! lands in the data directory, the log or an error body.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use std::path::Path;

fn workdir(s: &TestServer, name: &str) -> std::path::PathBuf {
    let d = s.dir.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CLI with no login at all: only what the folder (or `env`) provides.
fn keyed(s: &TestServer, dir: &Path) -> common::Cli {
    common::Cli::new(s.dir.path().join("nobody-home"), dir.to_path_buf())
}

#[test]
fn a_saved_deployment_key_works_alone_and_only_on_its_deployment() {
    let s = TestServer::start(&[]);
    let mine = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/agent-1",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let other = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/agent-2",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let (mine, other) = (
        mine["name"].as_str().unwrap().to_string(),
        other["name"].as_str().unwrap().to_string(),
    );

    let dir = workdir(&s, "worktree");
    let r = s
        .cli()
        .cwd(&dir)
        .run(&[
            "deployment",
            "token",
            "create",
            "agent",
            "--deployment",
            &mine,
            "--save-env",
        ])
        .ok();
    assert!(
        r.stdout.trim().is_empty(),
        "with --save-env the key is not printed: {}",
        r.stdout
    );
    let env = std::fs::read_to_string(dir.join(".env.local")).unwrap();
    let key = berth_key(&env);
    assert!(key.starts_with(&format!("dev:{mine}|")), "{env}");
    assert!(env.contains(&format!("BERTH_URL={}", s.url)));
    assert_eq!(common::mode(&dir.join(".env.local")), 0o600);
    assert!(
        std::fs::read_to_string(dir.join(".gitignore"))
            .unwrap()
            .contains(".env.local")
    );

    // No login, no BERTH_URL in the environment: the folder's key and URL are enough.
    let shown = keyed(&s, &dir).run(&["deployment", "show", "--json"]).ok();
    assert_eq!(shown.json()["name"], mine.as_str());
    assert!(
        shown.stderr.contains(&format!("({mine})")),
        "target block: {}",
        shown.stderr
    );
    let me = keyed(&s, &dir).run(&["whoami", "--json"]).ok().json();
    assert_eq!(me["deployKey"], format!("dev:{mine}|…"));
    keyed(&s, &dir)
        .run(&[
            "deployment",
            "update",
            &mine,
            "--setting",
            "sendLogsToClient=false",
        ])
        .ok();

    // The same key on another deployment: 403 naming both.
    let r = keyed(&s, &dir).run(&["deployment", "show", &other]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("dev:{mine}|…")) && r.stderr.contains(&other),
        "{}",
        r.stderr
    );
    // Nor teams, projects, other keys.
    for args in [
        &["team", "list"][..],
        &["project", "list"],
        &["deployment", "list"],
        &["deployment", "token", "create", "x"],
    ] {
        let r = keyed(&s, &dir).run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("deploy key"), "{args:?}: {}", r.stderr);
    }
    let r = keyed(&s, &dir).run(&["deployment", "delete", &mine]);
    assert_eq!(r.code, 1, "a key does not delete its deployment");

    // Listing shows the key with its last use; revoking ends it on the next request.
    let keys = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "list",
            "--deployment",
            &mine,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(keys[0]["name"], "agent");
    assert!(keys[0]["lastUsedTime"].is_i64(), "{keys}");
    assert!(!keys.to_string().contains(key.split('|').nth(1).unwrap()));
    s.cli()
        .run(&[
            "deployment",
            "token",
            "delete",
            "agent",
            "--deployment",
            &mine,
        ])
        .ok();
    let r = keyed(&s, &dir).run(&["deployment", "show"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not valid") && r.stderr.contains("revoked"),
        "{}",
        r.stderr
    );
}

fn berth_key(env: &str) -> String {
    env.lines()
        .find_map(|l| l.strip_prefix("CONVEX_DEPLOY_KEY="))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn keys_die_with_their_deployment_and_expire() {
    let s = TestServer::start(&[]);
    let d = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/short-lived",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    let key = s
        .cli()
        .run(&["deployment", "token", "create", "ci", "--deployment", &name])
        .ok()
        .stdout
        .trim()
        .to_string();
    let soon = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "create",
            "soon",
            "--deployment",
            &name,
            "--expiration",
            "in 1 second",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let (status, _) = s.http("GET", &format!("/v1/deployments/{name}"), Some(&key), None);
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, body) = s.http("GET", &format!("/v1/deployments/{name}"), Some(&soon), None);
    assert_eq!(status, 401);
    assert!(body.contains("has expired"), "{body}");
    s.cli().run(&["deployment", "delete", &name]).ok();
    let (status, body) = s.http("GET", "/v1/me", Some(&key), None);
    assert_eq!(status, 401, "{body}");

    // A key with its `|secret` eaten by the shell is explained, by the CLI and the server.
    let dir = workdir(&s, "eaten");
    let r = keyed(&s, &dir)
        .env("CONVEX_DEPLOY_KEY", format!("dev:{name}"))
        .env("BERTH_URL", &s.url)
        .run(&["deployment", "show"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("without its secret"), "{}", r.stderr);
    let (status, body) = s.http("GET", "/v1/me", Some(&format!("dev:{name}")), None);
    assert_eq!(status, 401);
    assert!(body.contains("quote the whole key"), "{body}");
}

#[test]
fn preview_deploy_keys_reach_previews_only_and_admins_make_them() {
    let s = TestServer::start(&[]);
    let bob_token = s
        .cli()
        .run(&["member", "add", "bob"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let r = s
        .cli_as_stranger("bob")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", &bob_token)
        .run(&["deploy-key", "create", "ci", "--preview"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("only admins of project 'default:default'"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&["deploy-key", "create", "ci"]);
    assert_eq!(r.code, 2, "--preview is required");
    let key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(key.starts_with("preview:default:default|"), "{key}");
    let dev = s
        .cli()
        .run(&["deployment", "create", "dev/x", "--type", "dev", "--json"])
        .ok()
        .json();

    let dir = workdir(&s, "ci");
    let ci = || {
        keyed(&s, &dir)
            .env("CONVEX_DEPLOY_KEY", &key)
            .env("BERTH_URL", &s.url)
    };
    let p = ci()
        .run(&[
            "deployment",
            "create",
            "preview/feature-1",
            "--type",
            "preview",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(p["creator"], "deploy key 'ci'");
    let listed = ci().run(&["deployment", "list", "--json"]).ok().json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["deploymentType"] == "preview"),
        "{listed}"
    );
    let r = ci().run(&["deployment", "create", "dev/sneaky", "--type", "dev"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("only preview deployments"),
        "{}",
        r.stderr
    );
    let r = ci().run(&["deployment", "show", dev["name"].as_str().unwrap()]);
    assert_eq!(r.code, 1);
    ci().run(&["deployment", "delete", "preview/feature-1"])
        .ok();

    let keys = s.cli().run(&["deploy-key", "list", "--json"]).ok().json();
    assert_eq!(keys[0]["name"], "ci");
    s.cli().run(&["deploy-key", "delete", "ci"]).ok();
    let r = ci().run(&["deployment", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not valid"), "{}", r.stderr);
}

#[test]
fn no_secret_reaches_the_data_directory_the_log_or_an_error() {
    let s = TestServer::start(&[]);
    let mut secrets = Vec::new();
    secrets.push(
        s.cli()
            .run(&["member", "add", "bob"])
            .ok()
            .stdout
            .trim()
            .to_string(),
    );
    let d = s
        .cli()
        .run(&["deployment", "create", "staging", "--type", "dev", "--json"])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap();
    let key = s
        .cli()
        .run(&["deployment", "token", "create", "ci", "--deployment", name])
        .ok()
        .stdout
        .trim()
        .to_string();
    secrets.push(key.clone());
    secrets.push(
        s.cli()
            .run(&["deploy-key", "create", "pk", "--preview"])
            .ok()
            .stdout
            .trim()
            .to_string(),
    );
    // Use them, and misuse them, so that they pass through every path that might log them.
    for secret in secrets.clone() {
        s.http("GET", "/v1/me", Some(&secret), None);
        s.http("GET", "/v1/teams", Some(&secret), None);
        let (_, body) = s.http("GET", "/v1/deployments/nope-nope-1", Some(&secret), None);
        assert!(
            !body.contains(secret_part(&secret)),
            "error body leaks a secret: {body}"
        );
        let tampered = format!("{}x", secret);
        let (_, body) = s.http("GET", "/v1/me", Some(&tampered), None);
        assert!(
            !body.contains(secret_part(&secret)),
            "error body leaks a secret: {body}"
        );
    }
    let mut s = s;
    s.stop();
    let mut haystacks = vec![("server log".to_string(), s.server_log().into_bytes())];
    let mut dirs = vec![s.data_dir.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path); // deployments/: each deployment's own data
                continue;
            }
            if path.file_name().is_some_and(|n| n == "admin-token") {
                continue; // the admin token is kept there in plain text by design (PRODUCT §5)
            }
            haystacks.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    for secret in &secrets {
        let needle = secret_part(secret).as_bytes();
        for (what, hay) in &haystacks {
            assert!(
                !hay.windows(needle.len()).any(|w| w == needle),
                "a secret is in plain text in {what}"
            );
        }
    }
}

fn secret_part(s: &str) -> &str {
    s.rsplit_once('|').map(|(_, x)| x).unwrap_or(s)
}
