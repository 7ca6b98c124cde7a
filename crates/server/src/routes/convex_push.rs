//! The deployment side of Convex's own CLI (`../shared/CONVEX-CLI.md` §5, §7): canonical URLs,
//! the push protocol (`get_config_hashes`, `deploy2/evaluate_schema|evaluate_push|start_push|
//! wait_for_schema|finish_push|report_push_completed`, with Brotli request bodies), the CLI's
//! environment-variable route and its log stream.
//!
//! The push is stateless between its two halves: `start_push` compiles and analyzes the uploaded
//! bundle without storing anything (Convex's `codegen` calls it and never finishes) and puts the
//! modules in its answer, which the CLI echoes back whole to `finish_push`; `finish_push`
//! analyzes them again and commits them at once, like `berth deploy`. Any server of a cluster
//! can take either half.

use super::deployment_api::{deployment_docs, edit_target, internal};
use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Caller, Path, Query, RawBody, Source},
};
use axum::{Json, extract::State, http::HeaderMap};
use berth_api::ErrorBody;
use berth_control::Principal;
use berth_model::Error;
use berth_runtime::isolate::FunctionInfo;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Read;

/// Decompressed request bodies may be at most this large (a Brotli bomb stops here).
const MAX_PUSH_BYTES: u64 = 128 << 20;

/// A JSON body, Brotli-compressed when `Content-Encoding: br` says so.
fn push_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    let brotli = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("br"));
    let bytes = if brotli {
        let mut out = Vec::new();
        brotli_decompressor::Decompressor::new(body, 64 << 10)
            .take(MAX_PUSH_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError(Error::bad_request(
                    "BadContentEncoding",
                    format!("the body says 'Content-Encoding: br' but is not valid Brotli: {e}"),
                ))
            })?;
        if out.len() as u64 > MAX_PUSH_BYTES {
            return Err(ApiError(Error::new(
                berth_model::ErrorKind::TooLarge,
                "TooLarge",
                "the decompressed push is larger than 128 MiB",
            )));
        }
        out
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError(Error::bad_request(
            "BadRequestBody",
            format!("the push body is not what Convex's CLI sends: {e}"),
        ))
    })
}

/// The credential of a push call: the `Authorization` header, else the body's `adminKey`.
async fn pusher(
    s: &AppState,
    source: Option<std::net::IpAddr>,
    c: Option<Principal>,
    admin_key: Option<&str>,
) -> ApiResult<Option<Principal>> {
    match (c, admin_key) {
        (Some(p), _) => Ok(Some(p)),
        (None, Some(k)) if !k.is_empty() => Ok(Some(s.control.authenticate_from(source, k).await?)),
        _ => Ok(None),
    }
}

