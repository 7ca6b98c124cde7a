//! The WebSocket sync protocol at `/d/{name}/api/{version}/sync`, as far as Convex's CLI uses it
//! (`../shared/CONVEX-CLI.md` §7.1): `Connect`, `Authenticate` with an admin key, and query sets
//! whose queries are answered once each in a `Transition`. The CLI's system queries
//! (`_system/cli/*`: environment variables, tables, table data, table sizes, the API spec) are
//! answered natively; any other path runs as the deployment's own query.
//!
//! Not done: re-running subscribed queries when data changes (`run --watch` gets the first value
//! only). A `Ping` every 30 s keeps long subscriptions open.
//!
//! The deployment is resolved from its row before the socket is upgraded (404 or 410 over HTTP
//! otherwise), and again before every message is answered, so a deleted or expired deployment
//! ends its sessions. An admin credential is checked again before every message and every few
//! seconds while the socket is quiet: a deleted key or a removed member ends the session with an
//! `AuthError`.

use super::deployment_api::{blocking, deployment_docs};
use crate::{AppState, error::ApiResult};
use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use base64::Engine;
use berth_control::{Principal, calls::CallTarget};
use berth_runtime::{CallRequest, Outcome, UdfKind};
use berth_store::docs::Order;
use serde_json::{Value, json};

pub async fn sync(
    State(s): State<AppState>,
    crate::extract::Source(source): crate::extract::Source,
    axum::extract::Path((name, _version)): axum::extract::Path<(String, String)>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    // Nothing about the deployment is touched before its row says it exists and is live.
    let target = s.control.call_target(None, &name).await?;
    Ok(ws.on_upgrade(move |socket| session(s, source, target, socket)))
}

/// How often a quiet session checks that its credential still holds.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Who the session speaks for: nobody (public functions only), or an admin credential that is
/// checked again before each use.
struct Identity {
    key: Option<String>,
    admin: Option<Principal>,
}

impl Identity {
    /// The deployment as this identity may reach it now, or why the session must end. `source`
    /// is given when the credential is new (failed attempts count against that address);
    /// re-checks of a credential already accepted pass `None`, so other clients' failures from
    /// the same address cannot end this session.
    async fn target(
        &mut self,
        s: &AppState,
        source: Option<std::net::IpAddr>,
        name: &str,
    ) -> Result<CallTarget, Ended> {
        match &self.key {
            Some(key) => match admin_of(s, source, name, key).await {
                Ok((p, target)) => {
                    self.admin = Some(p);
                    Ok(target)
                }
                Err(e) => Err(Ended::Auth(e)),
            },
            None => s
                .control
                .call_target(None, name)
                .await
                .map_err(|e| Ended::Fatal(e.message)),
        }
    }
}

/// Why a session ends.
enum Ended {
    /// The credential no longer holds (key deleted, member removed, rights lost).
    Auth(String),
    /// The deployment is gone or expired.
    Fatal(String),
}

/// Where the client stands: its query set and identity versions, and the server's timestamp.
#[derive(Default, Clone, Copy)]
struct Version {
    query_set: u64,
    identity: u64,
    ts: u64,
}

fn version_json(v: Version) -> Value {
    json!({
        "querySet": v.query_set,
        "identity": v.identity,
        "ts": base64::engine::general_purpose::STANDARD.encode(v.ts.to_le_bytes()),
    })
}

