//! The runtime over a small app of edge cases: values, validation, transactions, queries,
//! determinism, errors, logs, limits, and actions calling other functions.

#![allow(clippy::unwrap_used)]

use berth_runtime::{
    CallRequest, CallResult, Limits, Outcome, Pool, UdfKind, isolate::FunctionError,
};
use berth_store::docs::{DocStore, ModuleRecord, sqlite::SqliteDocStore};
use serde_json::{Value as Json, json};
use std::{path::Path, sync::Arc, time::Duration};

struct Env {
    rt: tokio::runtime::Runtime,
    pool: Arc<Pool>,
    docs: Arc<dyn DocStore>,
    _dir: tempfile::TempDir,
}

fn files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

fn app(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    files(&root, &root, &mut out);
    out.sort();
    out
}

fn env_with(modules: Vec<(String, String)>) -> Env {
    env_with_indexes(modules, true)
}

/// `stored: false` stores the code without its indexes, as berth did before it kept them.
fn env_with_indexes(modules: Vec<(String, String)>, stored: bool) -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let limits = Limits {
        memory_bytes: 32 << 20,
        query_time: Duration::from_millis(500),
        action_time: Duration::from_secs(5),
        // Small enough for a test to reach; the same checks as Convex's defaults.
        transaction: berth_runtime::limits::TxLimits {
            rows_read: 500,
            bytes_read: 1 << 20,
            writes: 100,
            bytes_written: 256 << 10,
        },
    };
    let pool = Pool::new(2, limits, rt.handle().clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let docs: Arc<dyn DocStore> =
        Arc::new(SqliteDocStore::open(&dir.path().join("d.sqlite3")).unwrap());
    let (compiled, _functions, mut schema) =
        rt.block_on(pool.analyze("test-dep-1", modules)).unwrap();
    let records: Vec<ModuleRecord> = compiled
        .into_iter()
        .map(|m| ModuleRecord {
            path: m.path,
            source: m.source,
            js: m.js,
            hash: m.hash,
        })
        .collect();
    if !stored {
        schema.indexes.clear();
    }
    docs.replace_code(&records, "[]", &schema).unwrap();
    Env {
        rt,
        pool: Arc::new(pool),
        docs,
        _dir: dir,
    }
}

fn env() -> Env {
    env_with(app("tests/app"))
}

impl Env {
    fn call(&self, path: &str, kind: UdfKind, args: Json) -> CallResult {
        self.call_as(path, Some(kind), false, args)
    }
    fn call_as(
        &self,
        path: &str,
        kind: Option<UdfKind>,
        internal_ok: bool,
        args: Json,
    ) -> CallResult {
        let req = CallRequest {
            path: path.into(),
            kind,
            internal_ok,
            args,
            request_id: "0123456789abcdef".into(),
            live: None,
            once: None,
        };
        self.rt
            .block_on(self.pool.call("test-dep-1", 1, self.docs.clone(), req))
            .unwrap()
    }
    fn ok(&self, path: &str, kind: UdfKind, args: Json) -> Json {
        match self.call(path, kind, args).outcome {
            Outcome::Value(v) => v,
            Outcome::Error(e) => panic!("{path} failed: {} {}", e.message, e.stack),
        }
    }
    fn err(&self, path: &str, kind: UdfKind, args: Json) -> FunctionError {
        match self.call(path, kind, args).outcome {
            Outcome::Error(e) => e,
            Outcome::Value(v) => panic!("{path} succeeded with {v}"),
        }
    }
}

#[test]
fn values_round_trip_through_functions() {
    let e = env();
    for value in [
        json!(null),
        json!(1.5),
        json!("text"),
        json!({"$integer": "AQAAAAAAAAA="}),
        json!({"$bytes": "AQID"}),
        json!({"$float": "AAAAAAAA+H8="}),
        json!({"$float": "AAAAAAAAAIA="}),
        json!({"nested": {"list": [1, {"$integer": "//////////8="}, [true, null]]}}),
    ] {
        assert_eq!(
            e.ok("edge:echo", UdfKind::Query, json!({"value": value})),
            value
        );
    }
    assert_eq!(
        e.ok("edge:bare", UdfKind::Query, json!({})),
        json!(42),
        "bare handler and relative import"
    );
}

