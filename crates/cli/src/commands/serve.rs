//! `berth serve`: runs the server in the foreground until SIGINT or SIGTERM.

use crate::{
    args::ServeArgs,
    config,
    error::{CliError, CliResult},
    output::Out,
};
use berth_model::duration;
use berth_server::{ServeConfig, Server};

fn parse_duration(flag: &str, text: &str) -> CliResult<i64> {
    duration::parse_flag(flag, text).map_err(|e| CliError::usage(e.message))
}

pub async fn run(args: ServeArgs, out: &Out) -> CliResult {
    let filter = std::env::var("BERTH_LOG").unwrap_or_else(|_| "info".into());
    let targets: tracing_subscriber::filter::Targets = filter.parse().map_err(|e| {
        CliError::usage(format!(
            "invalid BERTH_LOG '{filter}' ({e}); use e.g. 'info' or 'berth_server=debug'"
        ))
    })?;
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(targets)
        .try_init();

    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| config::berth_home().join("data"));
    let default_plan = args.default_plan.parse().map_err(|e: berth_model::Error| {
        CliError::usage(format!("--default-plan: {}", e.message))
    })?;
    let regions: Vec<String> = args
        .regions
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if regions.is_empty() {
        return Err(CliError::usage(
            "--regions needs at least one region, e.g. --regions us,eu",
        ));
    }
    let cfg = ServeConfig {
        data_dir: data_dir.clone(),
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        database_url: args.database_url.clone(),
        regions,
        default_plan,
        reap_interval_ms: parse_duration("--reap-interval", &args.reap_interval)?,
        min_expiration_ms: parse_duration("--min-expiration", &args.min_expiration)?,
        max_expiration_ms: parse_duration("--max-expiration", &args.max_expiration)?,
        log_retention: args.log_retention,
    };
    if cfg.reap_interval_ms < 100 {
        return Err(CliError::usage("--reap-interval must be at least 100ms"));
    }
    if let Some(u) = &cfg.public_url {
        let rest = u
            .strip_prefix("http://")
            .or_else(|| u.strip_prefix("https://"))
            .unwrap_or("");
        if rest.is_empty() || rest.contains(' ') {
            return Err(CliError::usage(format!(
                "--public-url '{u}' is not a URL; write it with its scheme, e.g. https://berth.example.com"
            )));
        }
    }
    if cfg.min_expiration_ms > cfg.max_expiration_ms {
        return Err(CliError::usage(
            "--min-expiration must not be longer than --max-expiration",
        ));
    }
    let server = Server::bind(cfg)
        .await
        .map_err(|e| CliError::failed(format!("{e:#}")))?;

    let b = &server.bootstrapped;
    if b.first_start {
        out.info(format!(
            "First start: created team 'default', project 'default' and admin 'admin' in {}",
            data_dir.display()
        ));
    }
    out.info(format!(
        "Admin token: {}",
        server.admin_token_path.display()
    ));
    if config::load().ok().flatten().is_none() {
        let login = config::Config {
            url: Some(server.public_url.clone()),
            access_token: Some(b.admin_token.expose().to_string()),
            username: Some(berth_control::bootstrap::ADMIN_USERNAME.into()),
        };
        match config::save(&login) {
            Ok(path) => out.info(format!(
                "Logged this machine's CLI in as 'admin' ({})",
                path.display()
            )),
            Err(e) => out.info(format!("warning: could not log the CLI in: {e}")),
        }
    }
    if server.public_url != format!("http://{}", server.local_addr) {
        out.info(format!("Clients are told to use {}", server.public_url));
    }
    // The one line on stdout, so scripts and tests can find the port when --listen used port 0.
    println!("berth listening on http://{}", server.local_addr);
    server
        .run(berth_server::shutdown_signal())
        .await
        .map_err(|e| CliError::failed(format!("{e:#}")))?;
    out.info("berth stopped");
    Ok(())
}
