//! Live queries (docs/PERFORMANCE.md), on the release server and the embedded store, with
//! WebSocket clients speaking Convex's sync protocol:
//! - update latency, from sending a mutation (over HTTP) to each subscriber receiving the
//!   transition that carries its new result: 1,000 clients on one deployment, and 100
//!   deployments of 10 clients; beside it, the mutation's own HTTP round trip in the same run;
//! - server memory per idle subscription: 1,000 sockets of 10 subscriptions each;
//! - insert mutations per second with 1,000 subscribers on the written table, beside the rate
//!   with none.
//!
//! Run with `cargo bench -p berth --bench live` (about a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (await ctx.db.query("notes").withIndex("by_channel", (q) => q.eq("channel", channel)).order("desc").first())?.n ?? -1,
});
export const add = mutation({
  args: { channel: v.string(), n: v.number() },
  handler: (ctx, args) => ctx.db.insert("notes", args),
});
"#;

const SCHEMA: &str = r#"
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({
  notes: defineTable({ channel: v.string(), n: v.number() }).index("by_channel", ["channel"]),
});
"#;

/// A WebSocket client of the sync protocol, just enough for the benchmark: masked text frames
/// out, unmasked frames in (read through a buffer: one read for most messages, as a real
/// client's would be).
struct Socket {
    stream: tokio::io::BufReader<TcpStream>,
}

impl Socket {
    async fn connect(base: &str, name: &str) -> Socket {
        let addr = base.strip_prefix("http://").unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let req = format!(
            "GET /d/{name}/api/1.48.0/sync HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Socket {
            stream: tokio::io::BufReader::new(stream),
        }
    }

    async fn send(&mut self, v: &Value) {
        let payload = v.to_string().into_bytes();
        let mut frame = vec![0x81u8];
        let mask = [1u8, 2, 3, 4];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.get_mut().write_all(&frame).await.unwrap();
    }

    /// The next text message.
    async fn recv(&mut self) -> Value {
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).await.unwrap();
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).await.unwrap();
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).await.unwrap();
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut body = vec![0u8; len as usize];
            self.stream.read_exact(&mut body).await.unwrap();
            if h[0] & 0x0f == 1 {
                return serde_json::from_slice(&body).unwrap();
            }
        }
    }

    /// Connects and subscribes to `latest` for each channel; returns once every first value came.
    async fn subscribe(base: &str, name: &str, channels: &[String]) -> Socket {
        let mut s = Socket::connect(base, name).await;
        s.send(
            &json!({"type": "Connect", "sessionId": "bench", "connectionCount": 0,
            "lastCloseReason": "InitialConnect", "clientTs": 0}),
        )
        .await;
        let adds: Vec<Value> = channels
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"type": "Add", "queryId": i, "udfPath": "live:latest", "args": [{"channel": c}]}))
            .collect();
        s.send(&json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": adds}))
            .await;
        loop {
            let m = s.recv().await;
            if m["type"] == "Transition" {
                assert_eq!(
                    m["modifications"].as_array().unwrap().len(),
                    channels.len(),
                    "{m}"
                );
                return s;
            }
        }
    }
}

