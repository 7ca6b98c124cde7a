//! The deployment API (PROTOCOL §2) under `/d/{name}`: calling functions, pushing code, listing
//! functions, reading data. Public functions need no credential; everything else needs one that
//! may edit the deployment, decided by the control plane like every other route.

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Body, Caller, Path, Query, RawBody, RequestId},
};
use axum::{Json, extract::State};
use berth_api::{
    ErrorBody, FunctionCall, FunctionResult, FunctionSpec, PushRequest, PushResponse, RunCall,
};
use berth_control::{Principal, calls::CallTarget};
use berth_model::Error;
use berth_runtime::{CallRequest, Outcome, UdfKind, isolate::FunctionInfo};
use berth_store::docs::ModuleRecord;
use serde_json::Value as JsonValue;

pub(super) fn internal(what: &'static str) -> impl Fn(berth_store::StoreError) -> ApiError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        ApiError(Error::internal())
    }
}

/// The own data store of a deployment the request has resolved.
pub(super) async fn deployment_docs(
    s: &AppState,
    target: &CallTarget,
) -> ApiResult<std::sync::Arc<dyn berth_store::docs::DocStore>> {
    Ok(s.control.deployment_docs(target).await?)
}

/// Runs blocking storage work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, berth_store::StoreError> + Send + 'static,
) -> Result<T, berth_store::StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| berth_store::StoreError::Backend(format!("storage task failed: {e}")))?
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Format {
    Encoded,
    Json,
}

fn format(f: Option<&str>) -> Result<Format, Error> {
    match f {
        None | Some("convex_encoded_json") => Ok(Format::Encoded),
        Some("json") => Ok(Format::Json),
        Some(other) => Err(Error::bad_request(
            "BadFormat",
            format!("unknown format '{other}'; use 'convex_encoded_json' or 'json'"),
        )),
    }
}

/// `args` as sent: an object, a one-element array holding it, or nothing.
fn arguments(args: Option<JsonValue>) -> Result<JsonValue, Error> {
    berth_value::validate::arguments(args).map_err(|m| Error::bad_request("BadArgs", m))
}

/// Function arguments may be at most 16 MiB (PROTOCOL §3).
const MAX_ARGS: usize = 16 << 20;

fn check_size(headers: &axum::http::HeaderMap) -> Result<(), Error> {
    let len = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if len > MAX_ARGS + 64 * 1024 {
        return Err(Error::new(
            berth_model::ErrorKind::TooLarge,
            "TooLarge",
            format!("the request is {len} bytes; function arguments may be at most 16 MiB"),
        ));
    }
    Ok(())
}

