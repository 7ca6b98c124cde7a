//! The agent worktree scripts of `docs/agents.md`, run as a person would: a worktree with its own
//! dev deployment (a day's expiration, a deploy key in its `.env.local`), set up twice (the
//! second run reuses everything), used with the key alone, then removed with its deployment.

#![allow(clippy::unwrap_used)]

mod common;

use common::{BIN, TestServer, repo};
use std::{path::Path, process::Command};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=agent@example.com",
            "-c",
            "user.name=Agent",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn script(s: &TestServer, cwd: &Path, name: &str, args: &[&str]) -> String {
    let out = Command::new(repo(&format!("docs/agents/{name}")))
        .args(args)
        .current_dir(cwd)
        .env("BERTH_BIN", BIN)
        .env("BERTH_HOME", &s.home)
        .env_remove("BERTH_URL")
        .env_remove("CONVEX_DEPLOY_KEY")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} {args:?} failed:\n{text}");
    text
}

#[test]
fn a_worktree_per_agent_with_its_own_deployment() {
    let s = TestServer::start(&[]);
    let main = s.dir.path().join("app");
    std::fs::create_dir_all(main.join("convex")).unwrap();
    std::fs::copy(
        repo("examples/messages/convex/messages.ts"),
        main.join("convex/messages.ts"),
    )
    .unwrap();
    git(&main, &["init", "-q", "-b", "main"]);
    git(&main, &["add", "."]);
    git(&main, &["commit", "-qm", "app"]);

    script(&s, &main, "worktree-add.sh", &["agent/fix-login"]);
    let tree = s.dir.path().join("app-agent-fix-login");
    let env_local = std::fs::read_to_string(tree.join(".env.local")).unwrap();
    let first_key = env_local
        .lines()
        .find_map(|l| l.strip_prefix("CONVEX_DEPLOY_KEY="))
        .expect("a deploy key in the worktree's .env.local")
        .to_string();
    let d = s
        .cli()
        .run(&["deployment", "show", "dev/admin/agent/fix-login", "--json"])
        .ok()
        .json();
    let name = d["name"].as_str().unwrap().to_string();
    common::assert_expires_within(&d, 23, 24);
    assert!(first_key.starts_with(&format!("dev:{name}|")));

    // Again: the same deployment, a fresh key, the old one revoked.
    let again = script(&s, &main, "worktree-add.sh", &["agent/fix-login"]);
    assert!(again.contains("already exists"), "{again}");
    let listed = s
        .cli()
        .run(&[
            "deployment",
            "list",
            "--search",
            "dev/admin/agent",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let env_local = std::fs::read_to_string(tree.join(".env.local")).unwrap();
    assert_eq!(
        env_local.matches("CONVEX_DEPLOY_KEY=").count(),
        1,
        "{env_local}"
    );
    assert!(!env_local.contains(&first_key), "the key was not renewed");

    // The agent in the worktree: no login, the key alone.
    let agent_home = s.dir.path().join("agent-home");
    std::fs::create_dir_all(&agent_home).unwrap();
    let run = common::Cli::new(agent_home, tree.clone())
        .env_remove("BERTH_URL")
        .run(&[
            "run",
            "messages:send",
            r#"{"author": "agent", "body": "from the worktree"}"#,
        ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (status, _) = common::http(
        &s.url,
        "POST",
        &format!("/d/{name}/api/function"),
        &[("Authorization", Some(format!("Convex {first_key}")))],
        Some(r#"{"path": "messages:count", "args": {}}"#),
    );
    assert_eq!(status, 401, "the replaced key still works");

    script(&s, &main, "worktree-remove.sh", &[tree.to_str().unwrap()]);
    assert!(!tree.exists(), "the worktree is still there");
    let gone = s.cli().run(&["deployment", "show", &name]);
    assert_ne!(
        gone.code, 0,
        "the deployment outlived its worktree: {}",
        gone.stdout
    );
}

#[test]
fn create_if_not_exists_and_seed_again() {
    let s = TestServer::start(&[]);
    let dir = s.dir.path().join("app");
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("examples/messages/convex/messages.ts"),
        dir.join("convex/messages.ts"),
    )
    .unwrap();
    let create = |ty: &str| {
        s.cli().cwd(&dir).run(&[
            "deployment",
            "create",
            "staging",
            "--type",
            ty,
            "--if-not-exists",
            "--json",
        ])
    };
    let first = create("dev").ok().json();
    let second = create("dev").ok();
    assert!(
        second.stderr.contains("already exists"),
        "{}",
        second.stderr
    );
    assert_eq!(second.json()["name"], first["name"]);
    let clash = create("preview");
    assert_ne!(clash.code, 0);
    assert!(
        clash.stderr.contains("already exists as a dev deployment"),
        "{}",
        clash.stderr
    );
    let bare = s
        .cli()
        .run(&["deployment", "create", "--type", "dev", "--if-not-exists"]);
    assert_eq!(bare.code, 2, "{}", bare.stderr);

    let name = first["name"].as_str().unwrap();
    s.cli()
        .cwd(&dir)
        .run(&["deploy", "--deployment", name])
        .ok();
    for _ in 0..2 {
        s.cli()
            .run(&[
                "deployment",
                "seed",
                "staging",
                "--run",
                "messages:send",
                r#"{"author": "seed", "body": "seeded again"}"#,
            ])
            .ok();
    }
    let data = s
        .cli()
        .run(&["data", "messages", "--deployment", name, "--json"])
        .ok()
        .stdout;
    assert_eq!(data.matches("seeded again").count(), 2, "{data}");
}