#[test]
fn validation_kinds_and_visibility() {
    let e = env();
    assert_eq!(
        e.ok("edge:typed", UdfKind::Query, json!({"n": 4})),
        json!(8)
    );
    let msg = e
        .err("edge:typed", UdfKind::Query, json!({"n": "4"}))
        .message;
    assert!(
        msg.starts_with("ArgumentValidationError") && msg.contains("Path: .n"),
        "{msg}"
    );
    let msg = e
        .err("edge:typed", UdfKind::Query, json!({"n": 1, "id": "nope"}))
        .message;
    assert!(msg.contains("v.id(\"things\")"), "{msg}");
    let msg = e.err("edge:badReturn", UdfKind::Query, json!({})).message;
    assert!(msg.starts_with("ReturnsValidationError"), "{msg}");
    let msg = e
        .err("edge:addThing", UdfKind::Query, json!({"n": 1}))
        .message;
    assert_eq!(
        msg,
        "Trying to execute edge.js:addThing as Query, but it is defined as Mutation."
    );
    let msg = e.err("edge:secret", UdfKind::Query, json!({})).message;
    assert_eq!(
        msg,
        "Could not find public function for 'edge.js:secret'. Did you forget to run `berth deploy`?"
    );
    let msg = e.err("edge:nothing", UdfKind::Query, json!({})).message;
    assert!(
        msg.contains("Could not find public function for 'edge.js:nothing'"),
        "{msg}"
    );
    match e.call_as("edge:secret", None, true, json!({})).outcome {
        Outcome::Value(v) => assert_eq!(v, json!("hidden")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mutations_are_all_or_nothing_and_queries_read_them() {
    let e = env();
    let err = e.err("edge:insertThenThrow", UdfKind::Mutation, json!({}));
    assert_eq!(err.message, "Uncaught Error: boom");
    assert!(
        err.stack.contains("convex/edge.ts"),
        "stack names the file: {}",
        err.stack
    );
    assert_eq!(
        e.ok("edge:things", UdfKind::Query, json!({})),
        json!([]),
        "the throw rolled the insert back"
    );
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(e.ok("edge:addThing", UdfKind::Mutation, json!({"n": n})));
    }
    let all = e.ok("edge:things", UdfKind::Query, json!({}));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all[0]["_id"], ids[0]);
    assert!(all[0]["_creationTime"].as_f64().unwrap() < all[6]["_creationTime"].as_f64().unwrap());
    // filter
    let big = e.ok("edge:bigThings", UdfKind::Query, json!({"min": 4}));
    let ns: Vec<f64> = big
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["n"].as_f64().unwrap())
        .collect();
    assert_eq!(ns, [4.0, 6.0, 7.0]);
    // withIndex + order
    let after = all[3]["_creationTime"].clone();
    let recent = e.ok("edge:recent", UdfKind::Query, json!({"after": after}));
    let ns: Vec<f64> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["n"].as_f64().unwrap())
        .collect();
    assert_eq!(ns, [7.0, 6.0, 5.0]);
    // paginate
    let mut cursor = Json::Null;
    let mut seen = Vec::new();
    loop {
        let p = e.ok(
            "edge:page",
            UdfKind::Query,
            json!({"cursor": cursor, "numItems": 3}),
        );
        seen.extend(
            p["page"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["n"].as_f64().unwrap()),
        );
        if p["isDone"] == json!(true) {
            break;
        }
        cursor = p["continueCursor"].clone();
    }
    assert_eq!(seen, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    // patch, replace, normalizeId, delete
    let r = e.ok("edge:patchAndGet", UdfKind::Mutation, json!({"id": ids[0]}));
    assert_eq!(r["patched"]["extra"], "x");
    assert!(
        r["patched"].get("n").is_none(),
        "patch with undefined removes the field"
    );
    assert_eq!(r["replaced"]["n"], 42);
    assert!(r["replaced"].get("extra").is_none());
    assert_eq!(r["replaced"]["_id"], ids[0]);
    assert_eq!(r["normalized"], ids[0]);
    assert_eq!(r["wrong"], Json::Null);
    assert_eq!(
        e.ok("edge:removeIt", UdfKind::Mutation, json!({"id": ids[1]})),
        Json::Null
    );
    let msg = e
        .err("edge:writeInQuery", UdfKind::Query, json!({}))
        .message;
    assert!(msg.contains("queries cannot write"), "{msg}");
}

