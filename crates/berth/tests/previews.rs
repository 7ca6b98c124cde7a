//! Preview deployments from CI with only a preview deploy key (no login): names from each
//! platform's variables, reuse and recreate, seeding, failing seeds, scope, and the workflow
//! files in docs/ci/ run line by line.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

/// A checkout with the example app and nothing else: no login, no BERTH_HOME content.
fn checkout(s: &TestServer, name: &str) -> PathBuf {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::copy(
        repo("examples/messages/convex/messages.ts"),
        dir.join("convex/messages.ts"),
    )
    .unwrap();
    dir
}

/// A CI job: only the preview key and the server URL, plus the platform's variables.
fn ci(s: &TestServer, dir: &Path, key: &str, vars: &[(&str, &str)]) -> common::Cli {
    let mut c = common::Cli::new(s.dir.path().join("ci-home"), dir.to_path_buf())
        .env("CONVEX_DEPLOY_KEY", key)
        .env("BERTH_URL", &s.url);
    for k in [
        "CI",
        "VERCEL",
        "NETLIFY",
        "CF_PAGES",
        "WORKERS_CI",
        "GITHUB_HEAD_REF",
        "CI_COMMIT_REF_NAME",
        "GITHUB_ACTIONS",
        "GITHUB_SHA",
        "GITLAB_CI",
        "VERCEL_ENV",
        "CONTEXT",
        "GITHUB_EVENT_NAME",
        "CI_MERGE_REQUEST_IID",
    ] {
        c = c.env_remove(k);
    }
    for (k, v) in vars {
        c = c.env(k, v);
    }
    c
}

