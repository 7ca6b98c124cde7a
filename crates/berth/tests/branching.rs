//! Data branching: `berth deployment create <ref> --copy-data-from <selector> [--copy-env]` starts
//! a deployment with a snapshot of another's documents (a file-level copy on the embedded store,
//! one transaction on PostgreSQL). The copy and the source are independent afterwards, and only
//! those who may edit the source may copy it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use serde_json::Value;

fn backends() -> Vec<(&'static str, Vec<String>)> {
    let mut out = vec![("sqlite", vec![])];
    if let Some(db) = common::postgres_url("data branching") {
        out.push(("postgres", vec!["--database-url".to_string(), db]));
    }
    out
}

fn count(s: &TestServer, name: &str) -> usize {
    let data = s
        .cli()
        .run(&[
            "data",
            "messages",
            "--deployment",
            name,
            "--limit",
            "100",
            "--json",
        ])
        .ok()
        .json();
    data.as_array().map_or(0, Vec::len)
}

#[test]
fn a_deployment_starts_from_a_copy_of_another() {
    for (label, args) in backends() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let s = TestServer::start(&args);
        let dir = s.dir.path().join("app");
        std::fs::create_dir_all(dir.join("convex")).unwrap();
        std::fs::copy(
            repo("examples/messages/convex/messages.ts"),
            dir.join("convex/messages.ts"),
        )
        .unwrap();
        let create = |extra: &[&str]| -> Value {
            let mut a = vec!["deployment", "create"];
            a.extend_from_slice(extra);
            a.extend(["--type", "dev", "--json"]);
            s.cli().cwd(&dir).run(&a).ok().json()
        };
        let source = create(&["dev/admin/source"])["name"]
            .as_str()
            .unwrap()
            .to_string();
        s.cli()
            .cwd(&dir)
            .run(&["deploy", "--deployment", &source])
            .ok();
        for i in 0..3 {
            let args = format!(r#"{{"author": "ann", "body": "message {i}"}}"#);
            s.cli()
                .run(&["run", "messages:send", &args, "--deployment", &source])
                .ok();
        }
        s.cli()
            .run(&["env", "set", "ORIGIN=source", "--deployment", &source])
            .ok();

        // Documents only: the copy keeps its own (empty) code and its own variables.
        let copy = create(&["dev/admin/branch", "--copy-data-from", "dev/admin/source"]);
        let copy = copy["name"].as_str().unwrap().to_string();
        assert_eq!(count(&s, &copy), 3, "{label}: the copy has the documents");
        let env = s
            .cli()
            .run(&["env", "get", "ORIGIN", "--deployment", &copy]);
        assert_ne!(
            env.code, 0,
            "{label}: variables were copied without --copy-env"
        );
        s.cli()
            .cwd(&dir)
            .run(&["deploy", "--deployment", &copy])
            .ok();
        let n = s
            .cli()
            .run(&["run", "messages:count", "--deployment", &copy])
            .ok()
            .stdout;
        assert_eq!(n.trim(), "3", "{label}");
        // Independent afterwards, both ways.
        s.cli()
            .run(&[
                "run",
                "messages:send",
                r#"{"author": "b", "body": "only in the copy"}"#,
                "--deployment",
                &copy,
            ])
            .ok();
        assert_eq!(count(&s, &source), 3, "{label}: the source changed");
        assert_eq!(count(&s, &copy), 4);

        // Reset the copy later: its documents are the source's again, its code stays.
        s.cli()
            .run(&[
                "deployment",
                "reset",
                "dev/admin/branch",
                "--from",
                "dev/admin/source",
            ])
            .ok();
        assert_eq!(count(&s, &copy), 3, "{label}: the reset copy");
        let n = s
            .cli()
            .run(&["run", "messages:count", "--deployment", &copy])
            .ok()
            .stdout;
        assert_eq!(n.trim(), "3", "{label}: the code survived the reset");
        let itself = s
            .cli()
            .run(&["deployment", "reset", &copy, "--from", &copy]);
        assert!(itself.stderr.contains("from itself"), "{}", itself.stderr);

        // With --copy-env, the variables come too.
        let with_env = create(&[
            "dev/admin/branch-env",
            "--copy-data-from",
            &source,
            "--copy-env",
        ]);
        let with_env = with_env["name"].as_str().unwrap();
        assert_eq!(count(&s, with_env), 3);
        let env = s
            .cli()
            .run(&["env", "get", "ORIGIN", "--deployment", with_env])
            .ok();
        assert_eq!(env.stdout.trim(), "source", "{label}");

        // A preview created from CI starts from a copy too; with a preview deploy key the source
        // must be within the key's reach (the project's previews).
        s.cli()
            .cwd(&dir)
            .run(&[
                "deploy",
                "--preview-create",
                "feat-copy",
                "--copy-data-from",
                &source,
            ])
            .ok();
        let preview = s
            .cli()
            .run(&["deployment", "show", "preview/feat-copy", "--json"])
            .ok()
            .json();
        assert_eq!(count(&s, preview["name"].as_str().unwrap()), 3, "{label}");
        let key = s
            .cli()
            .run(&["deploy-key", "create", "ci", "--preview"])
            .ok()
            .stdout
            .trim()
            .to_string();
        let ci_home = s.dir.path().join(format!("ci-home-{label}"));
        std::fs::create_dir_all(&ci_home).unwrap();
        let ci = || {
            common::Cli::new(ci_home.clone(), dir.clone())
                .url(&s.url)
                .env("CONVEX_DEPLOY_KEY", &key)
        };
        let by_key = ci().run(&[
            "deploy",
            "--preview-create",
            "feat-key",
            "--copy-data-from",
            &source,
        ]);
        assert_ne!(
            by_key.code, 0,
            "{label}: a preview key copied a dev deployment"
        );
        let from_preview = ci().run(&[
            "deploy",
            "--preview-create",
            "feat-key",
            "--copy-data-from",
            preview["name"].as_str().unwrap(),
        ]);
        assert_eq!(from_preview.code, 0, "{}", from_preview.stderr);
        assert_eq!(count(&s, "preview/feat-key"), 3, "{label}");

        // Only those who may edit the source may copy it; a refusal creates nothing.
        let prod = s
            .cli()
            .run(&[
                "deployment",
                "create",
                "production",
                "--type",
                "prod",
                "--json",
            ])
            .ok()
            .json()["name"]
            .as_str()
            .unwrap()
            .to_string();
        let bob = s.cli().run(&["member", "add", "bob", "--json"]).ok().json()["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        let refused = s.cli().env("BERTH_ACCESS_TOKEN", &bob).run(&[
            "deployment",
            "create",
            "dev/bob/from-prod",
            "--type",
            "dev",
            "--copy-data-from",
            &prod,
        ]);
        assert_ne!(refused.code, 0, "{label}: a member copied prod's data");
        assert!(
            refused.stderr.contains("may be edited only by admins"),
            "{}",
            refused.stderr
        );
        let listed = s
            .cli()
            .run(&["deployment", "list", "--search", "dev/bob", "--json"])
            .ok()
            .json();
        assert_eq!(
            listed,
            serde_json::json!([]),
            "{label}: a refused copy left a deployment"
        );
        let unconfirmed = s
            .cli()
            .run(&["deployment", "reset", &prod, "--from", &source]);
        assert_eq!(unconfirmed.code, 2, "{label}: prod was reset without --yes");
        let usage = s.cli().run(&[
            "deployment",
            "create",
            "dev/admin/x",
            "--type",
            "dev",
            "--copy-env",
        ]);
        assert_eq!(usage.code, 2, "{}", usage.stderr);
    }
}