/// Lets a push call through when its credential (header or body `adminKey`) may push code.
async fn admit(
    s: &AppState,
    source: Option<std::net::IpAddr>,
    c: Option<Principal>,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let b: AdminKeyOnly = if body.is_empty() {
        AdminKeyOnly::default()
    } else {
        push_body(headers, body)?
    };
    let p = pusher(s, source, c, b.admin_key.as_deref()).await?;
    edit_target(s, p, name, "pushing code").await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminKeyOnly {
    #[serde(default)]
    pub admin_key: Option<String>,
}

/// One module as the CLI uploads it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CliModule {
    pub path: String,
    pub source: String,
    #[serde(default)]
    pub environment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDefinition {
    #[serde(default)]
    pub dependencies: Vec<Value>,
    #[serde(default)]
    pub changed_modules: Vec<CliModule>,
    /// `schema.js`, its own bundle: loaded with the modules so its indexes are known.
    #[serde(default)]
    pub schema: Option<CliModule>,
    #[serde(default)]
    pub unchanged_module_hashes: Vec<Value>,
    #[serde(default)]
    pub udf_server_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartPush {
    #[serde(default)]
    pub admin_key: Option<String>,
    #[serde(default)]
    pub app_definition: AppDefinition,
    #[serde(default)]
    pub component_definitions: Vec<Value>,
    #[serde(default)]
    pub node_dependencies: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishPush {
    #[serde(default)]
    pub admin_key: Option<String>,
    #[serde(default)]
    pub start_push: Value,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub message: Option<String>,
}

fn refused(message: String) -> ApiError {
    ApiError(Error::bad_request(
        "PushFailed",
        format!("Hit an error while pushing:\n{message}"),
    ))
}

/// The modules of a push berth can run, or why it cannot take it.
fn runnable(push: &StartPush) -> ApiResult<Vec<(String, String)>> {
    if !push.component_definitions.is_empty() || !push.app_definition.dependencies.is_empty() {
        return Err(refused(
            "this app uses components (convex.config.ts with app.use(...)); berth does not run components yet: remove them to push to berth".into(),
        ));
    }
    if let Some(m) = push
        .app_definition
        .changed_modules
        .iter()
        .find(|m| m.environment.as_deref() == Some("node"))
    {
        return Err(refused(format!(
            "convex/{} starts with \"use node\": berth runs every function in its own JavaScript runtime, not in Node.js. Remove \"use node\" (and imports of Node's built-in modules) to push this app to berth",
            m.path.trim_start_matches("node/")
        )));
    }
    if !push.node_dependencies.is_empty() {
        return Err(refused(
            "convex.json lists node.externalPackages; berth has no Node.js runtime to install them in: remove them".into(),
        ));
    }
    if !push.app_definition.unchanged_module_hashes.is_empty() {
        return Err(refused(
            "the push refers to modules by hash, but berth keeps no module hashes; push again with --push-all-modules".into(),
        ));
    }
    Ok(push
        .app_definition
        .changed_modules
        .iter()
        .chain(&push.app_definition.schema)
        .map(|m| (m.path.clone(), m.source.clone()))
        .collect())
}

/// `analysis[""].functions`: per module, its functions as Convex's push answers describe them.
fn analysis_functions(functions: &[FunctionInfo]) -> Value {
    let mut modules = serde_json::Map::new();
    for f in functions {
        let Some((module, name)) = f.path.split_once(':') else {
            continue;
        };
        let entry = modules.entry(module.to_string()).or_insert_with(
            || json!({"functions": [], "httpRoutes": null, "cronSpecs": null, "sourceMapped": null}),
        );
        if let Some(list) = entry["functions"].as_array_mut() {
            list.push(json!({
                "name": name,
                "udfType": f.kind.title(),
                "visibility": {"kind": if f.internal { "internal" } else { "public" }},
                "args": if f.args.is_null() { Value::Null } else { Value::String(f.args.to_string()) },
                "returns": if f.returns.is_null() { Value::Null } else { Value::String(f.returns.to_string()) },
            }));
        }
    }
    Value::Object(modules)
}

/// The deployment's URLs, as the CLI writes them into `.env.local`.
#[utoipa::path(get, path = "/d/{name}/api/v1/get_canonical_urls", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn get_canonical_urls(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    edit_target(&s, c, &name, "reading the deployment's URLs").await?;
    let url = s.control.deployment_url(&name);
    Ok(Json(json!({"convexCloudUrl": url, "convexSiteUrl": url})))
}

/// Module hashes berth keeps: none, so the CLI uploads every module.
#[utoipa::path(post, path = "/d/{name}/api/get_config_hashes", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn get_config_hashes(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    admit(&s, source, c, &name, &headers, &body).await?;
    Ok(Json(json!({
        "config": {"functions": "convex/", "authInfo": []},
        "moduleHashes": [],
        "udfServerVersion": null,
        "nodeVersion": null,
    })))
}

/// Schema predictions: berth does not enforce schemas or build indexes yet, so there are none.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/evaluate_schema", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn evaluate_schema(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    admit(&s, source, c, &name, &headers, &body).await?;
    Ok(Json(
        json!({"componentSchemaEvaluations": {}, "newComponentDefinitions": []}),
    ))
}

/// The index changes a push would make.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/evaluate_push", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn evaluate_push(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let push: StartPush = push_body(&headers, &body)?;
    let p = pusher(&s, source, c, push.admin_key.as_deref()).await?;
    let target = edit_target(&s, p, &name, "pushing code").await?;
    let modules = runnable(&push)?;
    let (_, _, schema) = s.runtime.analyze(&name, modules).await.map_err(refused)?;
    let indexes = prospective_index_diff(&s, &target, &schema).await?;
    Ok(Json(json!({"schemaChange": {
        "allocatedComponentIds": {}, "schemaIds": {},
        "indexDiffs": {"": indexes},
    }})))
}

/// Index changes in the shape Convex's CLI prints (`[+] table.index  fields`).
fn index_diff(changes: &berth_store::docs::IndexChanges) -> Value {
    let shown = |defs: &[berth_store::docs::IndexDef]| -> Vec<Value> {
        defs.iter()
            .map(|d| json!({"name": d.name, "type": "database", "fields": d.fields}))
            .collect()
    };
    json!({"added_indexes": shown(&changes.added), "removed_indexes": shown(&changes.removed)})
}