fn shown(v: &JsonValue, f: Format) -> JsonValue {
    match (f, berth_value::decode(v)) {
        (Format::Json, Ok(value)) => berth_value::export_json(&value),
        _ => v.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn call(
    s: &AppState,
    caller: Option<Principal>,
    name: &str,
    path: &str,
    kind: Option<UdfKind>,
    args: Option<JsonValue>,
    fmt: Option<&str>,
    request_id: &str,
) -> ApiResult<Json<FunctionResult>> {
    let fmt = format(fmt)?;
    if path.trim().is_empty() {
        return Err(ApiError(Error::bad_request(
            "BadPath",
            "path names no function; write it as dir/file:export, e.g. messages:list",
        )));
    }
    let args = arguments(args)?;
    let target = s.control.call_target(caller.as_ref(), name).await?;
    if kind.is_none() {
        target.require_edit("calling functions through /api/function")?;
    }
    let request = CallRequest {
        path: path.to_string(),
        kind,
        internal_ok: kind.is_none() && target.can_edit,
        args,
        request_id: request_id.to_string(),
        live: None,
        once: None,
    };
    let result = run_call(s, &target, request).await?;
    Ok(Json(present(
        s, &target, name, path, kind, request_id, &result, fmt,
    )))
}

/// Runs a call on a resolved deployment.
async fn run_call(
    s: &AppState,
    target: &CallTarget,
    request: CallRequest,
) -> ApiResult<berth_runtime::CallResult> {
    let docs = deployment_docs(s, target).await?;
    s.runtime
        .call(
            &target.deployment.name,
            target.deployment.code_version,
            docs,
            request,
        )
        .await
        .map_err(|e| {
            ApiError(Error::new(
                berth_model::ErrorKind::Overloaded,
                "RuntimeUnavailable",
                e,
            ))
        })
}

/// Longest a watch waits for a change before it answers `changed: false`.
const WATCH_WAIT_MAX: u64 = 60;

/// Watches a query (internal ones too for a caller who may edit the deployment): answers its
/// result at once when it differs from the one `after`
/// names (or when there is no `after`), else as soon as a commit changes it, else after `wait`
/// seconds (25 by default, 60 at most) with `changed: false`. `berth run --watch` and the
/// dashboard call it in a loop, passing back `token`.
#[utoipa::path(post, path = "/d/{name}/api/watch", tag = "deployment", request_body = berth_api::WatchRequest,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = berth_api::WatchResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn watch(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    RequestId(id): RequestId,
    Body(b): Body<berth_api::WatchRequest>,
) -> ApiResult<Json<berth_api::WatchResult>> {
    let fmt = format(b.format.as_deref())?;
    let args = arguments(b.args)?;
    let target = s.control.call_target(c.as_ref(), &name).await?;
    let hub = s.control.commits();
    // Subscribed before the first run: no commit between the run and the wait is missed.
    let mut commits = hub.subscribe(target.deployment.id);
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_secs(b.wait.unwrap_or(25).min(WATCH_WAIT_MAX));
    loop {
        // Internal queries too, for a caller who may edit the deployment (the dashboard).
        let request = CallRequest {
            path: b.path.clone(),
            kind: Some(UdfKind::Query),
            internal_ok: target.can_edit,
            args: args.clone(),
            request_id: id.clone(),
            live: Some(Default::default()),
            once: None,
        };
        let mut result = run_call(&s, &target, request).await?;
        let reads = result.reads.take();
        let shown = present(
            &s,
            &target,
            &name,
            &b.path,
            Some(UdfKind::Query),
            &id,
            &result,
            fmt,
        );
        let token = watch_token(&shown);
        if b.after.as_deref() != Some(token.as_str()) {
            return Ok(Json(berth_api::WatchResult {
                changed: true,
                token,
                result: Some(shown),
            }));
        }
        // Unchanged: wait for a commit that touches what it read.
        loop {
            let heard = tokio::time::timeout_at(deadline, commits.recv()).await;
            match heard {
                Err(_) => {
                    return Ok(Json(berth_api::WatchResult {
                        changed: false,
                        token,
                        result: None,
                    }));
                }
                Ok(Ok(commit)) => {
                    if reads.as_ref().is_none_or(|r| r.touched_by(&commit.writes)) {
                        break;
                    }
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    return Err(ApiError(Error::not_found(
                        "DeploymentNotFound",
                        format!("deployment '{name}' was deleted while the watch waited"),
                    )));
                }
            }
        }
    }
}

/// Names a result (value or error, log lines and the request id aside) for `watch`'s `after`.
fn watch_token(r: &FunctionResult) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    r.status.hash(&mut h);
    r.value.as_ref().map(|v| v.to_string()).hash(&mut h);
    r.error_message
        .as_deref()
        .map(|m| {
            m.strip_prefix("[Request ID: ")
                .and_then(|m| m.split_once("] "))
                .map_or(m, |(_, rest)| rest)
        })
        .hash(&mut h);
    r.error_data.as_ref().map(|v| v.to_string()).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// What a caller sees of a function's result (the deployment's settings decide whether log
/// lines and error details reach it); its log lines go to the deployment's logs.
#[allow(clippy::too_many_arguments)]
pub(super) fn present(
    s: &AppState,
    target: &CallTarget,
    name: &str,
    path: &str,
    kind: Option<UdfKind>,
    request_id: &str,
    result: &berth_runtime::CallResult,
    fmt: Format,
) -> FunctionResult {
    let udf_type = result.kind.map(|k| k.title().to_string());
    let mut entries: Vec<berth_control::logs::LogEntry> = result
        .logs
        .iter()
        .map(|l| berth_control::logs::LogEntry {
            seq: 0,
            time: l.time,
            level: l.level.clone(),
            function: l.function.clone(),
            request_id: request_id.to_string(),
            text: l.text.clone(),
            udf_type: udf_type.clone(),
        })
        .collect();
    if let Outcome::Error(e) = &result.outcome {
        entries.push(berth_control::logs::LogEntry {
            seq: 0,
            time: s.control.now(),
            level: "ERROR".into(),
            function: berth_runtime::canonical_path(path),
            request_id: request_id.to_string(),
            text: if e.stack.is_empty() {
                e.message.clone()
            } else {
                format!("{}\n{}", e.message, e.stack)
            },
            udf_type: udf_type.clone(),
        });
    }
    s.control.logs.append(name, entries);
    let log_lines = if target.settings.send_logs_to_client {
        result
            .logs
            .iter()
            .map(|l| format!("[{}] {}", l.level, l.text))
            .collect()
    } else {
        Vec::new()
    };
    match &result.outcome {
        Outcome::Value(v) => FunctionResult {
            status: "success".into(),
            value: Some(shown(v, fmt)),
            error_message: None,
            error_data: None,
            log_lines,
        },
        Outcome::Error(e) => {
            tracing::info!(deployment = %name, request_id, function = %path, error = %e.message, "function failed");
            let ran = e.message.starts_with("Uncaught ");
            let is_convex_error = e.data.is_some();
            // Whoever may edit the deployment (calling through /api/function) sees the details too.
            let details =
                target.settings.send_error_details_to_client || (kind.is_none() && target.can_edit);
            let message = if !ran || is_convex_error || details {
                let detail = if e.stack.is_empty() || !details {
                    e.message.clone()
                } else {
                    format!("{}\n{}", e.message, e.stack)
                };
                format!("[Request ID: {request_id}] Server Error\n{detail}")
            } else {
                format!("[Request ID: {request_id}] Server Error")
            };
            FunctionResult {
                status: "error".into(),
                value: None,
                error_message: Some(message),
                error_data: e.data.as_ref().map(|d| shown(d, fmt)),
                log_lines,
            }
        }
    }
}

/// A call whose function, arguments and format come in a `FunctionCall` body.
async fn call_with_body(
    s: &AppState,
    caller: Option<Principal>,
    name: &str,
    kind: Option<UdfKind>,
    headers: &axum::http::HeaderMap,
    b: FunctionCall,
    request_id: &str,
) -> ApiResult<Json<FunctionResult>> {
    check_size(headers)?;
    call(
        s,
        caller,
        name,
        &b.path,
        kind,
        b.args,
        b.format.as_deref(),
        request_id,
    )
    .await
}

/// Runs a public query.
#[utoipa::path(post, path = "/d/{name}/api/query", tag = "deployment", request_body = FunctionCall,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = FunctionResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn query(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    RequestId(id): RequestId,
    headers: axum::http::HeaderMap,
    Body(b): Body<FunctionCall>,
) -> ApiResult<Json<FunctionResult>> {
    call_with_body(&s, c, &name, Some(UdfKind::Query), &headers, b, &id).await
}