fn count(s: &TestServer, name: &str) -> Value {
    let (_, text) = common::http(
        &s.url,
        "POST",
        &format!("/d/{name}/api/query"),
        &[],
        Some(r#"{"path":"messages:count","args":{},"format":"json"}"#),
    );
    serde_json::from_str::<Value>(&text).unwrap()["value"].clone()
}

#[test]
fn previews_from_each_platform_with_only_a_preview_key() {
    let s = TestServer::start(&[]);
    let key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let dir = checkout(&s, "repo");
    let platforms: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("CI", "true"),
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_HEAD_REF", "feature/GitHub_1"),
                ("GITHUB_SHA", "abcdef1234567"),
            ],
            "preview/feature/GitHub-1",
        ),
        (
            &[
                ("CI", "true"),
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_REF_NAME", "fix/gitlab"),
            ],
            "preview/fix/gitlab",
        ),
        (
            &[("VERCEL", "1"), ("VERCEL_GIT_COMMIT_REF", "vercel-branch")],
            "preview/vercel-branch",
        ),
        (
            &[("NETLIFY", "true"), ("HEAD", "netlify.branch")],
            "preview/netlify-branch",
        ),
        (
            &[("CF_PAGES", "1"), ("CF_PAGES_BRANCH", "pages")],
            "preview/pages",
        ),
        (
            &[("WORKERS_CI", "1"), ("WORKERS_CI_BRANCH", "workers")],
            "preview/workers",
        ),
    ];
    for (vars, reference) in platforms {
        let r = ci(&s, &dir, &key, vars)
            .run(&["deploy", "--preview-run", "messages:seed", "--json"])
            .ok();
        let v = r.json();
        assert_eq!(v["reference"], *reference, "{vars:?}: {}", r.stderr);
        assert_eq!(v["isNewDeployment"], true);
        assert_eq!(v["seeded"], true);
        assert_eq!(
            count(&s, v["deploymentName"].as_str().unwrap()),
            json!(10),
            "seeded with 10 messages"
        );
    }
    // The raw branch is kept, and the default message names the platform and commit.
    let d = s
        .cli()
        .run(&["deployment", "show", "preview/feature/GitHub-1", "--json"])
        .ok()
        .json();
    assert_eq!(d["previewIdentifier"], "feature/GitHub_1");
    let expires = d["expiresAt"].as_i64().unwrap() - d["createTime"].as_i64().unwrap();
    assert_eq!(
        expires / 86_400_000,
        14,
        "the business plan's preview lifetime"
    );
    let (_, log) = s.http(
        "GET",
        "/v1/teams/default/audit_log",
        Some(&s.admin_token()),
        None,
    );
    assert!(
        log.contains("Deployed from GitHub Actions • abcdef1"),
        "{log}"
    );
    // No branch anywhere: a clear error.
    let r = ci(&s, &dir, &key, &[]).run(&["deploy"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--preview-name"), "{}", r.stderr);
}

#[test]
fn reuse_keeps_data_recreate_wipes_and_failing_seeds_leave_the_preview() {
    let s = TestServer::start(&[]);
    let key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let dir = checkout(&s, "repo");
    let job = || ci(&s, &dir, &key, &[]);
    let first = job()
        .run(&[
            "deploy",
            "--preview-name",
            "feat-a",
            "--preview-run",
            "messages:seed",
            "--json",
        ])
        .ok()
        .json();
    let name = first["deploymentName"].as_str().unwrap().to_string();
    s.cli()
        .run(&[
            "run",
            "messages:send",
            r#"{"author":"qa","body":"keep me"}"#,
            "--deployment",
            &name,
        ])
        .ok();
    let again = job()
        .run(&[
            "deploy",
            "--preview-name",
            "feat-a",
            "--preview-run",
            "messages:seed",
            "--json",
        ])
        .ok();
    let again_v = again.json();
    assert_eq!(again_v["deploymentName"], name.as_str(), "reused");
    assert_eq!(again_v["isNewDeployment"], false);
    assert_eq!(again_v["seeded"], false);
    assert!(
        again.stderr.contains("Not running messages:seed"),
        "{}",
        again.stderr
    );
    assert_eq!(count(&s, &name), json!(11), "data kept, not seeded again");
    let fresh = job()
        .run(&[
            "deploy",
            "--preview-create",
            "feat-a",
            "--preview-run",
            "messages:seed",
            "--json",
        ])
        .ok()
        .json();
    assert_ne!(fresh["deploymentName"], name.as_str(), "recreated");
    assert_eq!(
        count(&s, fresh["deploymentName"].as_str().unwrap()),
        json!(10),
        "wiped and reseeded"
    );

    // A failing seed exits 1 and leaves the deployment; the next run reuses it without seeding.
    std::fs::write(dir.join("convex/bad_seed.ts"), "import { internalMutation } from './_generated/server';\nexport const run = internalMutation(async () => { throw new Error('seed broke'); });\n").unwrap();
    let r = job().run(&[
        "deploy",
        "--preview-name",
        "feat-b",
        "--preview-run",
        "bad_seed:run",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("seed broke") && r.stderr.contains("The preview stays"),
        "{}",
        r.stderr
    );
    let again = job()
        .run(&[
            "deploy",
            "--preview-name",
            "feat-b",
            "--preview-run",
            "bad_seed:run",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(again["isNewDeployment"], false);

    // --dry-run changes nothing and says what it would do.
    let before = s.cli().run(&["deployment", "list", "--json"]).ok().json();
    let r = job()
        .run(&[
            "deploy",
            "--preview-create",
            "feat-c",
            "--preview-run",
            "messages:seed",
            "--dry-run",
        ])
        .ok();
    assert!(
        r.stderr
            .contains("would create the preview default:default:preview/feat-c")
            && r.stderr.contains("then run messages:seed"),
        "{}",
        r.stderr
    );
    let r = job()
        .run(&["deploy", "--preview-create", "feat-a", "--dry-run"])
        .ok();
    assert!(
        r.stderr.contains("would delete the preview"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.cli().run(&["deployment", "list", "--json"]).ok().json(),
        before
    );

    // Cleanup with the preview key, by raw branch name, idempotent.
    job()
        .run(&[
            "deployment",
            "delete",
            "preview/feat-a",
            "--yes",
            "--if-exists",
        ])
        .ok();
    job()
        .run(&[
            "deployment",
            "delete",
            "preview/feat-a",
            "--yes",
            "--if-exists",
        ])
        .ok();
}

#[test]
fn two_jobs_claiming_one_preview_end_with_one_deployment() {
    let s = TestServer::start(&[]);
    let key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let body = r#"{"identifier":"race","reuse":true}"#;
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (url, key) = (s.url.clone(), key.clone());
            std::thread::spawn(move || {
                let (status, text) = common::http(
                    &url,
                    "POST",
                    "/v1/projects/1/claim_preview_deployment",
                    &[("Authorization", Some(format!("Bearer {key}")))],
                    Some(body),
                );
                assert_eq!(status, 200, "{text}");
                serde_json::from_str::<Value>(&text).unwrap()["deploymentName"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
        })
        .collect();
    let names: std::collections::BTreeSet<String> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let previews = s
        .cli()
        .run(&["deployment", "list", "--type", "preview", "--json"])
        .ok()
        .json();
    assert_eq!(previews.as_array().unwrap().len(), 1);
}

#[test]
fn the_preview_key_reaches_nothing_else_and_prod_keys_stay_out_of_previews() {
    let s = TestServer::start(&[]);
    let key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let dir = checkout(&s, "repo");
    let dev = s
        .cli()
        .run(&[
            "deployment",
            "create",
            "dev/admin/x",
            "--type",
            "dev",
            "--json",
        ])
        .ok()
        .json();
    let prod = s
        .cli()
        .run(&["deployment", "create", "--type", "prod", "--json"])
        .ok()
        .json();
    for target in [
        dev["name"].as_str().unwrap(),
        prod["name"].as_str().unwrap(),
    ] {
        let r = ci(&s, &dir, &key, &[]).run(&["deploy", "--deployment", target]);
        assert_eq!(r.code, 1, "{target}");
        assert!(
            r.stderr
                .contains("opens only the preview deployments of its project"),
            "{}",
            r.stderr
        );
    }
    s.cli().run(&["project", "create", "other"]).ok();
    let r = ci(&s, &dir, &key, &[]).run(&["deploy", "--preview-name", "x", "--project", "other"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot act on project"), "{}", r.stderr);
    // A prod deployment key used from a preview build is refused.
    let prod_key = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "create",
            "deployer",
            "--deployment",
            prod["name"].as_str().unwrap(),
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let r = ci(
        &s,
        &dir,
        &prod_key,
        &[("VERCEL", "1"), ("VERCEL_ENV", "preview")],
    )
    .run(&["deploy"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("non-production build") && r.stderr.contains("VERCEL_ENV=preview"),
        "{}",
        r.stderr
    );
    ci(
        &s,
        &dir,
        &prod_key,
        &[("VERCEL", "1"), ("VERCEL_ENV", "production")],
    )
    .run(&["deploy"])
    .ok();
}

/// The `berth` lines of a workflow: GitHub `run:` values and GitLab `script:` items.
fn berth_lines(doc: &yaml_rust2::Yaml, out: &mut Vec<String>) {
    use yaml_rust2::Yaml;
    match doc {
        Yaml::Hash(h) => {
            for (k, v) in h {
                if let (Some("run" | "script"), _) = (k.as_str(), v) {
                    match v {
                        Yaml::String(s) => out.extend(
                            s.lines()
                                .filter(|l| l.trim_start().starts_with("berth "))
                                .map(str::to_string),
                        ),
                        Yaml::Array(items) => out.extend(
                            items
                                .iter()
                                .filter_map(|i| i.as_str())
                                .filter(|l| l.starts_with("berth "))
                                .map(str::to_string),
                        ),
                        _ => {}
                    }
                }
                berth_lines(v, out);
            }
        }
        Yaml::Array(items) => items.iter().for_each(|i| berth_lines(i, out)),
        _ => {}
    }
}

#[test]
fn the_ci_workflows_are_valid_and_their_berth_lines_work() {
    for (file, vars) in [
        (
            "docs/ci/github-actions.yml",
            &[
                ("CI", "true"),
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_HEAD_REF", "feature/workflow"),
            ][..],
        ),
        (
            "docs/ci/gitlab-ci.yml",
            &[
                ("CI", "true"),
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_REF_NAME", "feature/workflow"),
            ][..],
        ),
    ] {
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        let mut lines = Vec::new();
        berth_lines(&docs[0], &mut lines);
        assert_eq!(
            lines.len(),
            2,
            "{file}: a deploy line and a cleanup line: {lines:?}"
        );
        let s = TestServer::start(&[]);
        let key = s
            .cli()
            .run(&["deploy-key", "create", "ci", "--preview"])
            .ok()
            .stdout
            .trim()
            .to_string();
        let dir = checkout(&s, "repo");
        for line in &lines {
            let bin_dir = Path::new(common::BIN).parent().unwrap().to_path_buf();
            let path = format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", line])
                .current_dir(&dir)
                .env("PATH", path)
                .env("BERTH_HOME", s.dir.path().join("ci-home"));
            cmd.env("CONVEX_DEPLOY_KEY", &key)
                .env("BERTH_URL", &s.url)
                .env_remove("BERTH_ACCESS_TOKEN");
            for (k, v) in vars {
                cmd.env(k, v);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{file}: `{line}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let previews = s
            .cli()
            .run(&["deployment", "list", "--type", "preview", "--json"])
            .ok()
            .json();
        assert_eq!(previews, json!([]), "{file}: deployed then cleaned up");
        let (_, log) = s.http(
            "GET",
            "/v1/teams/default/audit_log",
            Some(&s.admin_token()),
            None,
        );
        assert!(log.contains("preview/feature/workflow"), "{file}: {log}");
    }
}
