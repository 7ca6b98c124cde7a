//! A deployment's documents under `/d/{name}/api/data`: its tables, pages of a table, and the
//! edits the dashboard's data page makes (insert, replace, delete). Reading and editing both
//! need a credential that may edit the deployment.

use super::deployment_api::{blocking, deployment_docs, edit_target, internal};
use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Body, Caller, Path, Query},
};
use axum::{Json, extract::State};
use berth_api::{
    DataChanges, DataChangesQuery, DataPage, DataQuery, DocumentBody, ErrorBody, InsertedDocument,
    TableSummary,
};
use berth_model::{Error, ErrorKind};
use berth_runtime::edit::EditError;
use berth_store::docs::Order;

fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::Invalid(m) => ApiError(Error::bad_request("BadDocument", m)),
        EditError::NotFound(m) => ApiError(Error::new(ErrorKind::NotFound, "DocumentNotFound", m)),
        EditError::Store(berth_store::StoreError::SchemaMismatch(m)) => {
            ApiError(Error::bad_request("SchemaValidationFailed", m))
        }
        EditError::Store(e) => internal("edit a document")(e),
    }
}

/// Runs one edit off the async threads and records it in the team's audit log.
async fn edit<T: Send + 'static>(
    s: &AppState,
    c: Option<berth_control::Principal>,
    name: &str,
    action: &'static str,
    details: serde_json::Value,
    f: impl FnOnce(&dyn berth_store::docs::DocStore) -> Result<T, EditError> + Send + 'static,
) -> ApiResult<T> {
    let p = c.clone();
    let target = edit_target(s, c, name, "editing data").await?;
    let docs = deployment_docs(s, &target).await?;
    let done = tokio::task::spawn_blocking(move || f(docs.as_ref()))
        .await
        .map_err(|e| {
            ApiError(Error::new(
                ErrorKind::Internal,
                "Internal",
                format!("the edit did not finish: {e}"),
            ))
        })?
        .map_err(edit_error)?;
    if let Some(p) = p {
        s.control
            .audit(Some(target.deployment.team_id), &p, action, name, details)
            .await?;
    }
    Ok(done)
}

/// The deployment's tables and how many documents each holds.
#[utoipa::path(get, path = "/d/{name}/api/data", tag = "deployment",
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Vec<TableSummary>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn tables(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<TableSummary>>> {
    let target = edit_target(&s, c, &name, "reading data").await?;
    let docs = deployment_docs(&s, &target).await?;
    let tables = blocking(move || docs.begin(false)?.tables())
        .await
        .map_err(internal("read tables"))?;
    Ok(Json(
        tables
            .into_iter()
            .map(|t| TableSummary {
                name: t.name,
                documents: t.documents,
            })
            .collect(),
    ))
}

/// Waits for a commit of the deployment after `after` (a write, a push, a reset), for at most
/// `wait` seconds: the dashboard's data page calls it in a loop and reloads what it shows when
/// the answer says `changed`. Without `after`, answers at once with the latest commit.
#[utoipa::path(get, path = "/d/{name}/api/data_changes", tag = "deployment",
    params(("name" = String, Path, description = "deployment name"), DataChangesQuery),
    responses((status = 200, body = DataChanges), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn data_changes(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path(name): Path<String>,
    Query(q): Query<DataChangesQuery>,
) -> ApiResult<Json<DataChanges>> {
    let after = match q.after.as_deref() {
        None => None,
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            ApiError(Error::bad_request(
                "BadTimestamp",
                format!("after={t:?} is not a timestamp; pass the `ts` of the last answer"),
            ))
        })?),
    };
    let target = edit_target(&s, c, &name, "reading data").await?;
    let (id, hub) = (target.deployment.id, s.control.commits());
    // Subscribed before the latest commit is read: none after it is missed.
    let mut commits = hub.subscribe(id);
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_secs(q.wait.unwrap_or(25).min(CHANGES_WAIT_MAX));
    loop {
        let last = hub.last_ts(id);
        if after.is_none_or(|a| last > a) {
            return Ok(Json(DataChanges {
                changed: after.is_some(),
                ts: last.to_string(),
            }));
        }
        match tokio::time::timeout_at(deadline, commits.recv()).await {
            Err(_) => {
                return Ok(Json(DataChanges {
                    changed: false,
                    ts: last.to_string(),
                }));
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                return Err(ApiError(Error::not_found(
                    "DeploymentNotFound",
                    format!("deployment '{name}' was deleted while the data page waited"),
                )));
            }
            Ok(_) => {}
        }
    }
}