/// Runs a public mutation.
#[utoipa::path(post, path = "/d/{name}/api/mutation", tag = "deployment", request_body = FunctionCall,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = FunctionResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn mutation(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    RequestId(id): RequestId,
    headers: axum::http::HeaderMap,
    Body(b): Body<FunctionCall>,
) -> ApiResult<Json<FunctionResult>> {
    call_with_body(&s, c, &name, Some(UdfKind::Mutation), &headers, b, &id).await
}

/// Runs a public action.
#[utoipa::path(post, path = "/d/{name}/api/action", tag = "deployment", request_body = FunctionCall,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = FunctionResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn action(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    RequestId(id): RequestId,
    headers: axum::http::HeaderMap,
    Body(b): Body<FunctionCall>,
) -> ApiResult<Json<FunctionResult>> {
    call_with_body(&s, c, &name, Some(UdfKind::Action), &headers, b, &id).await
}

/// Runs any function, internal ones included (a credential that may edit the deployment).
#[utoipa::path(post, path = "/d/{name}/api/function", tag = "deployment", request_body = FunctionCall,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = FunctionResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn function(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    RequestId(id): RequestId,
    headers: axum::http::HeaderMap,
    Body(b): Body<FunctionCall>,
) -> ApiResult<Json<FunctionResult>> {
    if c.is_none() {
        return Err(ApiError(Error::unauthenticated(
            "/api/function needs 'Authorization: Convex <deploy key or access token>' of someone who may edit the deployment",
        )));
    }
    call_with_body(&s, c, &name, None, &headers, b, &id).await
}

