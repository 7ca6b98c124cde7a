//! Convex's own CLI (npm `convex` 1.48.0, run as `npx convex` would) against a fresh `berth
//! serve`, with `CONVEX_PROVISION_HOST` pointing at it: create and select a deployment, push a
//! TypeScript app that imports an npm package of its own (bundled by the CLI's esbuild), run,
//! env, data, logs, a deploy key saved to `.env.local` and used alone, and a preview deployed and
//! seeded with a preview deploy key. Each command's effect is checked on berth's side.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, repo};
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

struct ConvexCli {
    bin: PathBuf,
    app: PathBuf,
    provision_host: String,
}

impl ConvexCli {
    /// Runs `npx convex <args>` in the app as the user whose home is `home`.
    fn run(&self, home: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let mut cmd = self.command(home, args, env);
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, home: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
        let (ok, text) = self.run(home, args, env);
        assert!(ok, "npx convex {} failed:\n{text}", args.join(" "));
        text
    }

    fn command(&self, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(&self.app)
            .env("HOME", home)
            .env("CONVEX_PROVISION_HOST", &self.provision_host)
            // Keep the CLI's version check off the internet (port 9 refuses at once).
            .env("CONVEX_VERSION_API_ORIGIN", "http://127.0.0.1:9")
            .env("CONVEX_ALLOW_ANONYMOUS", "false")
            .env("CI", "1")
            .env_remove("CONVEX_DEPLOY_KEY")
            .env_remove("CONVEX_DEPLOYMENT")
            .env_remove("BERTH_URL")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "_generated" {
                copy_dir(&entry.path(), &target);
            }
        } else if entry.file_name() != ".env.local" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn convex_cli_works_unchanged_against_berth() {
    let js = common::npm_package("ms");
    let s = TestServer::start(&[]);
    let port = s.url.rsplit(':').next().unwrap().to_string();

    // The app: the fixture, with the npm packages of tests/js (convex, ms) next to it.
    let app = s.dir.path().join("app");
    copy_dir(&repo("tests/js/cli-app"), &app);
    std::os::unix::fs::symlink(js.join("node_modules"), app.join("node_modules")).unwrap();
    let cli = ConvexCli {
        bin: js.join("node_modules/.bin/convex"),
        app: app.clone(),
        provision_host: s.url.clone(),
    };
    // Logged in as the admin: the CLI's credentials file for a provision host on this port.
    let home = s.dir.path().join("convex-home");
    let creds = home.join(format!(".convex-test-{port}"));
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(
        creds.join("config.json"),
        serde_json::json!({"accessToken": s.admin_token()}).to_string(),
    )
    .unwrap();

    // Create and select a dev deployment.
    cli.ok(
        &home,
        &[
            "deployment",
            "create",
            "default:default:dev/cli",
            "--type",
            "dev",
            "--select",
        ],
        &[],
    );
    let env_local = std::fs::read_to_string(app.join(".env.local")).unwrap();
    let listed = s.cli().run(&["deployment", "list", "--json"]).ok().json();
    let d = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reference"] == "dev/cli")
        .expect("berth has the deployment the CLI created");
    let name = d["name"].as_str().unwrap().to_string();
    assert!(
        env_local.contains(&format!("CONVEX_DEPLOYMENT=dev:{name}")),
        "{env_local}"
    );
    assert!(env_local.contains(&format!("CONVEX_URL={}/d/{name}", s.url)));

    // Push: esbuild bundles with Convex's own library inlined; berth analyzes and runs it.
    let out = cli.ok(&home, &["dev", "--once"], &[]);
    assert!(out.contains("Convex functions ready"), "{out}");
    // The schema's index was built, and the CLI says so as it does against Convex.
    assert!(
        out.contains("Added table indexes")
            && out.contains("messages.")
            && out.contains("by_author"),
        "{out}"
    );
    let (status, functions) = common::http(
        &s.url,
        "GET",
        &format!("/d/{name}/api/functions"),
        &[("Authorization", Some(format!("Convex {}", s.admin_token())))],
        None,
    );
    assert_eq!(status, 200);
    for f in ["messages.js:send", "messages.js:list", "format.js:duration"] {
        assert!(
            functions.contains(f),
            "{f} missing after the push: {functions}"
        );
    }

    // Run, with arguments validated on the server.
    let out = cli.ok(
        &home,
        &[
            "run",
            "messages:send",
            r#"{"author": "cli", "body": "hello from npx"}"#,
        ],
        &[],
    );
    assert!(out.contains("'sending' 'cli'"), "{out}");
    let data = s
        .cli()
        .run(&["data", "messages", "--deployment", &name, "--json"])
        .ok()
        .stdout;
    assert!(data.contains("hello from npx"), "{data}");
    let out = cli.ok(
        &home,
        &["run", "messages:byAuthor", r#"{"author": "cli"}"#],
        &[],
    );
    assert!(out.contains("hello from npx"), "schema index: {out}");
    let out = cli.ok(&home, &["run", "format:duration", r#"{"ms": 90000}"#], &[]);
    assert!(out.contains("\"2 minutes\""), "the npm package ran: {out}");
    let (ok, out) = cli.run(&home, &["run", "format:duration", r#"{"ms": "soon"}"#], &[]);
    assert!(!ok && out.contains("v.number()"), "{out}");
    // Nobody is signed in: `ctx.auth.getUserIdentity()` is null in Convex's own bundle.
    let out = cli.ok(&home, &["run", "format:whoami"], &[]);
    assert!(out.contains("\"identity\": null"), "{out}");

    // `run --watch` prints the query again when a write changes it.
    let mut watch = cli
        .command(
            &home,
            &[
                "run",
                "messages:byAuthor",
                r#"{"author": "watcher"}"#,
                "--watch",
            ],
            &[],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = {
        let stdout = watch.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        rx
    };
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut seen = String::new();
        while std::time::Instant::now() < deadline {
            if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(200)) {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(what) {
                    return;
                }
            }
        }
        panic!("npx convex run --watch never printed {what:?}; printed:\n{seen}");
    };
    wait_for("[]");
    cli.ok(
        &home,
        &[
            "run",
            "messages:send",
            r#"{"author": "watcher", "body": "seen live"}"#,
        ],
        &[],
    );
    wait_for("seen live");
    let _ = watch.kill();
    let _ = watch.wait();

    // Environment variables.
    cli.ok(&home, &["env", "set", "GREETING", "hi there"], &[]);
    let berth_env = s
        .cli()
        .run(&["env", "get", "GREETING", "--deployment", &name])
        .ok();
    assert_eq!(berth_env.stdout.trim(), "hi there");
    let out = cli.ok(&home, &["env", "list"], &[]);
    assert!(out.contains("GREETING=hi there"), "{out}");
    let out = cli.ok(&home, &["env", "get", "GREETING"], &[]);
    assert!(out.contains("hi there"), "{out}");

    // Data, through the sync protocol's system queries.
    let out = cli.ok(&home, &["data"], &[]);
    assert!(out.contains("messages"), "{out}");
    let out = cli.ok(&home, &["data", "messages"], &[]);
    assert!(out.contains("hello from npx"), "{out}");

    // Logs: history, then it follows until stopped.
    let mut logs = cli
        .command(&home, &["logs", "--history", "20"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let _ = logs.kill();
    let out = logs.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("M(messages:send)") && text.contains("'sending' 'cli'"),
        "logs --history printed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A deploy key saved to .env.local, then used with no login at all.
    cli.ok(
        &home,
        &["deployment", "token", "create", "ci-token", "--save-env"],
        &[],
    );
    let env_local = std::fs::read_to_string(app.join(".env.local")).unwrap();
    assert!(
        env_local.contains(&format!("CONVEX_DEPLOY_KEY=dev:{name}|")),
        "{env_local}"
    );
    let keys = s
        .cli()
        .run(&[
            "deployment",
            "token",
            "list",
            "--deployment",
            &name,
            "--json",
        ])
        .ok()
        .stdout;
    assert!(keys.contains("ci-token"), "{keys}");
    let stranger_home = s.dir.path().join("no-login");
    std::fs::create_dir_all(&stranger_home).unwrap();
    cli.ok(
        &stranger_home,
        &[
            "run",
            "messages:send",
            r#"{"author": "key", "body": "with the key alone"}"#,
        ],
        &[],
    );
    let data = s
        .cli()
        .run(&["data", "messages", "--deployment", &name, "--json"])
        .ok()
        .stdout;
    assert!(data.contains("with the key alone"), "{data}");

    // A preview, created and seeded by CI with a preview deploy key.
    let preview_key = s
        .cli()
        .run(&["deploy-key", "create", "ci", "--preview"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let out = cli.ok(
        &stranger_home,
        &[
            "deploy",
            "--preview-create",
            "feat-x",
            "--preview-run",
            "messages:seed",
        ],
        &[("CONVEX_DEPLOY_KEY", &preview_key)],
    );
    assert!(
        out.contains("Finished running function \"messages:seed\""),
        "{out}"
    );
    let preview = s
        .cli()
        .run(&["deployment", "show", "preview/feat-x", "--json"])
        .ok()
        .json();
    assert_eq!(preview["deploymentType"], "preview");
    let seeded = s
        .cli()
        .run(&[
            "data",
            "messages",
            "--deployment",
            preview["name"].as_str().unwrap(),
            "--json",
        ])
        .ok()
        .stdout;
    assert!(seeded.contains("seeded preview"), "{seeded}");

    // What berth cannot run is refused at push, saying why; the running code stays.
    std::fs::write(
        app.join("convex/nodeOnly.ts"),
        "\"use node\";\nimport { action } from \"./_generated/server\";\nexport const hi = action({ args: {}, handler: async () => \"hi\" });\n",
    )
    .unwrap();
    let (ok, out) = cli.run(&home, &["dev", "--once"], &[]);
    assert!(!ok && out.contains("\"use node\""), "{out}");
    std::fs::remove_file(app.join("convex/nodeOnly.ts")).unwrap();
    let out = cli.ok(&home, &["run", "messages:list"], &[]);
    assert!(out.contains("hello from npx"), "{out}");
}