async fn session(
    s: AppState,
    source: Option<std::net::IpAddr>,
    target: CallTarget,
    mut socket: WebSocket,
) {
    let name = target.deployment.name.clone();
    let mut sent = Version::default();
    let mut wanted = Version::default();
    let mut who = Identity {
        key: None,
        admin: None,
    };
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(30));
    ping.tick().await;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            _ = ping.tick() => {
                if socket.send(Message::Text(json!({"type": "Ping"}).to_string().into())).await.is_err() {
                    return;
                }
                continue;
            }
            _ = recheck.tick() => {
                if who.key.is_some()
                    && let Err(ended) = who.target(&s, None, &name).await
                {
                    let _ = end(&mut socket, ended, wanted.identity).await;
                    return;
                }
                continue;
            }
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
            Some(Ok(_)) => continue,
        };
        let Ok(m) = serde_json::from_str::<Value>(&text) else {
            let _ = send(
                &mut socket,
                json!({"type": "FatalError", "error": "a message was not JSON"}),
            )
            .await;
            return;
        };
        let mut modifications = Vec::new();
        match m["type"].as_str().unwrap_or_default() {
            "Connect" | "Event" => continue,
            "Authenticate" => {
                let key = m["value"].as_str().unwrap_or_default();
                let base = m["baseVersion"].as_u64().unwrap_or(0);
                if m["tokenType"] == "Admin" {
                    who.key = Some(key.to_string());
                } else {
                    who = Identity {
                        key: None,
                        admin: None,
                    };
                }
                if let Err(ended) = who.target(&s, source, &name).await {
                    let _ = end(&mut socket, ended, base).await;
                    return;
                }
                wanted.identity = base + 1;
            }
            "ModifyQuerySet" => {
                // The deployment and the credential, as they are now, before anything is read.
                let target = match who.target(&s, None, &name).await {
                    Ok(t) => t,
                    Err(ended) => {
                        let _ = end(&mut socket, ended, wanted.identity).await;
                        return;
                    }
                };
                wanted.query_set = m["newVersion"].as_u64().unwrap_or(wanted.query_set + 1);
                for change in m["modifications"].as_array().cloned().unwrap_or_default() {
                    let id = change["queryId"].clone();
                    match change["type"].as_str().unwrap_or_default() {
                        "Add" => {
                            let path = change["udfPath"].as_str().unwrap_or_default();
                            let args = change["args"].get(0).cloned().unwrap_or_else(|| json!({}));
                            modifications.push(match answer(&s, &target, who.admin.as_ref(), path, args).await {
                                Ok(value) => json!({"type": "QueryUpdated", "queryId": id, "value": value, "logLines": [], "journal": null}),
                                Err(e) => json!({"type": "QueryFailed", "queryId": id, "errorMessage": e, "logLines": [], "journal": null}),
                            });
                        }
                        "Remove" => {
                            modifications.push(json!({"type": "QueryRemoved", "queryId": id}))
                        }
                        _ => {}
                    }
                }
            }
            _ => continue,
        }
        wanted.ts = sent.ts + 1;
        let transition = json!({
            "type": "Transition",
            "startVersion": version_json(sent),
            "endVersion": version_json(wanted),
            "modifications": modifications,
        });
        if send(&mut socket, transition).await.is_err() {
            return;
        }
        sent = wanted;
    }
}

/// Tells the client why its session ends.
async fn end(socket: &mut WebSocket, ended: Ended, base: u64) -> Result<(), axum::Error> {
    match ended {
        Ended::Auth(e) => {
            send(
                socket,
                json!({"type": "AuthError", "error": e, "baseVersion": base, "authUpdateAttempted": true}),
            )
            .await
        }
        Ended::Fatal(e) => send(socket, json!({"type": "FatalError", "error": e})).await,
    }
}

async fn send(socket: &mut WebSocket, v: Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(v.to_string().into())).await
}

/// The principal of an admin key that may edit this deployment, and the deployment as it sees
/// it, or why not.
async fn admin_of(
    s: &AppState,
    source: Option<std::net::IpAddr>,
    name: &str,
    key: &str,
) -> Result<(Principal, CallTarget), String> {
    let p = s
        .control
        .authenticate_from(source, key)
        .await
        .map_err(|e| e.message)?;
    let target = s
        .control
        .call_target(Some(&p), name)
        .await
        .map_err(|e| e.message)?;
    target
        .require_edit("running system queries")
        .map_err(|e| e.message)?;
    Ok((p, target))
}