#[test]
fn determinism_errors_and_logs() {
    let e = env();
    let a = e.ok("edge:deterministic", UdfKind::Query, json!({}));
    let b = e.ok("edge:deterministic", UdfKind::Query, json!({}));
    assert_eq!(a, b, "same request id, same Math.random");
    assert_eq!(a[1], json!(true), "Date is fixed during the call");
    let err = e.err("edge:failsWithData", UdfKind::Query, json!({}));
    assert_eq!(
        err.data,
        Some(json!({"big": {"$integer": "AgAAAAAAAAA="}, "code": 7}))
    );
    let r = e.call("edge:logs", UdfKind::Query, json!({}));
    let lines: Vec<String> = r
        .logs
        .iter()
        .map(|l| format!("[{}] {}", l.level, l.text))
        .collect();
    assert_eq!(
        lines,
        ["[LOG] 'hi' 1 { a: [ 1, 'x' ] }", "[WARN] 'careful'"]
    );
    assert_eq!(r.logs[0].function, "edge.js:logs");
}

#[test]
fn limits_end_the_call_and_the_deployment_keeps_serving() {
    let e = env();
    let msg = e.err("edge:loop", UdfKind::Query, json!({})).message;
    assert!(msg.contains("timed out"), "{msg}");
    let msg = e.err("edge:bomb", UdfKind::Query, json!({})).message;
    assert!(
        msg.contains("out of memory") || msg.contains("memory"),
        "{msg}"
    );
    assert_eq!(e.ok("edge:bare", UdfKind::Query, json!({})), json!(42));
}

#[test]
fn actions_call_other_functions() {
    let e = env();
    let r = e.ok("edge:chain", UdfKind::Action, json!({}));
    assert_eq!(r["id"], "string");
    assert_eq!(r["count"], 1);
    assert_eq!(r["hidden"], "hidden", "actions may call internal functions");
    assert!(
        r["failure"]
            .as_str()
            .unwrap()
            .contains("ArgumentValidationError"),
        "{r}"
    );
}

#[test]
fn the_example_app_runs() {
    let e = env_with(app("../../examples/messages/convex"));
    e.ok(
        "messages:send",
        UdfKind::Mutation,
        json!({"author": "ada", "body": "hello"}),
    );
    let n = e.ok(
        "messages:sendAndCount",
        UdfKind::Action,
        json!({"author": "bob", "body": "hi"}),
    );
    assert_eq!(n, json!(2));
    let list = e.ok("messages:list", UdfKind::Query, json!({}));
    assert_eq!(list[0]["body"], "hi", "newest first");
    let err = e.err(
        "messages:send",
        UdfKind::Mutation,
        json!({"author": "x", "body": " "}),
    );
    assert_eq!(err.data.unwrap()["code"], "EmptyMessage");
    match e
        .call_as(
            "messages:seed",
            Some(UdfKind::Mutation),
            true,
            json!({"count": 5}),
        )
        .outcome
    {
        Outcome::Value(v) => assert_eq!(v, json!(5)),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.ok("messages:count", UdfKind::Query, json!({})), json!(7));
}

#[test]
fn push_errors_name_file_and_line() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = Pool::new(1, Limits::default(), rt.handle().clone()).unwrap();
    let bad = |files: Vec<(&str, &str)>| {
        rt.block_on(
            pool.analyze(
                "test-dep-1",
                files
                    .into_iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            ),
        )
        .unwrap_err()
    };
    let e = bad(vec![("a.ts", "export const x = ;")]);
    assert!(e.starts_with("convex/a.ts:1:"), "{e}");
    let e = bad(vec![("a.ts", "import fs from 'fs';\nexport const x = 1;")]);
    assert!(
        e.contains("convex/a.ts:1:") && e.contains("'fs' is not allowed"),
        "{e}"
    );
    let e = bad(vec![(
        "a.ts",
        "export const x = 1;\nthrow new Error('at load');\n",
    )]);
    assert!(e.contains("convex/a.ts") && e.contains("at load"), "{e}");
}