/// What pushing `schema` would change in the deployment's stored indexes.
async fn prospective_index_diff(
    s: &AppState,
    target: &berth_control::calls::CallTarget,
    schema: &berth_store::docs::SchemaDef,
) -> ApiResult<Value> {
    let docs = deployment_docs(s, target).await?;
    let stored = super::deployment_api::blocking(move || docs.indexes())
        .await
        .map_err(internal("read indexes"))?;
    Ok(index_diff(&berth_store::docs::IndexChanges::between(
        &stored,
        &schema.indexes,
    )))
}

/// Compiles and analyzes the uploaded bundle; stores nothing.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/start_push", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn start_push(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let push: StartPush = push_body(&headers, &body)?;
    let p = pusher(&s, source, c, push.admin_key.as_deref()).await?;
    let target = edit_target(&s, p, &name, "pushing code").await?;
    let modules = runnable(&push)?;
    let (_, functions, schema) = s
        .runtime
        .analyze(&name, modules.clone())
        .await
        .map_err(refused)?;
    let indexes = prospective_index_diff(&s, &target, &schema).await?;
    let docs = deployment_docs(&s, &target).await?;
    let env = super::deployment_api::blocking(move || docs.env())
        .await
        .map_err(internal("read environment variables"))?;
    let version = push
        .app_definition
        .udf_server_version
        .clone()
        .unwrap_or_else(|| "1.48.0".into());
    let now = s.control.now();
    Ok(Json(json!({
        "environmentVariables": *env,
        "externalDepsId": null,
        "componentDefinitionPackages": {},
        "appAuth": [],
        "analysis": {"": {
            "definition": {"path": "", "definitionType": {"type": "app"}, "childComponents": [],
                "httpMounts": {}, "exports": {"type": "branch", "branch": []}},
            "schema": null,
            "functions": analysis_functions(&functions),
            "udfConfig": {"serverVersion": version, "importPhaseRngSeed": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "importPhaseUnixTimestamp": now},
        }},
        "app": {"definitionPath": "", "componentPath": "", "args": {}, "childComponents": {},
            "httpRoutes": {"httpModuleRoutes": null, "mounts": []}, "exports": {}},
        // `berthIndexes`: what `wait_for_schema` builds (the CLI echoes `schemaChange` back).
        "schemaChange": {"allocatedComponentIds": {}, "schemaIds": {}, "indexDiffs": {"": indexes},
            "berthIndexes": schema.indexes.iter().map(|d| json!({"name": d.name, "fields": d.fields})).collect::<Vec<_>>()},
        "berthPush": {
            "modules": modules.iter().map(|(path, source)| json!({"path": path, "source": source})).collect::<Vec<_>>(),
        },
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitForSchema {
    #[serde(default)]
    pub admin_key: Option<String>,
    #[serde(default)]
    pub schema_change: Value,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub dry_run: bool,
}

/// How long one `wait_for_schema` waits before it answers with the progress so far.
const SCHEMA_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds the indexes the push adds, in batches while the running code serves (or joins that
/// build), and answers when they are done or after `timeoutMs` (at most 10 s) with the progress
/// so far: Convex's CLI asks again until it hears `complete`. The data is checked against the
/// schema by `finish_push`, in the transaction that commits the code.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/wait_for_schema", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn wait_for_schema(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let wait: WaitForSchema = if body.is_empty() {
        WaitForSchema::default()
    } else {
        push_body(&headers, &body)?
    };
    let p = pusher(&s, source, c, wait.admin_key.as_deref()).await?;
    let target = edit_target(&s, p, &name, "pushing code").await?;
    let wanted = wanted_indexes(&wait.schema_change["berthIndexes"]);
    if wait.dry_run || wanted.is_empty() {
        return Ok(Json(json!({"type": "complete"})));
    }
    let rx = s.control.build_indexes(&target, wanted).await?;
    let limit = wait
        .timeout_ms
        .map_or(SCHEMA_WAIT_MAX, std::time::Duration::from_millis)
        .min(SCHEMA_WAIT_MAX);
    let mut watching = rx.clone();
    let finished = tokio::time::timeout(
        limit,
        watching.wait_for(|b| b.state != berth_control::index_builds::BuildState::Running),
    )
    .await
    .is_ok();
    if finished {
        berth_control::index_builds::wait_done(rx).await?;
        return Ok(Json(json!({"type": "complete"})));
    }
    let p = rx.borrow().progress.clone();
    Ok(Json(json!({"type": "inProgress", "components": {"": {
        "schemaValidationComplete": true,
        "indexesComplete": p.indexes_done, "indexesTotal": p.indexes_total,
        "documentsDone": p.documents_done, "documentsTotal": p.documents_total,
    }}})))
}

/// The indexes `start_push` put in its `schemaChange.berthIndexes`.
fn wanted_indexes(listed: &Value) -> Vec<berth_store::docs::IndexDef> {
    let mut fields = std::collections::HashMap::new();
    for i in listed.as_array().into_iter().flatten() {
        if let (Some(name), Ok(f)) = (
            i["name"].as_str(),
            serde_json::from_value::<Vec<String>>(i["fields"].clone()),
        ) {
            fields.insert(name.to_string(), f);
        }
    }
    berth_store::docs::IndexDef::all_from(&fields)
}

/// Commits the modules `start_push` analyzed, all at once.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/finish_push", tag = "deployment", request_body(content = Object, description = "JSON, Brotli-compressed when Content-Encoding: br"),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn finish_push(
    State(s): State<AppState>,
    Caller(c): Caller,
    Source(source): Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let push: FinishPush = push_body(&headers, &body)?;
    let p = pusher(&s, source, c, push.admin_key.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError(Error::unauthenticated(
                "pushing code needs 'Authorization: Convex <deploy key or access token>'",
            ))
        })?;
    let target = edit_target(&s, Some(p.clone()), &name, "pushing code").await?;
    let diff = json!({"authDiff": {"added": [], "removed": []}, "definitionDiffs": {}, "componentDiffs": {}});
    if push.dry_run {
        return Ok(Json(diff));
    }
    let modules: Vec<CliModule> = serde_json::from_value(
        push.start_push["berthPush"]["modules"].clone(),
    )
    .map_err(|_| {
        refused("finish_push must carry the whole answer of start_push (berthPush.modules is missing); push again".into())
    })?;
    let sources: Vec<(String, String)> = modules.into_iter().map(|m| (m.path, m.source)).collect();
    let (compiled, functions, schema) = s.runtime.analyze(&name, sources).await.map_err(refused)?;
    let (_, changes) = super::deployment_api::commit_push(
        &s,
        &p,
        &target,
        &compiled,
        &functions,
        schema,
        push.message.as_deref(),
    )
    .await?;
    Ok(Json(json!({
        "authDiff": {"added": [], "removed": []},
        "definitionDiffs": {},
        "componentDiffs": {"": {
            "diffType": {"type": "modify"},
            "moduleDiff": {"added": [], "removed": []},
            "udfConfigDiff": null,
            "cronDiff": {"added": [], "updated": [], "deleted": []},
            "indexDiff": index_diff(&changes),
            "schemaDiff": null,
        }},
    })))
}

/// The CLI's push telemetry: accepted and dropped.
#[utoipa::path(post, path = "/d/{name}/api/deploy2/report_push_completed", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Object)))]
pub async fn report_push_completed(_name: Path<String>) -> Json<Value> {
    Json(Value::Null)
}

/// `POST /d/{name}/api/update_environment_variables`: the path Convex's CLI uses.
#[utoipa::path(post, path = "/d/{name}/api/update_environment_variables", tag = "deployment", request_body = super::deployment_api::EnvChanges,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = berth_api::Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn update_environment_variables(
    state: State<AppState>,
    caller: Caller,
    path: Path<String>,
    body: crate::extract::Body<super::deployment_api::EnvChanges>,
) -> ApiResult<Json<berth_api::Empty>> {
    super::deployment_api::update_env(state, caller, path, body).await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamLogsQuery {
    /// `0` first (the newest lines), then the `newCursor` of the previous answer.
    #[serde(default)]
    pub cursor: Option<f64>,
}

/// The deployment's log in the CLI's shape: one entry per function execution, waiting up to
/// 25 s for new lines.
#[utoipa::path(get, path = "/d/{name}/api/stream_function_logs", tag = "deployment",
    params(("name" = String, Path, description = "deployment name"), StreamLogsQuery),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn stream_function_logs(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    Query(q): Query<StreamLogsQuery>,
) -> ApiResult<Json<Value>> {
    edit_target(&s, c, &name, "reading logs").await?;
    let cursor = q.cursor.unwrap_or(0.0).max(0.0) as u64;
    let lines = if cursor == 0 {
        s.control.logs.read(&name, None, 1000).await
    } else {
        s.control
            .logs
            .follow(&name, cursor, 1000, std::time::Duration::from_secs(25))
            .await
    };
    let new_cursor = match lines.last() {
        Some(e) => e.seq,
        None if cursor == 0 => s.control.logs.last_seq(&name).await,
        None => cursor,
    };
    Ok(Json(json!({
        "entries": cli_log_entries(&lines),
        "newCursor": new_cursor,
    })))
}

/// Groups log lines by request into the CLI's `Completion` entries.
fn cli_log_entries(lines: &[berth_control::logs::LogEntry]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut current: Option<(String, Value)> = None;
    for l in lines {
        if current.as_ref().is_some_and(|(id, _)| *id != l.request_id) {
            out.extend(current.take().map(|(_, e)| e));
        }
        let (_, entry) = current.get_or_insert_with(|| {
            (
                l.request_id.clone(),
                json!({
                    "kind": "Completion",
                    "udfType": l.udf_type.as_deref().unwrap_or("Action"),
                    "identifier": l.function.replacen(".js:", ":", 1),
                    "timestamp": l.time as f64 / 1000.0,
                    "executionTime": 0.0,
                    "requestId": l.request_id,
                    "executionId": l.request_id,
                    "cachedResult": false,
                    "logLines": [],
                }),
            )
        });
        if l.level == "ERROR" && l.text.starts_with("Uncaught ") {
            entry["error"] = Value::String(l.text.clone());
        } else if let Some(list) = entry["logLines"].as_array_mut() {
            list.push(json!({"messages": [l.text], "level": l.level, "timestamp": l.time, "isTruncated": false}));
        }
    }
    out.extend(current.map(|(_, e)| e));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(body: Value) -> StartPush {
        serde_json::from_value(body).unwrap_or_default()
    }

    fn refusal(p: &StartPush) -> String {
        match runnable(p) {
            Ok(_) => String::new(),
            Err(e) => e.0.message,
        }
    }

    #[test]
    fn what_berth_cannot_run_is_refused_with_the_reason() {
        let module = |path: &str, env: &str| json!({"path": path, "source": "export {};", "environment": env});
        let ok = push(json!({"appDefinition": {
            "changedModules": [module("messages.js", "isolate"), module("_deps/ABC.js", "isolate")],
            "schema": module("schema.js", "isolate"),
        }}));
        let modules = runnable(&ok).map_err(|e| e.0.message).unwrap_or_default();
        let paths: Vec<&str> = modules.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["messages.js", "_deps/ABC.js", "schema.js"]);

        let node =
            push(json!({"appDefinition": {"changedModules": [module("node/act.js", "node")]}}));
        assert!(
            refusal(&node).contains("\"use node\""),
            "{}",
            refusal(&node)
        );
        let components = push(json!({"appDefinition": {"changedModules": []},
            "componentDefinitions": [{"definitionPath": "x"}]}));
        assert!(refusal(&components).contains("components"));
        let uses = push(json!({"appDefinition": {"dependencies": ["x"]}}));
        assert!(refusal(&uses).contains("components"));
        let external = push(json!({"nodeDependencies": [{"name": "sharp", "version": "1"}]}));
        assert!(refusal(&external).contains("externalPackages"));
        let hashes = push(json!({"appDefinition": {"unchangedModuleHashes": [{"path": "a.js"}]}}));
        assert!(refusal(&hashes).contains("--push-all-modules"));
    }

    #[test]
    fn bodies_are_json_or_brotli_json() {
        let mut headers = HeaderMap::new();
        let plain: AdminKeyOnly = push_body(&headers, br#"{"adminKey": "k"}"#).unwrap_or_default();
        assert_eq!(plain.admin_key.as_deref(), Some("k"));
        headers.insert(
            axum::http::header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("br"),
        );
        // "{}" compressed by Node's zlib.brotliCompressSync.
        let compressed: &[u8] = &[0x8b, 0x00, 0x80, 0x7b, 0x7d, 0x03];
        let parsed: Result<Value, _> = push_body(&headers, compressed);
        assert_eq!(parsed.map_err(|e| e.0.message).ok(), Some(json!({})));
        let bad: Result<Value, _> = push_body(&headers, b"not brotli at all");
        let e = bad.err().map(|e| e.0.code).unwrap_or_default();
        assert_eq!(e, "BadContentEncoding");
    }
}