/// Longest `data_changes` waits before it answers `changed: false`.
const CHANGES_WAIT_MAX: u64 = 60;

/// A page of a table's documents, newest first.
#[utoipa::path(get, path = "/d/{name}/api/data/{table}", tag = "deployment",
    params(("name" = String, Path, description = "deployment name"), ("table" = String, Path, description = "table name"), DataQuery),
    responses((status = 200, body = DataPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn table_data(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path((name, table)): Path<(String, String)>,
    Query(q): Query<DataQuery>,
) -> ApiResult<Json<DataPage>> {
    let target = edit_target(&s, c, &name, "reading data").await?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError(Error::bad_request(
            "BadQuery",
            "limit must be between 1 and 1000",
        )));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            let parsed = c
                .split_once('~')
                .and_then(|(t, id)| Some((t.parse::<f64>().ok()?, id.to_string())));
            Some(parsed.ok_or_else(|| {
                ApiError(Error::bad_request(
                    "BadQuery",
                    "the cursor is not one berth made",
                ))
            })?)
        }
        None => None,
    };
    let docs = deployment_docs(&s, &target).await?;
    let page = blocking(move || {
        docs.begin(false)?
            .scan(&table, Order::Desc, None, None, after.as_ref(), limit)
    })
    .await
    .map_err(internal("read data"))?;
    let continue_cursor = page
        .last()
        .map(|d| format!("{:?}~{}", d.creation_time, d.id))
        .unwrap_or_default();
    Ok(Json(DataPage {
        is_done: page.len() < limit as usize,
        page: page
            .iter()
            .filter_map(|d| serde_json::from_str(&d.json).ok())
            .collect(),
        continue_cursor,
    }))
}

/// Inserts a document (the table is created on first use).
#[utoipa::path(post, path = "/d/{name}/api/data/{table}", tag = "deployment", request_body = DocumentBody,
    params(("name" = String, Path, description = "deployment name"), ("table" = String, Path, description = "table name")),
    responses((status = 200, body = InsertedDocument), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn insert_document(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path((name, table)): Path<(String, String)>,
    Body(b): Body<DocumentBody>,
) -> ApiResult<Json<InsertedDocument>> {
    let now = s.control.now() as f64;
    let details = serde_json::json!({"table": table});
    let id = edit(&s, c, &name, "insert_document", details, move |docs| {
        berth_runtime::edit::insert(docs, &table, &b.value, now)
    })
    .await?;
    Ok(Json(InsertedDocument { id }))
}

/// Replaces a document's fields; `_id` and `_creationTime` stay as they are.
#[utoipa::path(patch, path = "/d/{name}/api/data/{table}/{document}", tag = "deployment", request_body = DocumentBody,
    params(("name" = String, Path, description = "deployment name"), ("table" = String, Path, description = "table name"),
        ("document" = String, Path, description = "document id")),
    responses((status = 200, body = berth_api::Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn replace_document(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path((name, table, id)): Path<(String, String, String)>,
    Body(b): Body<DocumentBody>,
) -> ApiResult<Json<berth_api::Empty>> {
    let details = serde_json::json!({"table": table, "id": id});
    edit(&s, c, &name, "replace_document", details, move |docs| {
        berth_runtime::edit::replace(docs, &table, &id, &b.value)
    })
    .await?;
    Ok(Json(berth_api::Empty {}))
}

/// Deletes a document.
#[utoipa::path(post, path = "/d/{name}/api/data/{table}/{document}/delete", tag = "deployment",
    params(("name" = String, Path, description = "deployment name"), ("table" = String, Path, description = "table name"),
        ("document" = String, Path, description = "document id")),
    responses((status = 200, body = berth_api::Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn delete_document(
    State(s): State<AppState>,
    Caller(c): Caller,
    Path((name, table, id)): Path<(String, String, String)>,
) -> ApiResult<Json<berth_api::Empty>> {
    let details = serde_json::json!({"table": table, "id": id});
    edit(&s, c, &name, "delete_document", details, move |docs| {
        berth_runtime::edit::delete(docs, &table, &id)
    })
    .await?;
    Ok(Json(berth_api::Empty {}))
}