#[test]
fn one_call_cannot_break_the_next_ones() {
    let e = env();
    assert_eq!(
        e.ok("edge:vandal", UdfKind::Mutation, json!({})),
        json!(2),
        "both assignments refused"
    );
    for _ in 0..5 {
        assert_eq!(e.ok("edge:bare", UdfKind::Query, json!({})), json!(42));
    }
    let a = e.ok("edge:deterministic", UdfKind::Query, json!({}));
    assert!(
        a[0].as_f64().unwrap() < 1.0,
        "Math.random still seeded: {a}"
    );
    assert_eq!(
        e.err("edge:throwsObject", UdfKind::Query, json!({}))
            .message,
        "Uncaught { x: 1 }"
    );
}

#[test]
fn schema_indexes_answer_ranges_in_index_order() {
    // From stored entries, and (for code pushed before berth stored them) by reading the table.
    for stored in [true, false] {
        index_ranges(stored);
    }
}

fn index_ranges(stored: bool) {
    let schema = r#"
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({
  people: defineTable({ name: v.string(), team: v.string(), age: v.number() }).index("by_team_age", ["team", "age"]),
});
"#;
    let people = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const add = mutation({
  args: { name: v.string(), team: v.string(), age: v.number() },
  handler: (ctx, a) => ctx.db.insert("people", a),
});
export const team = query({
  args: { team: v.string(), minAge: v.optional(v.number()), desc: v.optional(v.boolean()) },
  handler: async (ctx, { team, minAge, desc }) => {
    const q = ctx.db.query("people").withIndex("by_team_age", (q) => {
      const r = q.eq("team", team);
      return minAge === undefined ? r : r.gte("age", minAge);
    });
    return (await (desc ? q.order("desc") : q).collect()).map((p) => p.name);
  },
});
export const page = query({
  args: { cursor: v.union(v.string(), v.null()) },
  handler: async (ctx, { cursor }) => {
    const r = await ctx.db.query("people").withIndex("by_team_age").paginate({ numItems: 2, cursor });
    return { names: r.page.map((p) => p.name), isDone: r.isDone, continueCursor: r.continueCursor };
  },
});
export const missing = query({ args: {}, handler: (ctx) => ctx.db.query("people").withIndex("nope").collect() });
export const outOfOrder = query({ args: {}, handler: (ctx) =>
  ctx.db.query("people").withIndex("by_team_age", (q) => q.eq("age", 30)).collect() });
export const eqAfterRange = query({ args: {}, handler: (ctx) =>
  ctx.db.query("people").withIndex("by_team_age", (q) => q.gt("team", "a").eq("age", 30)).collect() });
export const scanPage = query({
  args: { cursor: v.union(v.string(), v.null()) },
  handler: async (ctx, { cursor }) => (await ctx.db.query("people").paginate({ numItems: 2, cursor })).page.length,
});
export const remove = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    for (const p of await ctx.db.query("people").collect()) if (p.name === name) await ctx.db.delete(p._id);
  },
});
"#;
    let e = env_with_indexes(
        vec![
            ("people.ts".into(), people.into()),
            ("schema.ts".into(), schema.into()),
        ],
        stored,
    );
    for (name, team, age) in [
        ("ann", "a", 30),
        ("bob", "a", 20),
        ("cy", "a", 40),
        ("dee", "b", 25),
    ] {
        e.ok(
            "people:add",
            UdfKind::Mutation,
            json!({"name": name, "team": team, "age": age}),
        );
    }
    let names = |args: Json| e.ok("people:team", UdfKind::Query, args);
    assert_eq!(names(json!({"team": "a"})), json!(["bob", "ann", "cy"]));
    assert_eq!(
        names(json!({"team": "a", "minAge": 30})),
        json!(["ann", "cy"])
    );
    assert_eq!(
        names(json!({"team": "a", "desc": true})),
        json!(["cy", "ann", "bob"])
    );
    assert_eq!(names(json!({"team": "c"})), json!([]));
    let first = e.ok("people:page", UdfKind::Query, json!({"cursor": null}));
    assert_eq!(first["names"], json!(["bob", "ann"]));
    assert_eq!(first["isDone"], json!(false));
    if stored {
        // An index cursor handed to another query is refused, not read as the start.
        let err = e.err(
            "people:scanPage",
            UdfKind::Query,
            json!({"cursor": first["continueCursor"]}),
        );
        assert!(
            err.message.contains("another version of this query"),
            "{}",
            err.message
        );
        // The cursor is the last key read: deleting its document changes nothing.
        e.ok("people:remove", UdfKind::Mutation, json!({"name": "ann"}));
    }
    let second = e.ok(
        "people:page",
        UdfKind::Query,
        json!({"cursor": first["continueCursor"]}),
    );
    assert_eq!(second["names"], json!(["cy", "dee"]));
    let err = e.err("people:missing", UdfKind::Query, json!({}));
    assert!(
        err.message.contains("has no index 'nope'") && err.message.contains("schema.ts"),
        "{}",
        err.message
    );
    // A range that does not follow the index's fields is refused, as Convex refuses it.
    for bad in ["people:outOfOrder", "people:eqAfterRange"] {
        let err = e.err(bad, UdfKind::Query, json!({}));
        assert!(
            err.message.contains("does not follow the index's fields")
                && err.message.contains(".filter()"),
            "{bad}: {}",
            err.message
        );
    }
}

