//! Schema enforcement at push: a push whose schema the existing documents break is refused,
//! naming a document that fails, and the running code stays; a schema that fits is taken, and
//! `schemaValidation: false` turns the checks off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use tower::ServiceExt;

use common::post;

const ITEMS: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const add = mutation({ args: { doc: v.any() }, handler: (ctx, { doc }) => ctx.db.insert("items", doc) });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query("items").collect()).length });
"#;

fn schema(field: &str, validation: bool) -> String {
    format!(
        r#"import {{ defineSchema, defineTable }} from "convex/server";
import {{ v }} from "convex/values";
export default defineSchema({{ items: defineTable({{ n: {field} }}) }}, {{ schemaValidation: {validation} }});
"#
    )
}

async fn push(w: &common::World, schema: Option<String>) -> (StatusCode, String) {
    let mut modules = vec![serde_json::json!({"path": "items.ts", "source": ITEMS})];
    if let Some(s) = schema {
        modules.push(serde_json::json!({"path": "schema.ts", "source": s}));
    }
    post(
        w,
        &format!("/d/{}/api/push", w.deployment),
        serde_json::json!({ "modules": modules }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_schema_the_data_breaks_is_refused() {
    let w = common::world().await;
    assert_eq!(push(&w, None).await.0, StatusCode::OK);
    let add = |doc: serde_json::Value| {
        let w = &w;
        async move {
            post(
                w,
                &format!("/d/{}/api/mutation", w.deployment),
                serde_json::json!({"path": "items:add", "args": {"doc": doc}}),
            )
            .await
        }
    };
    let (_, body) = add(serde_json::json!({"n": 1})).await;
    assert!(body.contains("success"), "{body}");
    let (_, body) = add(serde_json::json!({"n": "one"})).await;
    let bad_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, body) = push(&w, Some(schema("v.number()", true))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("SchemaValidationFailed"), "{body}");
    assert!(
        body.contains(&format!(
            "Document with ID \\\"{bad_id}\\\" in table \\\"items\\\""
        )),
        "{body}"
    );
    // The running code is unchanged: it still takes a string.
    let (_, body) = add(serde_json::json!({"n": "two"})).await;
    assert!(body.contains("success"), "{body}");

    // With validation off the same schema is taken, and writes are not checked.
    let (status, body) = push(&w, Some(schema("v.number()", false))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = add(serde_json::json!({"n": "three"})).await;
    assert!(body.contains("success"), "{body}");

    // A schema every document fits is taken and then enforced.
    let (status, body) = push(&w, Some(schema("v.union(v.number(), v.string())", true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = add(serde_json::json!({"n": true})).await;
    assert!(body.contains("does not match the schema"), "{body}");
}

const MANY: &str = r#"
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const addMany = mutation({ args: { from: v.number(), count: v.number() }, handler: async (ctx, { from, count }) => {
  for (let i = from; i < from + count; i++) await ctx.db.insert("items", { n: i % 100 });
} });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query("items").take(20000)).length });
export const fifties = query({ args: {}, handler: async (ctx) =>
  (await ctx.db.query("items").withIndex("by_n", (q) => q.eq("n", 50)).collect()).length });
"#;

const INDEXED: &str = r#"import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ items: defineTable({ n: v.number() }).index("by_n", ["n"]) });
"#;

async fn get(w: &common::World, uri: &str) -> serde_json::Value {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Convex {}", w.deploy_key))
        .body(Body::empty())
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A push that adds an index builds it first, in batches, while the running code goes on
/// serving: Convex's `wait_for_schema` answers with progress until the build is done, and the
/// push then commits the code with the index already built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_is_built_ahead_while_the_running_code_serves() {
    let w = common::world().await;
    let modules = |schema: bool| {
        let mut m = vec![serde_json::json!({"path": "items.ts", "source": MANY})];
        if schema {
            m.push(serde_json::json!({"path": "schema.ts", "source": INDEXED}));
        }
        serde_json::json!({ "modules": m })
    };
    let push_uri = format!("/d/{}/api/push", w.deployment);
    assert_eq!(post(&w, &push_uri, modules(false)).await.0, StatusCode::OK);
    for from in (0..20_000).step_by(500) {
        let (_, body) = post(
            &w,
            &format!("/d/{}/api/mutation", w.deployment),
            serde_json::json!({"path": "items:addMany", "args": {"from": from, "count": 500}}),
        )
        .await;
        assert!(body.contains("success"), "{body}");
    }
    let wait = |timeout: u64| {
        let w = &w;
        async move {
            let (status, body) = post(
                w,
                &format!("/d/{}/api/deploy2/wait_for_schema", w.deployment),
                serde_json::json!({"timeoutMs": timeout, "dryRun": false, "schemaChange": {
                    "berthIndexes": [{"name": "items.by_n", "fields": ["n"]}]}}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let first = wait(0).await;
    assert_eq!(first["type"], "inProgress", "{first}");
    assert_eq!(first["components"][""]["indexesComplete"], 0, "{first}");
    // The running code serves meanwhile, and the build shows where it is.
    let (_, body) = post(
        &w,
        &format!("/d/{}/api/query", w.deployment),
        serde_json::json!({"path": "items:count", "args": {}}),
    )
    .await;
    assert!(body.contains("20000"), "{body}");
    let status = get(&w, &format!("/d/{}/api/index_build", w.deployment)).await;
    assert_eq!(status["indexesTotal"], 1, "{status}");
    assert_eq!(status["documentsTotal"], 20_000, "{status}");
    let mut answer = first;
    for _ in 0..30 {
        if answer["type"] == "complete" {
            break;
        }
        answer = wait(10_000).await;
    }
    assert_eq!(answer["type"], "complete", "{answer}");
    let status = get(&w, &format!("/d/{}/api/index_build", w.deployment)).await;
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["documentsDone"], 20_000, "{status}");

    // The push finds the index built: it reports it added and the new code reads it.
    let (status, body) = post(&w, &push_uri, modules(true)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pushed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        pushed["indexesAdded"],
        serde_json::json!(["items.by_n"]),
        "{body}"
    );
    let (_, body) = post(
        &w,
        &format!("/d/{}/api/query", w.deployment),
        serde_json::json!({"path": "items:fifties", "args": {}}),
    )
    .await;
    assert!(body.contains("\"value\":200"), "{body}");
}
