//! `berth dev [--once]`: push `convex/` to the selected dev deployment, then again on every saved
//! change (polling the folder; a burst of saves is pushed once).

use crate::{
    args::{DevArgs, Global},
    client::Client,
    commands::deploy::{functions_dir, push},
    error::{CliError, CliResult},
    output::Out,
    target,
};
use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant, SystemTime},
};

/// Every file under `dir` with its modification time and size.
fn snapshot(dir: &Path, out: &mut BTreeMap<String, (SystemTime, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || name == "node_modules" || name == "_generated" {
            continue;
        }
        if p.is_dir() {
            snapshot(&p, out);
        } else if let Ok(m) = e.metadata() {
            out.insert(
                p.to_string_lossy().into_owned(),
                (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
            );
        }
    }
}

pub async fn run(g: &Global, args: DevArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let d = target::target(&client, g, None, out).await?;
    if d.deployment_type == "prod" {
        return Err(CliError::usage(format!(
            "berth dev pushes on every save and does not run against a production deployment ({}); use `berth deploy` for production",
            d.name
        )));
    }
    let dir = functions_dir()?;
    let first = push(&client, &d, g, false, None, out).await;
    if args.once {
        return first.map(|_| ());
    }
    if let Err(e) = first {
        out.info(format!("error: {e}"));
    }
    out.info(format!(
        "Watching {} for changes (Ctrl-C to stop)…",
        dir.display()
    ));
    let mut seen = BTreeMap::new();
    snapshot(&dir, &mut seen);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut now = BTreeMap::new();
        snapshot(&dir, &mut now);
        if now == seen {
            continue;
        }
        // Let a burst of saves settle before pushing.
        let settle = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let mut again = BTreeMap::new();
            snapshot(&dir, &mut again);
            if again == now || settle.elapsed() > Duration::from_secs(2) {
                now = again;
                break;
            }
            now = again;
        }
        seen = now;
        if let Err(e) = push(&client, &d, g, false, None, out).await {
            out.info(format!("error: {e}"));
        }
    }
}
