//! The walking skeleton end to end: first start, login, teams, members, projects, permissions,
//! errors and shutdown, with the real binaries.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, mode};

#[test]
fn first_start_bootstraps_and_second_start_changes_nothing() {
    let mut s = TestServer::start(&[]);
    let token = s.admin_token();
    assert!(token.starts_with("berth_at_"));
    assert_eq!(mode(&s.data_dir.join("admin-token")), 0o600);
    let config = s.home.join("config.json");
    assert_eq!(mode(&config), 0o600);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(saved["accessToken"], token.as_str());
    assert!(s.server_log().contains("First start"));

    let me = s.cli().run(&["whoami", "--json"]).ok().json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["serverAdmin"], true);
    assert_eq!(me["teams"][0]["team"], "default");
    let projects = s.cli().run(&["project", "list", "--json"]).ok().json();
    assert_eq!(projects[0]["slug"], "default");

    assert_eq!(s.stop(), 0, "graceful shutdown exits 0");
    assert!(s.server_log().contains("berth stopped"));
    let config_before = std::fs::read_to_string(&config).unwrap();
    s.spawn(&[]);
    assert_eq!(s.admin_token(), token, "the admin token is reused");
    assert!(!s.server_log().contains("First start"));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        config_before,
        "the login is left alone"
    );
    // The saved login names the first run's port; on the new port the same token works.
    let teams = s
        .cli()
        .env("BERTH_ACCESS_TOKEN", &token)
        .run(&["team", "list", "--json"])
        .ok()
        .json();
    assert_eq!(teams.as_array().unwrap().len(), 1);
    let projects = s
        .cli()
        .env("BERTH_ACCESS_TOKEN", &token)
        .run(&["project", "list", "--json"])
        .ok()
        .json();
    assert_eq!(projects.as_array().unwrap().len(), 1);
}

#[test]
fn lost_admin_token_file_is_reissued() {
    let mut s = TestServer::start(&[]);
    let old = s.admin_token();
    s.stop();
    std::fs::remove_file(s.data_dir.join("admin-token")).unwrap();
    s.spawn(&[]);
    let new = s.admin_token();
    assert_ne!(old, new);
    assert_eq!(s.http("GET", "/v1/me", Some(&old), None).0, 401);
    assert_eq!(s.http("GET", "/v1/me", Some(&new), None).0, 200);
}