struct Bench {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Bench {
    async fn deployment(&self, reference: &str) -> String {
        let name = support::dev_deployment(&self.http, &self.url, &self.token, reference).await;
        let r = self
            .http
            .post(format!("{}/d/{name}/api/push", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"modules": [
                {"path": "live.ts", "source": APP},
                {"path": "schema.ts", "source": SCHEMA},
            ]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        name
    }

    async fn add(&self, name: &str, channel: &str, n: u64) {
        let r: Value = self
            .http
            .post(format!("{}/d/{name}/api/mutation", self.url))
            .json(&json!({"path": "live:add", "args": {"channel": channel, "n": n}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "success", "{r}");
    }
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Subscribers that each report when they see `n` as their query's value, on a channel.
type Seen = tokio::sync::mpsc::UnboundedSender<(u64, Instant)>;

fn listen(mut s: Socket, seen: Seen) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let m = s.recv().await;
            if m["type"] != "Transition" {
                continue;
            }
            for q in m["modifications"].as_array().into_iter().flatten() {
                if let Some(n) = q["value"].as_f64()
                    && seen.send((n as u64, Instant::now())).is_err()
                {
                    return;
                }
            }
        }
    })
}

/// Sends `rounds` mutations, one at a time, each to a deployment in turn, and waits until every
/// subscriber of it has seen it; returns the latencies (ms) and the mutations' own round trips.
async fn rounds(
    b: &Bench,
    names: &[String],
    per_deployment: usize,
    rounds: u64,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>,
    first: u64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut lat, mut own) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let n = first + r;
        let name = &names[(r as usize) % names.len()];
        let sent = Instant::now();
        b.add(name, "c", n).await;
        own.push(sent.elapsed().as_secs_f64() * 1000.0);
        let mut got = 0;
        while got < per_deployment {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an update within 10 s")
                .unwrap();
            if seen == n {
                lat.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                got += 1;
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    own.sort_by(f64::total_cmp);
    (lat, own)
}

/// CPU time (user + system) a process has used so far, in ms.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the state.
    (ticks(11) + ticks(12)) * 10.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn insert_rate(b: &Bench, name: &str) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..4u64 {
        let (http, url, name) = (b.http.clone(), b.url.clone(), name.to_string());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < Duration::from_secs(5) {
                let r = http
                    .post(format!("{url}/d/{name}/api/mutation"))
                    .json(&json!({"path": "live:add", "args": {"channel": "c", "n": 1_000_000 * (c + 1) + n}}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(dir.path(), None, &[]);
    let b = Arc::new(Bench {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        token: server.token.clone(),
    });
    let mut lines = Vec::new();

    // 1,000 clients on one deployment.
    let one = b.deployment("dev/live-one").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut listeners = Vec::new();
    for _ in 0..1000 {
        let s = Socket::subscribe(&b.url, &one, &["c".to_string()]).await;
        listeners.push(listen(s, tx.clone()));
    }
    let (server_cpu, bench_cpu) = (cpu_ms(server.child.id()), cpu_ms(std::process::id()));
    // More rounds (BERTH_BENCH_LIVE_ROUNDS) give a profiler time to look.
    let n: u64 = std::env::var("BERTH_BENCH_LIVE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (lat, own) = rounds(&b, std::slice::from_ref(&one), 1000, n, &mut rx, 1).await;
    lines.push(format!(
        "1 deployment x 1,000 clients: update p50 {:.1} ms  p99 {:.1} ms   (the mutation's own HTTP round trip: p50 {:.1} ms; CPU per update: server {:.1} ms, clients {:.1} ms)",
        pct(&lat, 50),
        pct(&lat, 99),
        pct(&own, 50),
        (cpu_ms(server.child.id()) - server_cpu) / n as f64,
        (cpu_ms(std::process::id()) - bench_cpu) / n as f64,
    ));
    // The insert rate with those 1,000 subscribers on the table, beside a deployment with none.
    let with = insert_rate(&b, &one).await;
    let quiet = b.deployment("dev/live-quiet").await;
    let without = insert_rate(&b, &quiet).await;
    // Drain what the subscribers saw meanwhile.
    while rx.try_recv().is_ok() {}
    lines.push(format!(
        "insert mutations, 4 connections, 5 s: {with:.0}/s with 1,000 subscribers, {without:.0}/s with none ({:.0}%; target at least 50%)",
        with / without * 100.0
    ));
    for l in listeners.drain(..) {
        l.abort();
    }
    drop(rx);

    // 100 deployments of 10 clients.
    let mut names = Vec::new();
    for i in 0..100 {
        names.push(b.deployment(&format!("dev/live-{i}")).await);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut per_name = std::collections::HashMap::new();
    for name in &names {
        let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
        per_name.insert(name.clone(), ntx.clone());
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = nrx.recv().await {
                if fwd.send(m).is_err() {
                    return;
                }
            }
        });
        for _ in 0..10 {
            let s = Socket::subscribe(&b.url, name, &["c".to_string()]).await;
            listeners.push(listen(s, ntx.clone()));
        }
    }
    let (lat, own) = rounds(&b, &names, 10, 300, &mut rx, 10_000).await;
    lines.push(format!(
        "100 deployments x 10 clients: update p50 {:.1} ms  p99 {:.1} ms   (the mutation's own HTTP round trip: p50 {:.1} ms)",
        pct(&lat, 50),
        pct(&lat, 99),
        pct(&own, 50)
    ));
    for l in listeners.drain(..) {
        l.abort();
    }
    drop(rx);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Idle subscriptions: 1,000 sockets of 10 queries each.
    let idle = b.deployment("dev/live-idle").await;
    let before = rss_kib(server.child.id());
    let mut held = Vec::new();
    for i in 0..1000 {
        let channels: Vec<String> = (0..10).map(|j| format!("idle-{i}-{j}")).collect();
        held.push(Socket::subscribe(&b.url, &idle, &channels).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(server.child.id());
    lines.push(format!(
        "10,000 idle subscriptions (1,000 sockets): server RSS {} → {} KiB, {:.1} KiB a subscription (target under 20)",
        before,
        after,
        (after.saturating_sub(before)) as f64 / 10_000.0
    ));
    drop(held);
    drop(server);

    println!(
        "\nberth live-query benchmark (release build, embedded store, {} cores; clients in the same process)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for l in lines {
        println!("{l}");
    }
}
