//! Crash safety: `berth serve` killed with SIGKILL in the middle of concurrent mutations on
//! several deployments, of pushes, and of a reap; then restarted on the same data. Every
//! acknowledged write is there, no transaction is half-visible, a deployment's code is one push
//! or the other, and a reaped deployment is gone whole. On the embedded store and, when
//! `BERTH_TEST_DATABASE_URL` is set (`.ci/run` sets it), on PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const APP: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
// One transaction writes a left row, twenty fillers and a right row: a crash may lose all of it
// (when unacknowledged) but never some of it.
export const pair = mutation({ args: { tag: v.string() }, handler: async (ctx, { tag }) => {
  await ctx.db.insert("left", { tag });
  for (let i = 0; i < 20; i++) await ctx.db.insert("filler", { tag, i });
  await ctx.db.insert("right", { tag });
  return tag;
} });
export const audit = query({ args: {}, handler: async (ctx) => ({
  left: (await ctx.db.query("left").collect()).map((d) => d.tag),
  right: (await ctx.db.query("right").collect()).map((d) => d.tag),
  filler: (await ctx.db.query("filler").collect()).length,
}) });
"#;

/// Each backend to run on: its label and `berth serve` arguments.
fn backends(test: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut out = vec![("sqlite", vec![])];
    if let Some(db) = common::postgres_url(test) {
        out.push(("postgres", vec!["--database-url".to_string(), db]));
    }
    out
}

