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

async fn post(w: &common::World, uri: &str, body: serde_json::Value) -> (StatusCode, String) {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json")
        .header("authorization", format!("Convex {}", w.deploy_key))
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

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