#[test]
fn teams_members_projects_and_roles() {
    let s = TestServer::start(&[]);
    let admin = || s.cli();

    let team = admin()
        .run(&["team", "create", "acme", "--json"])
        .ok()
        .json();
    assert_eq!(team["slug"], "acme");
    assert_eq!(team["plan"], "business");
    let dup = admin().run(&["team", "create", "acme"]);
    assert_eq!(dup.code, 1);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    let bad = admin().run(&["team", "create", "Acme Corp"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("invalid team slug"), "{}", bad.stderr);

    // A new member's token is printed once, on stdout.
    let added = admin()
        .run(&["member", "add", "bob", "--role", "member", "--team", "acme"])
        .ok();
    let bob_token = added.stdout.trim().to_string();
    assert!(bob_token.starts_with("berth_at_"), "{}", added.stdout);
    assert!(added.stderr.contains("shown only this once"));
    // Adding bob again does not print a new token.
    let again = admin()
        .run(&["member", "add", "bob", "--team", "acme"])
        .ok();
    assert_eq!(again.stdout.trim(), "");

    // Bob logs in on his own machine.
    let bob = || s.cli_as_stranger("bob");
    bob()
        .run(&["login", "--url", &s.url, "--token", &bob_token])
        .ok();
    let me = bob().run(&["whoami", "--json"]).ok().json();
    assert_eq!(me["username"], "bob");
    assert_eq!(me["teams"][0]["team"], "acme");
    assert_eq!(me["teams"][0]["role"], "member");

    // A member may create projects but not add members or delete projects.
    bob()
        .run(&["project", "create", "web", "--team", "acme"])
        .ok();
    let refused = bob().run(&["member", "add", "eve", "--team", "acme"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("only admins of team 'acme' may add members"),
        "{}",
        refused.stderr
    );
    let refused = bob().run(&["project", "delete", "web", "--team", "acme", "--yes"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("only admins of project 'acme:web'"),
        "{}",
        refused.stderr
    );
    // Bob is not in team default and cannot see it.
    let hidden = bob().run(&["project", "list", "--team", "default"]);
    assert_eq!(hidden.code, 1);
    assert!(
        hidden
            .stderr
            .contains("does not exist or you are not a member"),
        "{}",
        hidden.stderr
    );

    // Made project admin, bob may delete it.
    admin()
        .run(&[
            "member",
            "add",
            "bob",
            "--team",
            "acme",
            "--project-admin",
            "web",
        ])
        .ok();
    let members = admin()
        .run(&["member", "list", "--team", "acme", "--json"])
        .ok()
        .json();
    let bob_row = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "bob")
        .unwrap();
    assert_eq!(bob_row["projectAdminOf"][0], "web");
    bob()
        .run(&["project", "delete", "web", "--team", "acme", "--yes"])
        .ok();
    let list = admin()
        .run(&["project", "list", "--team", "acme", "--json"])
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);

    // Without --yes and without a terminal, delete is a usage error that names the flag.
    admin()
        .run(&["project", "create", "api", "--team", "acme"])
        .ok();
    let no_yes = admin().run(&["project", "delete", "api", "--team", "acme"]);
    assert_eq!(no_yes.code, 2);
    assert!(no_yes.stderr.contains("--yes"));

    // The last admin cannot be removed; bob can.
    let last = admin().run(&["member", "remove", "admin", "--team", "acme"]);
    assert_eq!(last.code, 1);
    assert!(last.stderr.contains("last admin"), "{}", last.stderr);
    admin()
        .run(&["member", "remove", "bob", "--team", "acme"])
        .ok();
    let gone = bob().run(&["project", "list", "--team", "acme"]);
    assert_eq!(gone.code, 1);

    // Only a server admin may pick a plan.
    let carol_token = admin()
        .run(&["member", "add", "carol"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let carol = s
        .cli_as_stranger("carol")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", &carol_token);
    let r = carol.run(&["team", "create", "carols", "--plan", "free"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("only a server admin"), "{}", r.stderr);
    let t = admin()
        .run(&["team", "create", "small", "--plan", "free", "--json"])
        .ok()
        .json();
    assert_eq!(t["deploymentLimit"], 40);
}

#[test]
fn bad_credentials_and_errors_speak_the_error_model() {
    let s = TestServer::start(&[]);
    let (status, body) = s.http("GET", "/v1/teams", None, None);
    assert_eq!(status, 401);
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["code"], "Unauthenticated");
    let (status, body) = s.http("GET", "/v1/teams", Some("berth_at_not-a-real-token"), None);
    assert_eq!(status, 401);
    assert!(body.contains("not valid"));
    assert!(
        !body.contains("berth_at_not-a-real-token"),
        "a credential must never be echoed"
    );

    let token = s.admin_token();
    let (status, body) = s.http("POST", "/v1/teams", Some(&token), Some("{not json"));
    assert_eq!(status, 400);
    assert!(body.contains("BadJson"), "{body}");
    let (status, body) = s.http("POST", "/v1/teams", Some(&token), Some(r#"{"name": 3}"#));
    assert_eq!(status, 400);
    assert!(body.contains("BadRequestBody"), "{body}");
    let (status, body) = s.http("GET", "/v1/nothing-here", Some(&token), None);
    assert_eq!(status, 404);
    assert!(body.contains("NotFound"));
    let (status, _) = s.http("GET", "/v1/projects/not-a-number", Some(&token), None);
    assert_eq!(status, 400);

    let (status, body) = s.http("GET", "/healthz", None, None);
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = s.http("GET", "/version", None, None);
    assert_eq!(status, 200);
    assert!(body.contains("\"storage\":\"sqlite\""));
    let (status, body) = s.http("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "berth_http_requests_total{method=\"GET\",route=\"/v1/teams\",status=\"401\"}"
        ),
        "{body}"
    );
    let (status, body) = s.http("GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(body.contains("\"/v1/teams/{team}/add_member\""));

    // The CLI turns the same into one line and exit 1; a garbage login is refused.
    let r = s
        .cli_as_stranger("x")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", "garbage")
        .run(&["whoami"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = s
        .cli_as_stranger("y")
        .run(&["login", "--url", &s.url, "--token", "garbage"]);
    assert_eq!(r.code, 1);
    assert!(!s.cli_as_stranger("y").run(&["whoami"]).stderr.is_empty());
    // Not logged in at all.
    let r = s.cli_as_stranger("z").run(&["whoami"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("berth login"), "{}", r.stderr);
    // Unreachable server.
    let r = s.cli_as_stranger("w").env("BERTH_ACCESS_TOKEN", "t").run(&[
        "whoami",
        "--url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("could not reach"), "{}", r.stderr);
    // --json errors are JSON.
    let r = s
        .cli_as_stranger("v")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", "garbage")
        .run(&["whoami", "--json"]);
    let e: serde_json::Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert_eq!(e["code"], "Unauthenticated");
}

#[test]
fn login_reads_token_from_stdin_and_logout_forgets_it() {
    let s = TestServer::start(&[]);
    let token = s.admin_token();
    let r = s
        .cli_as_stranger("p")
        .run_with_stdin(&["login", "--url", &s.url], &format!("{token}\n"))
        .ok();
    assert!(r.stderr.contains("Logged in"), "{}", r.stderr);
    s.cli_as_stranger("p").run(&["whoami"]).ok();
    s.cli_as_stranger("p").run(&["logout"]).ok();
    assert_eq!(s.cli_as_stranger("p").run(&["whoami"]).code, 2);
}

#[test]
fn usage_errors_exit_2_and_env_vars_configure_serve() {
    let r = common::Cli::new(std::env::temp_dir(), std::env::temp_dir()).run(&["member", "add"]);
    assert_eq!(r.code, 2);
    let r = common::Cli::new(std::env::temp_dir(), std::env::temp_dir()).run(&[
        "serve",
        "--reap-interval",
        "soon",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--reap-interval"), "{}", r.stderr);
    let r = common::Cli::new(std::env::temp_dir(), std::env::temp_dir()).run(&[
        "serve",
        "--default-plan",
        "gold",
    ]);
    assert_eq!(r.code, 2);
    let r = common::Cli::new(std::env::temp_dir(), std::env::temp_dir())
        .env("BERTH_DEFAULT_PLAN", "platinum")
        .run(&["serve"]);
    assert_eq!(r.code, 2, "BERTH_DEFAULT_PLAN is read: {}", r.stderr);
    let help = common::Cli::new(std::env::temp_dir(), std::env::temp_dir())
        .run(&["serve", "--help"])
        .ok();
    for flag in [
        "--data-dir",
        "--listen",
        "--public-url",
        "--database-url",
        "--regions",
        "--default-plan",
        "--reap-interval",
        "--min-expiration",
        "--max-expiration",
    ] {
        assert!(help.stdout.contains(flag), "serve --help lacks {flag}");
    }
    assert!(help.stdout.contains("BERTH_LISTEN"));

    // BERTH_DEFAULT_PLAN reaches new teams.
    let s = TestServer::start(&["--default-plan", "free"]);
    let teams = s.cli().run(&["team", "list", "--json"]).ok().json();
    assert_eq!(teams[0]["plan"], "free");
}

#[test]
fn roles_are_kept_unless_given_and_the_last_admin_stays() {
    let s = TestServer::start(&[]);
    s.cli().run(&["team", "create", "acme"]).ok();
    s.cli()
        .run(&["project", "create", "web", "--team", "acme"])
        .ok();
    // Re-adding the only admin as project admin, without --role, keeps them admin.
    s.cli()
        .run(&[
            "member",
            "add",
            "admin",
            "--team",
            "acme",
            "--project-admin",
            "web",
        ])
        .ok();
    let members = s
        .cli()
        .run(&["member", "list", "--team", "acme", "--json"])
        .ok()
        .json();
    assert_eq!(members[0]["role"], "admin");
    // Demoting the last admin is refused.
    let r = s.cli().run(&[
        "member", "add", "admin", "--team", "acme", "--role", "member",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("last admin"), "{}", r.stderr);
}

#[test]
fn the_saved_token_goes_only_to_its_own_server() {
    let s = TestServer::start(&[]);
    let dir = s.dir.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env.local"), "BERTH_URL=http://127.0.0.1:9\n").unwrap();
    let r = common::Cli::new(s.home.clone(), dir).run(&["whoami"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("your login is for") && r.stderr.contains("http://127.0.0.1:9"),
        "{}",
        r.stderr
    );
    let r = s.cli().run(&["whoami", "--url", "https://example.invalid"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("plain HTTP"), "{}", r.stderr);
    let r = s.cli().run(&["whoami", "--url", "127.0.0.1:1"]);
    assert!(r.stderr.contains("with its scheme"), "{}", r.stderr);
}

#[test]
fn server_admins_change_plans_and_limits() {
    let s = TestServer::start(&[]);
    s.cli()
        .run(&["team", "create", "acme", "--plan", "free"])
        .ok();
    let t = s
        .cli()
        .run(&[
            "team",
            "update",
            "acme",
            "--deployment-limit",
            "2",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(t["deploymentLimit"], 2);
    let t = s
        .cli()
        .run(&[
            "team",
            "update",
            "acme",
            "--plan",
            "professional",
            "--deployment-limit",
            "default",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        (t["plan"].as_str(), t["deploymentLimit"].as_i64()),
        (Some("professional"), Some(300))
    );
    let bob = s
        .cli()
        .run(&["member", "add", "bob", "--team", "acme", "--role", "admin"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let r = s
        .cli_as_stranger("bob")
        .url(&s.url)
        .env("BERTH_ACCESS_TOKEN", &bob)
        .run(&["team", "update", "acme", "--plan", "enterprise"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("only a server admin"), "{}", r.stderr);
}