#[test]
fn web_globals_user_code_expects() {
    let web = r#"
import { query, action } from "./_generated/server";
import { v } from "convex/values";
export const check = query({
  args: {},
  handler: async () => {
    const text = "héllo 👋 wörld";
    const bytes = new TextEncoder().encode(text);
    const url = new URL("/a/./b/../c?x=1&y=two%20words#frag", "https://Example.com:443/base/");
    url.searchParams.append("z", "3");
    const rel = new URL("../up", "http://h.test/a/b/c");
    const map = structuredClone(new Map([["k", { deep: [1, 2] }]]));
    return {
      bytes: bytes.length,
      back: new TextDecoder().decode(bytes),
      b64: btoa("hi there"),
      unb64: atob("aGkgdGhlcmU="),
      href: url.href, host: url.host, path: url.pathname, y: url.searchParams.get("y"), origin: url.origin,
      rel: rel.href,
      uuid: crypto.randomUUID(),
      deep: map.get("k").deep,
      selfIsGlobal: self === globalThis,
    };
  },
});
export const badUrl = query({ args: {}, handler: async () => new URL("not a url").href });
"#;
    let e = env_with(vec![("web.ts".into(), web.into())]);
    let a = e.ok("web:check", UdfKind::Query, json!({}));
    assert_eq!(a["bytes"], json!(18));
    assert_eq!(a["back"], json!("héllo 👋 wörld"));
    assert_eq!(a["b64"], json!("aGkgdGhlcmU="));
    assert_eq!(a["unb64"], json!("hi there"));
    assert_eq!(
        a["href"],
        json!("https://example.com/a/c?x=1&y=two+words&z=3#frag")
    );
    assert_eq!(a["host"], json!("example.com"));
    assert_eq!(a["path"], json!("/a/c"));
    assert_eq!(a["y"], json!("two words"));
    assert_eq!(a["origin"], json!("https://example.com"));
    assert_eq!(a["rel"], json!("http://h.test/a/up"));
    assert_eq!(a["deep"], json!([1, 2]));
    assert_eq!(a["selfIsGlobal"], json!(true));
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "{uuid}");
    // Queries are deterministic: the same request gets the same "random" UUID.
    let again = e.ok("web:check", UdfKind::Query, json!({}));
    assert_eq!(again["uuid"], a["uuid"]);
    let err = e.err("web:badUrl", UdfKind::Query, json!({}));
    assert!(err.message.contains("Invalid URL"), "{}", err.message);
}

#[test]
fn no_clock_or_random_source_moves_inside_a_query() {
    let e = env();
    let a = e.ok("edge:clocks", UdfKind::Query, json!({}));
    let now = a["now"].clone();
    assert!(now.is_number(), "{a}");
    // Every way to the `Date` constructor reads the call's fixed time, however long it ran.
    for key in ["ctorNow", "ctorNew", "sub"] {
        assert_eq!(a[key], now, "{key} moved: {a}");
    }
    for key in ["protoNow", "protoNew"] {
        assert!(a[key].is_null() || a[key] == now, "{key} moved: {a}");
    }
    let b = e.ok("edge:clocks", UdfKind::Query, json!({}));
    assert_eq!(a["bytes"], b["bytes"], "same request, same random bytes");
}

