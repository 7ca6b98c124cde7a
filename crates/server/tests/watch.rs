//! `POST /d/{name}/api/watch`, the long poll behind `berth run --watch`: a result the caller
//! does not have comes at once; one it has waits for a commit that changes it, and a commit that
//! does not touch what the query read does not end the wait. And `GET /d/{name}/api/data_changes`,
//! the long poll behind the dashboard's live data page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};

/// POSTs with the world's deploy key; the JSON answer, which must be a 200.
async fn post(w: &common::World, uri: &str, body: Value) -> Value {
    let (status, text) = common::post(w, uri, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

const NOTES: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const add = mutation({ args: { channel: v.string() }, handler: (ctx, a) => ctx.db.insert("notes", a) });
export const count = query({ args: { channel: v.string() }, handler: async (ctx, { channel }) =>
  (await ctx.db.query("notes").withIndex("by_channel", (q) => q.eq("channel", channel)).collect()).length });
"#;

const SCHEMA: &str = r#"import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ notes: defineTable({ channel: v.string() }).index("by_channel", ["channel"]) });
"#;

/// A world whose deployment runs `NOTES`; and the deployment's name.
async fn notes_world() -> (common::World, String) {
    let w = common::world().await;
    let d = w.deployment.clone();
    post(
        &w,
        &format!("/d/{d}/api/push"),
        json!({"modules": [{"path": "notes.ts", "source": NOTES}, {"path": "schema.ts", "source": SCHEMA}]}),
    )
    .await;
    (w, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_answers_when_the_query_changes() {
    let (w, d) = notes_world().await;
    let watch = |after: Option<String>, wait: u64| {
        let (w, d) = (&w, d.clone());
        async move {
            post(
                w,
                &format!("/d/{d}/api/watch"),
                json!({"path": "notes:count", "args": {"channel": "a"}, "format": "json", "after": after, "wait": wait}),
            )
            .await
        }
    };
    let first = watch(None, 5).await;
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(first["result"]["value"], 0, "{first}");
    let token = first["token"].as_str().unwrap().to_string();

    // Nothing changes: the watch answers `changed: false` when its wait is over.
    let started = std::time::Instant::now();
    let idle = watch(Some(token.clone()), 1).await;
    assert_eq!(idle["changed"], false, "{idle}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));

    // A write to another channel does not end the wait; one to channel a does.
    let waiting = tokio::spawn({
        let token = token.clone();
        let w2 = clone_world(&w);
        async move {
            post(
                &w2,
                &format!("/d/{}/api/watch", w2.deployment),
                json!({"path": "notes:count", "args": {"channel": "a"}, "format": "json", "after": token, "wait": 20}),
            )
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    post(
        &w,
        &format!("/d/{d}/api/mutation"),
        json!({"path": "notes:add", "args": {"channel": "b"}}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a write to channel b ended the watch of channel a"
    );
    post(
        &w,
        &format!("/d/{d}/api/mutation"),
        json!({"path": "notes:add", "args": {"channel": "a"}}),
    )
    .await;
    let changed = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("the watch answered after the write")
        .unwrap();
    assert_eq!(changed["changed"], true, "{changed}");
    assert_eq!(changed["result"]["value"], 1, "{changed}");
    assert_ne!(changed["token"], json!(token));
}

/// The parts of a world a spawned task needs.
fn clone_world(w: &common::World) -> common::World {
    common::World {
        app: w.app.clone(),
        control: w.control.clone(),
        token: w.token.clone(),
        deployment: w.deployment.clone(),
        deploy_key: w.deploy_key.clone(),
        clock: w.clock.clone(),
        dir: tempfile::tempdir().unwrap(),
    }
}

/// A query that fails keeps failing the same way: the watch waits instead of answering the
/// same error again (the request id in the message is not part of the result).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_is_answered_once() {
    let w = common::world().await;
    let d = w.deployment.clone();
    let missing = json!({"path": "nothing:here", "args": {}, "format": "json", "wait": 1});
    let first = post(&w, &format!("/d/{d}/api/watch"), missing.clone()).await;
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(first["result"]["status"], "error", "{first}");
    let mut again = missing;
    again["after"] = first["token"].clone();
    let second = post(&w, &format!("/d/{d}/api/watch"), again).await;
    assert_eq!(second["changed"], false, "{second}");
}

/// GETs `uri` with the world's deploy key: the status and the JSON answer.
async fn get(w: &common::World, uri: &str) -> (StatusCode, Value) {
    let (status, text) = common::request(w, "GET", uri, None).await;
    (status, serde_json::from_str(&text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_changes_answer_when_a_commit_comes() {
    let (w, d) = notes_world().await;
    // Without `after`: the latest commit, at once.
    let (status, first) = get(&w, &format!("/d/{d}/api/data_changes")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["changed"], false, "{first}");
    let ts = first["ts"].as_str().unwrap().to_string();

    // Nothing written: `changed: false` once the wait is over.
    let started = std::time::Instant::now();
    let (_, idle) = get(&w, &format!("/d/{d}/api/data_changes?after={ts}&wait=1")).await;
    assert_eq!(idle["changed"], false, "{idle}");
    assert_eq!(idle["ts"], first["ts"], "{idle}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));

    // A write while it waits ends the wait, with the new commit.
    let waiting = {
        let (w, uri) = (
            clone_world(&w),
            format!("/d/{d}/api/data_changes?after={ts}&wait=20"),
        );
        tokio::spawn(async move { get(&w, &uri).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    post(
        &w,
        &format!("/d/{d}/api/mutation"),
        json!({"path": "notes:add", "args": {"channel": "a"}}),
    )
    .await;
    let (_, changed) = waiting.await.unwrap();
    assert_eq!(changed["changed"], true, "{changed}");
    let new_ts: u64 = changed["ts"].as_str().unwrap().parse().unwrap();
    assert!(new_ts > ts.parse::<u64>().unwrap(), "{changed}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A commit already past `after` answers at once.
    let (_, at_once) = get(&w, &format!("/d/{d}/api/data_changes?after={ts}&wait=20")).await;
    assert_eq!(at_once["changed"], true, "{at_once}");

    // A bad `after` says what to pass.
    let (status, bad) = get(&w, &format!("/d/{d}/api/data_changes?after=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("`ts` of the last answer"),
        "{bad}"
    );
}