fn kill(s: &mut TestServer) {
    let mut child = s.child.take().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn api(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let (status, out) = common::http(
        &s.url,
        method,
        path,
        &[("Authorization", Some(format!("Bearer {}", s.admin_token())))],
        text.as_deref(),
    );
    (status, serde_json::from_str(&out).unwrap_or(Value::Null))
}

fn create(s: &TestServer, reference: &str, expiration: Option<&str>) -> String {
    let mut body = json!({"type": "dev", "reference": reference});
    if let Some(e) = expiration {
        body["expiration"] = json!(e);
    }
    let (status, d) = api(s, "POST", "/v1/projects/1/create_deployment", Some(body));
    assert_eq!(status, 200, "{d}");
    d["name"].as_str().unwrap().to_string()
}

fn push(url: &str, token: &str, name: &str, modules: Value) -> Result<u16, String> {
    let body = json!({ "modules": modules }).to_string();
    common::try_http(
        url,
        "POST",
        &format!("/d/{name}/api/push"),
        &[("Authorization", Some(format!("Convex {token}")))],
        Some(&body),
    )
    .map(|(status, _)| status)
}

fn query(s: &TestServer, name: &str, path: &str) -> Value {
    let (status, v) = api(
        s,
        "POST",
        &format!("/d/{name}/api/query"),
        Some(json!({"path": path, "args": {}, "format": "json"})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success", "{v}");
    v["value"].clone()
}

#[test]
fn killed_during_mutations_on_several_deployments() {
    for (label, args) in backends("killed_during_mutations_on_several_deployments") {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = TestServer::start(&args);
        let token = s.admin_token();
        let names: Vec<String> = (0..3)
            .map(|i| {
                let name = create(&s, &format!("dev/admin/crash{i}"), None);
                let modules = json!([{"path": "crash.ts", "source": APP}]);
                assert_eq!(push(&s.url, &token, &name, modules), Ok(200));
                name
            })
            .collect();
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let (url, name, tx) = (s.url.clone(), names[w % 3].clone(), tx.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        let tag = format!("w{w}-{i}");
                        let body = json!({"path": "crash:pair", "args": {"tag": tag}}).to_string();
                        let Ok((200, text)) = common::try_http(
                            &url,
                            "POST",
                            &format!("/d/{name}/api/mutation"),
                            &[],
                            Some(&body),
                        ) else {
                            return;
                        };
                        if text.contains("\"success\"") {
                            let _ = tx.send((name.clone(), tag));
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        std::thread::sleep(Duration::from_millis(1500));
        kill(&mut s);
        for w in writers {
            let _ = w.join();
        }
        let acknowledged: Vec<(String, String)> = rx.iter().collect();
        assert!(
            acknowledged.len() > 10,
            "{label}: the load ran ({})",
            acknowledged.len()
        );

        s.spawn(&args);
        for name in &names {
            let a = query(&s, name, "crash:audit");
            let left: Vec<&str> = a["left"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let right: Vec<&str> = a["right"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(
                left, right,
                "{label}: a transaction is half there in {name}"
            );
            assert_eq!(
                a["filler"].as_f64().unwrap() as usize,
                left.len() * 20,
                "{label}: fillers of a half transaction in {name}"
            );
            for (_, tag) in acknowledged.iter().filter(|(n, _)| n == name) {
                assert!(
                    left.contains(&tag.as_str()),
                    "{label}: {tag} was acknowledged but is gone"
                );
            }
        }
        eprintln!(
            "{label}: {} acknowledged transactions over 3 deployments, all there after SIGKILL",
            acknowledged.len()
        );
    }
}

fn version_modules(v: u32) -> Value {
    // Two modules and a third that reads both: a push is all three or none.
    let filler = "// padding\n".repeat(2000);
    json!([
        {"path": "a.ts", "source": format!("export const V = {v};\n{filler}")},
        {"path": "b.ts", "source": format!("export const V = {v};\n{filler}")},
        {"path": "check.ts", "source": "import { query } from \"./_generated/server\";\nimport * as a from \"./a\";\nimport * as b from \"./b\";\nexport const versions = query(async () => [a.V, b.V]);\n"},
    ])
}

#[test]
fn killed_during_pushes() {
    for (label, args) in backends("killed_during_pushes") {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = TestServer::start(&args);
        let token = s.admin_token();
        let name = create(&s, "dev/admin/pushes", None);
        assert_eq!(push(&s.url, &token, &name, version_modules(1)), Ok(200));
        let stop = Arc::new(AtomicBool::new(false));
        let pushers: Vec<_> = (0..3)
            .map(|p| {
                let (url, token, name, stop) =
                    (s.url.clone(), token.clone(), name.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut done = 0;
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match push(&url, &token, &name, version_modules(2 + p * 1000 + i)) {
                            Ok(200) => done += 1,
                            _ => break,
                        }
                    }
                    done
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1200));
        kill(&mut s);
        stop.store(true, Ordering::Relaxed);
        let pushed: u32 = pushers.into_iter().map(|p| p.join().unwrap()).sum();
        assert!(pushed > 0, "{label}: pushes ran");
        s.spawn(&args);
        let v = query(&s, &name, "check:versions");
        assert_eq!(v[0], v[1], "{label}: the code is half of one push: {v}");
        eprintln!(
            "{label}: {pushed} pushes acknowledged; after SIGKILL the code is one whole push ({v})"
        );
    }
}

#[test]
fn killed_during_a_reap() {
    for (label, args) in backends("killed_during_a_reap") {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--min-expiration", "1s", "--reap-interval", "100ms"]);
        let mut s = TestServer::start(&args);
        let token = s.admin_token();
        let keeper = create(&s, "dev/admin/keeper", None);
        let modules = json!([{"path": "crash.ts", "source": APP}]);
        assert_eq!(push(&s.url, &token, &keeper, modules.clone()), Ok(200));
        let doomed: Vec<String> = (0..15)
            .map(|i| {
                let name = create(&s, &format!("dev/admin/doomed{i}"), Some("in 2s"));
                assert_eq!(push(&s.url, &token, &name, modules.clone()), Ok(200));
                let (status, _) = api(
                    &s,
                    "POST",
                    &format!("/d/{name}/api/mutation"),
                    Some(json!({"path": "crash:pair", "args": {"tag": "x"}})),
                );
                assert_eq!(status, 200);
                name
            })
            .collect();
        // Kill as the reaper starts on them (they expire about 2 s after creation).
        let first = Instant::now();
        while Instant::now() - first < Duration::from_secs(10) {
            let (status, _) = api(&s, "GET", &format!("/v1/deployments/{}", doomed[0]), None);
            if status == 410 || status == 404 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        kill(&mut s);

        s.spawn(&args);
        let deadline = Instant::now() + Duration::from_secs(20);
        for name in &doomed {
            loop {
                let (status, _) = api(
                    &s,
                    "GET",
                    &format!("/v1/deployments/{name}?includeExpired=true"),
                    None,
                );
                if status == 404 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{label}: {name} was never reaped"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            // The row goes first, then the files (a crash between the two leaves files that the
            // next start sweeps): wait the moment it takes.
            let left = || {
                std::fs::read_dir(s.data_dir.join("deployments"))
                    .map(|d| {
                        d.filter_map(Result::ok)
                            .filter(|e| {
                                e.file_name()
                                    .to_string_lossy()
                                    .starts_with(&format!("{name}."))
                            })
                            .count()
                    })
                    .unwrap_or(0)
            };
            let files_deadline = Instant::now() + Duration::from_secs(5);
            while left() > 0 && Instant::now() < files_deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(
                left(),
                0,
                "{label}: {name} was reaped but its data file is still there"
            );
        }
        let a = query(&s, &keeper, "crash:audit");
        assert_eq!(
            a["left"],
            json!([]),
            "{label}: the live deployment is untouched"
        );
        assert_eq!(query(&s, &keeper, "crash:audit")["filler"], json!(0));
        eprintln!(
            "{label}: 15 expiring deployments, killed mid-reap; after restart all gone whole, the live one kept"
        );
    }
}

const INDEXED: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
// Each call inserts one document, moves another to a new key and deletes a third: every index
// entry is written, rewritten and removed under load.
export const churn = mutation({ args: { w: v.number(), i: v.number() }, handler: async (ctx, { w, i }) => {
  await ctx.db.insert("things", { k: (w * 7919 + i * 104729) % 1000, w, i });
  const some = await ctx.db.query("things").withIndex("by_k", (q) => q.eq("k", (i * 31) % 1000)).first();
  if (some) await ctx.db.patch(some._id, { k: (some.k + 500) % 1000 });
  const other = await ctx.db.query("things").withIndex("by_k", (q) => q.gte("k", (i * 17) % 1000)).first();
  if (other && i % 3 === 0) await ctx.db.delete(other._id);
} });
// The table read whole, and the same documents read through the index: both must agree.
export const check = query({ args: {}, handler: async (ctx) => {
  const scan = await ctx.db.query("things").collect();
  const viaIndex = await ctx.db.query("things").withIndex("by_k").collect();
  const key = (d: any) => `${String(d.k).padStart(4, "0")}|${d._creationTime}|${d._id}`;
  const expected = scan.map(key).sort();
  const got = viaIndex.map(key);
  let missing = 0;
  for (const d of scan.slice(0, 300)) {
    const r = await ctx.db.query("things").withIndex("by_k", (q) => q.eq("k", d.k)).collect();
    if (!r.some((x) => x._id === d._id)) missing++;
  }
  return { scan: scan.length, index: viaIndex.length, same: JSON.stringify(expected) === JSON.stringify(got), missing };
} });
"#;

const INDEXED_SCHEMA: &str = r#"
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ things: defineTable({ k: v.number(), w: v.number(), i: v.number() }).index("by_k", ["k"]) });
"#;

/// Index entries are written in the documents' transactions: after SIGKILL in the middle of
/// inserts, moves and deletes, the index and the table hold exactly the same documents.
#[test]
fn index_entries_match_their_documents_after_a_kill() {
    for (label, args) in backends("index_entries_match_their_documents_after_a_kill") {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = TestServer::start(&args);
        let token = s.admin_token();
        let name = create(&s, "dev/admin/indexed", None);
        let modules = json!([
            {"path": "things.ts", "source": INDEXED},
            {"path": "schema.ts", "source": INDEXED_SCHEMA},
        ]);
        assert_eq!(push(&s.url, &token, &name, modules), Ok(200));
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (url, name, done) = (s.url.clone(), name.clone(), done.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        let body =
                            json!({"path": "things:churn", "args": {"w": w, "i": i}}).to_string();
                        let Ok((200, text)) = common::try_http(
                            &url,
                            "POST",
                            &format!("/d/{name}/api/mutation"),
                            &[],
                            Some(&body),
                        ) else {
                            return;
                        };
                        if text.contains("\"success\"") {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        kill(&mut s);
        for w in writers {
            let _ = w.join();
        }
        let done = done.load(Ordering::Relaxed);
        assert!(done > 10, "{label}: the load ran ({done})");
        s.spawn(&args);
        let c = query(&s, &name, "things:check");
        assert!(c["scan"].as_f64().unwrap() > 0.0, "{label}: {c}");
        assert_eq!(c["scan"], c["index"], "{label}: {c}");
        assert_eq!(
            c["same"], true,
            "{label}: the index and the table disagree: {c}"
        );
        assert_eq!(c["missing"], 0.0, "{label}: {c}");
        eprintln!(
            "{label}: {done} acknowledged churn mutations; index and table agree after SIGKILL"
        );
    }
}