#[test]
fn only_actions_call_other_functions() {
    let e = env();
    for (path, kind) in [
        ("edge:queryCallsMutation", UdfKind::Query),
        ("edge:mutationCallsMutation", UdfKind::Mutation),
    ] {
        let err = e.err(path, kind, json!({}));
        assert!(
            err.message
                .contains("only actions may call other functions"),
            "{path}: {}",
            err.message
        );
    }
    assert_eq!(
        e.ok("edge:things", UdfKind::Query, json!({})),
        json!([]),
        "nothing was written through a refused nested call"
    );
}

#[test]
fn a_call_whose_caller_left_keeps_its_deployments_share_until_it_ends() {
    // Two workers: each deployment may hold one of them.
    let e = env();
    let loop_call = CallRequest {
        path: "edge:loop".into(),
        kind: Some(UdfKind::Query),
        internal_ok: false,
        args: json!({}),
        request_id: "gone".into(),
        live: None,
        once: None,
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    // The caller of a runaway query goes away after 50 ms; its job runs to its 500 ms limit.
    let gone = e.rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(50),
            e.pool.call("test-dep-1", 1, e.docs.clone(), loop_call),
        )
        .await
    });
    assert!(gone.is_err(), "the loop cannot have finished in 50 ms");
    let next = e.ok("edge:clocks", UdfKind::Query, json!({}));
    let began = next["now"].as_f64().unwrap();
    assert!(
        began - started >= 400.0,
        "the next call started {} ms after the runaway one, before that one's 500 ms were up",
        began - started
    );
}

#[test]
fn calls_beyond_the_waiting_limit_are_refused_at_once() {
    let e = env();
    let pool = e.pool.clone();
    let results = e.rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        // One runaway query holds the deployment's only worker while the others wait.
        for i in 0..(berth_runtime::pool::MAX_WAITING + 20) {
            let (pool, docs) = (pool.clone(), e.docs.clone());
            let path = if i == 0 { "edge:loop" } else { "edge:bare" };
            set.spawn(async move {
                let req = CallRequest {
                    path: path.into(),
                    kind: Some(UdfKind::Query),
                    internal_ok: false,
                    args: json!({}),
                    request_id: format!("r{i}"),
                    live: None,
                    once: None,
                };
                pool.call("test-dep-1", 1, docs, req).await
            });
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        set.join_all().await
    });
    let refused: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!refused.is_empty(), "some calls are refused");
    assert!(
        refused
            .iter()
            .all(|m| m.contains("overloaded") && m.contains("retry")),
        "{refused:?}"
    );
    let answered = results.iter().filter(|r| r.is_ok()).count();
    assert!(
        answered >= berth_runtime::pool::MAX_WAITING,
        "{answered} answered"
    );
}

#[test]
fn writes_that_break_the_schema_are_refused() {
    let schema = r#"
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({
  people: defineTable({ name: v.string(), age: v.optional(v.number()), friend: v.optional(v.id("people")) }),
});
"#;
    let people = r#"
import { mutation } from "./_generated/server";
import { v } from "convex/values";
export const add = mutation({ args: { doc: v.any() }, handler: (ctx, { doc }) => ctx.db.insert("people", doc) });
export const patch = mutation({ args: { id: v.id("people"), doc: v.any() }, handler: (ctx, { id, doc }) => ctx.db.patch(id, doc) });
export const other = mutation({ args: {}, handler: (ctx) => ctx.db.insert("untyped", { anything: [1, "x"] }) });
"#;
    let e = env_with(vec![
        ("people.ts".into(), people.into()),
        ("schema.ts".into(), schema.into()),
    ]);
    let id = e.ok(
        "people:add",
        UdfKind::Mutation,
        json!({"doc": {"name": "ann"}}),
    );
    e.ok(
        "people:add",
        UdfKind::Mutation,
        json!({"doc": {"name": "bob", "age": 3, "friend": id}}),
    );
    for bad in [
        json!({"doc": {"name": 5}}),
        json!({"doc": {"age": 3}}),
        json!({"doc": {"name": "cy", "extra": true}}),
    ] {
        let err = e.err("people:add", UdfKind::Mutation, bad.clone());
        assert!(
            err.message.contains(
                "Failed to insert or update a document in table \"people\" because it does not match the schema"
            ),
            "{bad}: {}",
            err.message
        );
    }
    let err = e.err(
        "people:patch",
        UdfKind::Mutation,
        json!({"id": id, "doc": {"age": "old"}}),
    );
    assert!(
        err.message.contains("does not match the schema"),
        "{}",
        err.message
    );
    // A table the schema does not name takes anything.
    e.ok("people:other", UdfKind::Mutation, json!({}));
}