/// Runs a public function named in the URL (`/api/run/messages/list`), for curl users.
#[utoipa::path(post, path = "/d/{name}/api/run/{*path}", tag = "deployment", request_body = RunCall,
    params(("name" = String, Path, description = "deployment name"), ("path" = String, Path, description = "dir/file/export")),
    responses((status = 200, body = FunctionResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn run(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path((name, path)): Path<(String, String)>,
    RequestId(id): RequestId,
    RawBody(body): RawBody,
) -> ApiResult<Json<FunctionResult>> {
    let b: RunCall = if body.iter().all(u8::is_ascii_whitespace) {
        RunCall::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError(Error::bad_request(
                "BadJson",
                format!("the request body is not valid JSON: {e}"),
            ))
        })?
    };
    let function = match path.trim_matches('/').rsplit_once('/') {
        Some((module, export)) => format!("{module}:{export}"),
        None => path.clone(),
    };
    // Refuse what the caller may not reach before reading any code.
    let target = s.control.call_target(c.as_ref(), &name).await?;
    let kind = function_kind(&s, &target, &function).await;
    call(
        &s,
        c,
        &name,
        &function,
        Some(kind.unwrap_or(UdfKind::Query)),
        b.args,
        b.format.as_deref().or(Some("json")),
        &id,
    )
    .await
}

/// The kind of a function, from the deployment's current code (for `/api/run`).
async fn function_kind(s: &AppState, target: &CallTarget, function: &str) -> Option<UdfKind> {
    let functions = current_functions(s, target).await.ok()?;
    let canonical = berth_runtime::canonical_path(function);
    functions
        .into_iter()
        .find(|f| f.path == canonical)
        .map(|f| f.kind)
}

/// The functions the deployment's current code exports: stored with the code at push, so
/// nothing is loaded. Code pushed before berth stored them is asked of its isolate, which loads
/// it like a call of that deployment (its share of the workers, its limits).
pub(super) async fn current_functions(
    s: &AppState,
    target: &CallTarget,
) -> ApiResult<Vec<FunctionInfo>> {
    let docs = deployment_docs(s, target).await?;
    let meta = {
        let docs = docs.clone();
        blocking(move || docs.code_meta())
            .await
            .map_err(internal("read the code's functions"))?
    };
    if let Some(functions) = meta.and_then(|m| serde_json::from_str(&m).ok()) {
        return Ok(functions);
    }
    s.runtime
        .describe(
            &target.deployment.name,
            target.deployment.code_version,
            docs,
        )
        .await
        .map_err(|e| {
            ApiError(Error::new(
                berth_model::ErrorKind::Internal,
                "CodeUnloadable",
                e,
            ))
        })
}

fn spec(f: &FunctionInfo) -> FunctionSpec {
    FunctionSpec {
        path: f.path.clone(),
        kind: f.kind.as_str().into(),
        visibility: if f.internal { "internal" } else { "public" }.into(),
        args: f.args.clone(),
    }
}

fn check_module_path(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|seg| seg == ".." || seg.is_empty())
        || path.starts_with("_generated/")
        || !(path.ends_with(".ts")
            || path.ends_with(".js")
            || path.ends_with(".mjs")
            || path.ends_with(".mts"));
    if bad {
        return Err(Error::bad_request(
            "BadModulePath",
            format!(
                "module path '{path}' is not a .ts, .js or .mjs file inside convex/ (and not under _generated/)"
            ),
        ));
    }
    Ok(())
}

