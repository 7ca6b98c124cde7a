//! `berth logs [--follow] [--history N]`.

use crate::{
    args::{Global, LogsArgs},
    client::Client,
    error::CliResult,
    output::Out,
    target,
};

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    seq: u64,
    time: i64,
    level: String,
    function: String,
    request_id: String,
    text: String,
}

#[derive(serde::Deserialize)]
struct Page {
    entries: Vec<Entry>,
    cursor: u64,
}

fn line(e: &Entry) -> String {
    let day = crate::output::time(e.time);
    let date = day.split(' ').next().unwrap_or_default();
    let secs = e.time.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{date} {:02}:{:02}:{:02}.{:03} [{}] {} ({}) {}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        e.time.rem_euclid(1000),
        e.level,
        e.function,
        e.request_id,
        e.text
    )
}

fn print(out: &Out, entries: &[Entry]) {
    for e in entries {
        if out.json {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        } else {
            println!("{}", line(e));
        }
    }
}

pub async fn run(g: &Global, args: LogsArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let d = target::target(&client, g, None, out).await?;
    let base = format!("/d/{}/api/logs", d.name);
    let first: Page = client
        .get(&format!("{base}?limit={}", args.history.clamp(1, 1000)))
        .await?;
    if args.history > 0 {
        print(out, &first.entries);
    }
    if !args.follow {
        return Ok(());
    }
    out.info("Following the log (Ctrl-C to stop)…");
    let mut cursor = first.cursor;
    loop {
        let page: Page = client
            .get(&format!("{base}?cursor={cursor}&wait=25&limit=1000"))
            .await?;
        print(out, &page.entries);
        cursor = page.cursor;
    }
}