#[test]
fn a_transaction_stops_at_its_read_and_write_limits() {
    // This environment's limits: 500 documents or 1 MiB read, 100 writes or 256 KiB written.
    let bulk = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const fill = mutation({
  args: { from: v.number(), count: v.number(), size: v.optional(v.number()) },
  handler: async (ctx, { from, count, size }) => {
    for (let i = from; i < from + count; i++) await ctx.db.insert("rows", { i, tag: i % 10, pad: "x".repeat(size ?? 0) });
  },
});
export const all = query({ args: {}, handler: async (ctx) => (await ctx.db.query("rows").collect()).length });
export const some = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("rows").withIndex("by_tag", (q) => q.eq("tag", 3)).take(10)).length,
});
export const big = mutation({
  args: { count: v.number() },
  handler: async (ctx, { count }) => {
    for (let i = 0; i < count; i++) await ctx.db.insert("rows", { i, tag: 77, pad: "y".repeat(60_000) });
  },
});
export const twoBig = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("rows").withIndex("by_tag", (q) => q.eq("tag", 77)).take(2)).length,
});
"#;
    let schema = r#"
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ rows: defineTable({ i: v.number(), tag: v.number(), pad: v.string() }).index("by_tag", ["tag"]) });
"#;
    let e = env_with(vec![
        ("bulk.ts".into(), bulk.into()),
        ("schema.ts".into(), schema.into()),
    ]);
    let err = e.err(
        "bulk:fill",
        UdfKind::Mutation,
        json!({"from": 0, "count": 101}),
    );
    assert!(
        err.message
            .contains("Too many writes in a single function execution (limit: 100)"),
        "{}",
        err.message
    );
    let err = e.err(
        "bulk:fill",
        UdfKind::Mutation,
        json!({"from": 0, "count": 3, "size": 100_000}),
    );
    assert!(
        err.message.contains("Too many bytes written"),
        "{}",
        err.message
    );
    for from in (0..600).step_by(100) {
        e.ok(
            "bulk:fill",
            UdfKind::Mutation,
            json!({"from": from, "count": 100}),
        );
    }
    let err = e.err("bulk:all", UdfKind::Query, json!({}));
    assert!(
        err.message
            .contains("Too many documents read in a single function execution (limit: 500)")
            && err.message.contains("paginating"),
        "{}",
        err.message
    );
    // An index range reads what it returns: well under the limit.
    assert_eq!(e.ok("bulk:some", UdfKind::Query, json!({})), json!(10));
    // Even where the range holds more than the limit: 21 documents of 60 KB (1.2 MiB), of
    // which take(2) reads 2 (reading a page of them would pass the 1 MiB).
    for _ in 0..7 {
        e.ok("bulk:big", UdfKind::Mutation, json!({"count": 3}));
    }
    assert_eq!(e.ok("bulk:twoBig", UdfKind::Query, json!({})), json!(2));
}

#[test]
fn documents_cross_into_javascript_a_page_at_a_time() {
    let app = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const fill = mutation({ args: { from: v.number() }, handler: async (ctx, { from }) => { for (let i = from; i < from + 60; i++) await ctx.db.insert("rows", { i }); } });
export const mixed = query({ args: {}, handler: async (ctx) => {
  const all = await ctx.db.query("rows").collect();
  const even = await ctx.db.query("rows").filter((q) => q.eq(q.mod(q.field("i"), 2), 0)).collect();
  // Iterated one by one and left early, then the same table again: nothing leaks between them.
  const firstFive = [];
  for await (const r of ctx.db.query("rows").order("desc")) { firstFive.push(r.i); if (firstFive.length === 5) break; }
  const again = [];
  for await (const r of ctx.db.query("rows")) again.push(r.i);
  return { all: all.length, sum: all.reduce((s, r) => s + r.i, 0), even: even.length, firstFive, again: again.length, last: again[119] };
} });
"#;
    let e = env_with(vec![("rows.ts".into(), app.into())]);
    for from in [0, 60] {
        e.ok("rows:fill", UdfKind::Mutation, json!({"from": from}));
    }
    let r = e.ok("rows:mixed", UdfKind::Query, json!({}));
    assert_eq!(
        r,
        json!({"all": 120, "sum": 7140, "even": 60, "firstFive": [119, 118, 117, 116, 115], "again": 120, "last": 119})
    );
}