/// Stores compiled modules as the deployment's code, all at once, and records the push (its
/// new code version).
pub(super) async fn commit_push(
    s: &AppState,
    p: &Principal,
    target: &CallTarget,
    compiled: &[berth_runtime::compile::CompiledModule],
    functions: &[FunctionInfo],
    schema: berth_store::docs::SchemaDef,
    message: Option<&str>,
) -> ApiResult<(i64, berth_store::docs::IndexChanges)> {
    let meta = serde_json::to_string(functions).map_err(|e| {
        tracing::error!(error = %e, "describe functions");
        ApiError(Error::internal())
    })?;
    let modules: Vec<ModuleRecord> = compiled
        .iter()
        .map(|m| ModuleRecord {
            path: m.path.clone(),
            source: m.source.clone(),
            js: m.js.clone(),
            hash: m.hash.clone(),
        })
        .collect();
    let code = berth_store::docs::Code {
        modules,
        meta,
        schema,
    };
    Ok(s.control.push_code(p, target, code, message).await?)
}

/// Replaces the deployment's code with the uploaded modules, atomically: every module is
/// compiled and loaded first, and any error leaves the running code as it was.
#[utoipa::path(post, path = "/d/{name}/api/push", tag = "deployment", request_body = PushRequest,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = PushResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn push(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    Body(req): Body<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
    let p = c.ok_or_else(|| {
        ApiError(Error::unauthenticated(
            "pushing code needs 'Authorization: Convex <deploy key or access token>'",
        ))
    })?;
    let target = s.control.call_target(Some(&p), &name).await?;
    target.require_edit("pushing code")?;
    for m in &req.modules {
        check_module_path(&m.path)?;
    }
    let sources: Vec<(String, String)> = req
        .modules
        .iter()
        .map(|m| (m.path.clone(), m.source.clone()))
        .collect();
    let (compiled, functions, schema) = s.runtime.analyze(&name, sources).await.map_err(|e| {
        ApiError(Error::bad_request(
            "PushFailed",
            format!("the push was refused; the running code is unchanged:\n{e}"),
        ))
    })?;
    let (code_version, changes) = if req.dry_run {
        let docs = deployment_docs(&s, &target).await?;
        let stored = blocking(move || docs.indexes())
            .await
            .map_err(internal("read indexes"))?;
        (
            None,
            berth_store::docs::IndexChanges::between(&stored, &schema.indexes),
        )
    } else {
        let (version, changes) = commit_push(
            &s,
            &p,
            &target,
            &compiled,
            &functions,
            schema,
            req.message.as_deref(),
        )
        .await?;
        (Some(version), changes)
    };
    let names = |d: &[berth_store::docs::IndexDef]| d.iter().map(|i| i.name.clone()).collect();
    Ok(Json(PushResponse {
        functions: functions.iter().map(spec).collect(),
        module_count: compiled.len(),
        dry_run: req.dry_run,
        code_version,
        indexes_added: names(&changes.added),
        indexes_removed: names(&changes.removed),
    }))
}

/// The functions the deployment's current code exports.
#[utoipa::path(get, path = "/d/{name}/api/functions", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Vec<FunctionSpec>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn functions(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<FunctionSpec>>> {
    let target = edit_target(&s, c, &name, "listing functions").await?;
    Ok(Json(
        current_functions(&s, &target)
            .await?
            .iter()
            .map(spec)
            .collect(),
    ))
}

pub(super) async fn edit_target(
    s: &AppState,
    c: Option<Principal>,
    name: &str,
    action: &str,
) -> ApiResult<CallTarget> {
    let p = c.ok_or_else(|| {
        ApiError(Error::unauthenticated(format!(
            "{action} needs 'Authorization: Convex <deploy key or access token>'"
        )))
    })?;
    let target = s.control.call_target(Some(&p), name).await?;
    target.require_edit(action)?;
    Ok(target)
}