/// The value of one query of the set.
async fn answer(
    s: &AppState,
    target: &CallTarget,
    admin: Option<&Principal>,
    path: &str,
    args: Value,
) -> Result<Value, String> {
    let system = path.strip_prefix("_system/cli/");
    if system.is_some() && admin.is_none() {
        return Err(format!(
            "{path} needs an admin key (Authenticate with tokenType Admin)"
        ));
    }
    let docs = deployment_docs(s, target).await.map_err(|e| e.0.message)?;
    let store_error = |e: berth_store::StoreError| {
        tracing::error!(error = %e, "system query");
        "the deployment's database failed; try again".to_string()
    };
    match system {
        Some("queryEnvironmentVariables:default" | "queryEnvironmentVariables") => {
            let env = blocking(move || docs.env()).await.map_err(store_error)?;
            Ok(Value::Array(
                env.iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect(),
            ))
        }
        Some("queryEnvironmentVariables:get") => {
            let want = args["name"].as_str().unwrap_or_default().to_string();
            let env = blocking(move || docs.env()).await.map_err(store_error)?;
            Ok(env
                .get(&want)
                .map_or(Value::Null, |v| json!({"name": want, "value": v})))
        }
        Some("tables:default" | "tables") => {
            let tables = blocking(move || docs.begin(false)?.tables())
                .await
                .map_err(store_error)?;
            Ok(json!({
                "page": tables.iter().map(|t| json!({"name": t.name})).collect::<Vec<_>>(),
                "isDone": true,
                "continueCursor": "",
            }))
        }
        Some("tableSize:default" | "tableSize") => {
            let table = args["tableName"].as_str().unwrap_or_default().to_string();
            let tables = blocking(move || docs.begin(false)?.tables())
                .await
                .map_err(store_error)?;
            Ok(json!(
                tables
                    .iter()
                    .find(|t| t.name == table)
                    .map_or(0, |t| t.documents)
            ))
        }
        Some("tableData:default" | "tableData") => {
            table_data(docs, &args).await.map_err(store_error)
        }
        Some("modules:apiSpec" | "modules:apiSpec:default") => {
            let functions = super::deployment_api::current_functions(s, target)
                .await
                .map_err(|e| e.0.message)?;
            Ok(Value::Array(
                functions
                    .iter()
                    .map(|f| {
                        json!({
                            "identifier": f.path,
                            "functionType": f.kind.title(),
                            "visibility": {"kind": if f.internal { "internal" } else { "public" }},
                            "args": f.args.to_string(),
                            "returns": f.returns.to_string(),
                        })
                    })
                    .collect(),
            ))
        }
        Some(other) => Err(format!(
            "berth does not implement the system query _system/cli/{other}"
        )),
        None => user_query(s, target, path, args, docs).await,
    }
}

/// A page of a table for `npx convex data <table>`.
async fn table_data(
    docs: std::sync::Arc<dyn berth_store::docs::DocStore>,
    args: &Value,
) -> Result<Value, berth_store::StoreError> {
    let table = args["table"].as_str().unwrap_or_default().to_string();
    let order = if args["order"] == "asc" {
        Order::Asc
    } else {
        Order::Desc
    };
    let limit = args["paginationOpts"]["numItems"]
        .as_u64()
        .unwrap_or(100)
        .clamp(1, 1000) as u32;
    let after = args["paginationOpts"]["cursor"]
        .as_str()
        .and_then(|c| c.split_once('~'))
        .and_then(|(t, id)| Some((t.parse::<f64>().ok()?, id.to_string())));
    let page = blocking(move || {
        docs.begin(false)?
            .scan(&table, order, None, None, after.as_ref(), limit)
    })
    .await?;
    Ok(json!({
        "page": page.iter().filter_map(|d| serde_json::from_str::<Value>(&d.json).ok()).collect::<Vec<_>>(),
        "isDone": page.len() < limit as usize,
        "continueCursor": page.last().map(|d| format!("{:?}~{}", d.creation_time, d.id)).unwrap_or_default(),
    }))
}

/// One of the deployment's own queries, run as the caller (an admin may run internal ones).
async fn user_query(
    s: &AppState,
    target: &CallTarget,
    path: &str,
    args: Value,
    docs: std::sync::Arc<dyn berth_store::docs::DocStore>,
) -> Result<Value, String> {
    let request = CallRequest {
        path: path.to_string(),
        kind: Some(UdfKind::Query),
        internal_ok: target.can_edit,
        args,
        request_id: "sync".into(),
    };
    let result = s
        .runtime
        .call(
            &target.deployment.name,
            target.deployment.code_version,
            docs,
            request,
        )
        .await?;
    match result.outcome {
        Outcome::Value(v) => Ok(v),
        Outcome::Error(e) => Err(e.message),
    }
}