#[test]
fn actions_have_timers_and_queries_and_mutations_do_not() {
    let app = r#"
import { action, mutation } from "./_generated/server";
export const wait = action({
  args: {},
  handler: async () => {
    const started = Date.now();
    const order = [];
    const cleared = setTimeout(() => order.push("cleared"), 10);
    clearTimeout(cleared);
    await new Promise((resolve) => setTimeout((x) => { order.push(x); resolve(); }, 60, "timeout"));
    let ticks = 0;
    await new Promise((resolve) => {
      const i = setInterval(() => {
        ticks += 1;
        order.push(`tick ${ticks}`);
        if (ticks === 3) { clearInterval(i); resolve(); }
      }, 5);
    });
    return { order, waited: Date.now() - started >= 60 };
  },
});
export const forever = action({ args: {}, handler: async () => { await new Promise((r) => setTimeout(r, 1e8)); } });
export const inMutation = mutation({ args: {}, handler: async () => { setTimeout(() => {}, 1); } });
"#;
    let e = env_with(vec![("timers.ts".into(), app.into())]);
    assert_eq!(
        e.ok("timers:wait", UdfKind::Action, json!({})),
        json!({"order": ["timeout", "tick 1", "tick 2", "tick 3"], "waited": true})
    );
    let err = e.err("timers:inMutation", UdfKind::Mutation, json!({}));
    assert!(
        err.message.contains("available in actions only"),
        "{}",
        err.message
    );
    let err = e.err("timers:forever", UdfKind::Action, json!({}));
    assert!(err.message.contains("timed out"), "{}", err.message);
}

#[test]
fn crypto_subtle_digests_and_hmac_and_actions_get_os_randomness() {
    let app = r#"
import { action, query } from "./_generated/server";
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
export const subtle = action({
  args: {},
  handler: async () => {
    const enc = new TextEncoder();
    const digest = hex(await crypto.subtle.digest("SHA-256", enc.encode("abc")));
    const key = await crypto.subtle.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
    const mac = await crypto.subtle.sign("HMAC", key, enc.encode("Hi There"));
    const ok = await crypto.subtle.verify("HMAC", key, mac, enc.encode("Hi There"));
    const forged = await crypto.subtle.verify("HMAC", key, mac, enc.encode("Hi there"));
    const jwk = await crypto.subtle.exportKey("jwk", key);
    const again = await crypto.subtle.importKey("jwk", jwk, { name: "HMAC", hash: { name: "SHA-256" } }, false, ["sign"]);
    const same = hex(await crypto.subtle.sign({ name: "HMAC" }, again, enc.encode("Hi There"))) === hex(mac);
    let refused = "";
    try { await crypto.subtle.importKey("spki", new Uint8Array(1), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]); }
    catch (e) { refused = e.message; }
    const a = hex(crypto.getRandomValues(new Uint8Array(16)));
    const b = hex(crypto.getRandomValues(new Uint8Array(16)));
    return { digest, mac: hex(mac), ok, forged, same, refused, random: a !== b && a.length === 32 };
  },
});
export const seeded = query({ args: {}, handler: async () => hex(crypto.getRandomValues(new Uint8Array(8))) });
"#;
    let e = env_with(vec![("c.ts".into(), app.into())]);
    let r = e.ok("c:subtle", UdfKind::Action, json!({}));
    assert_eq!(
        r["digest"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        r["mac"],
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(r["ok"], true);
    assert_eq!(r["forged"], false);
    assert_eq!(r["same"], true);
    assert_eq!(r["random"], true);
    assert!(
        r["refused"]
            .as_str()
            .unwrap()
            .contains("not supported by berth yet"),
        "{r}"
    );
    // A query still has getRandomValues, from its seeded Math.random (not the OS).
    let first = e.ok("c:seeded", UdfKind::Query, json!({}));
    assert_eq!(first.as_str().map(str::len), Some(16));
}