/// The deployment's latest index build on this server: `berth deploy` shows it while a push
/// builds new indexes.
#[utoipa::path(get, path = "/d/{name}/api/index_build", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = berth_api::IndexBuildStatus), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn index_build(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<berth_api::IndexBuildStatus>> {
    use berth_control::index_builds::BuildState;
    let target = edit_target(&s, c, &name, "reading index builds").await?;
    let build = s.control.index_build(&target);
    let state = match build.as_ref().map(|b| &b.state) {
        None => "none",
        Some(BuildState::Running) => "running",
        Some(BuildState::Done) => "done",
        Some(BuildState::Failed(_)) => "failed",
    };
    let p = build.map(|b| b.progress).unwrap_or_default();
    Ok(Json(berth_api::IndexBuildStatus {
        state: state.into(),
        indexes_total: p.indexes_total,
        indexes_done: p.indexes_done,
        documents_done: p.documents_done,
        documents_total: p.documents_total,
    }))
}

/// `GET /d/{name}/api/v1/list_environment_variables`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVariables {
    pub environment_variables: std::collections::BTreeMap<String, String>,
}

/// One change: `value: null` removes the variable.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EnvChange {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EnvChanges {
    pub changes: Vec<EnvChange>,
}

/// The deployment's environment variables.
#[utoipa::path(get, path = "/d/{name}/api/v1/list_environment_variables", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = EnvironmentVariables), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn list_env(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<EnvironmentVariables>> {
    let target = edit_target(&s, c, &name, "reading environment variables").await?;
    let docs = deployment_docs(&s, &target).await?;
    let vars = blocking(move || docs.env())
        .await
        .map_err(internal("read environment variables"))?;
    Ok(Json(EnvironmentVariables {
        environment_variables: (*vars).clone(),
    }))
}

/// Sets or removes environment variables, all at once; functions see them on their next call.
#[utoipa::path(post, path = "/d/{name}/api/v1/update_environment_variables", tag = "deployment", request_body = EnvChanges,
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = berth_api::Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn update_env(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    Body(req): Body<EnvChanges>,
) -> ApiResult<Json<berth_api::Empty>> {
    let p = c.clone();
    let target = edit_target(&s, c, &name, "changing environment variables").await?;
    let mut changes = Vec::new();
    for ch in req.changes {
        berth_model::env::validate_name(&ch.name)?;
        if let Some(v) = &ch.value {
            berth_model::env::validate_value(&ch.name, v)?;
        }
        changes.push((ch.name, ch.value));
    }
    let names: Vec<String> = changes
        .iter()
        .map(|(n, v)| format!("{n}{}", if v.is_some() { "" } else { " (removed)" }))
        .collect();
    let docs = deployment_docs(&s, &target).await?;
    blocking(move || docs.update_env(&changes))
        .await
        .map_err(internal("update environment variables"))?;
    if let Some(p) = p {
        s.control
            .audit(
                Some(target.deployment.team_id),
                &p,
                "update_environment_variables",
                &name,
                serde_json::json!({"names": names}),
            )
            .await?;
    }
    Ok(Json(berth_api::Empty {}))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// The last `seq` seen: answer only newer lines.
    #[serde(default)]
    pub cursor: Option<u64>,
    /// At most this many lines (default 100, at most 1000); without a cursor, the newest ones.
    #[serde(default)]
    pub limit: Option<usize>,
    /// With a cursor: wait up to this many seconds (at most 30) for a new line.
    #[serde(default)]
    pub wait: Option<u64>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogPage {
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<berth_control::logs::LogEntry>,
    /// Pass as `cursor` next time.
    pub cursor: u64,
}

/// The deployment's log: every `console.*` line and error of its calls, newest last.
#[utoipa::path(get, path = "/d/{name}/api/logs", tag = "deployment",
    params(("name" = String, Path, description = "deployment name"), LogsQuery),
    responses((status = 200, body = LogPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn logs(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> ApiResult<Json<LogPage>> {
    edit_target(&s, c, &name, "reading logs").await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = match (q.cursor, q.wait) {
        (Some(cursor), Some(wait)) if wait > 0 => {
            s.control
                .logs
                .follow(
                    &name,
                    cursor,
                    limit,
                    std::time::Duration::from_secs(wait.min(30)),
                )
                .await
        }
        (cursor, _) => s.control.logs.read(&name, cursor, limit).await,
    };
    let cursor = match (entries.last(), q.cursor) {
        (Some(e), _) => e.seq,
        (None, Some(c)) => c,
        (None, None) => s.control.logs.last_seq(&name).await,
    };
    Ok(Json(LogPage { entries, cursor }))
}
