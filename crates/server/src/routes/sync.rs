//! Convex's WebSocket sync protocol at `/d/{name}/api/{version}/sync`, as `convex` 1.48's
//! clients speak it (`ConvexClient`, `ConvexReactClient`, the CLI's `run --watch`):
//! `Connect`, `Authenticate` (admin keys; user identity tokens are refused with an `AuthError`
//! until berth validates them), `ModifyQuerySet`, `Mutation` and `Action`, answered with
//! `Transition`, `MutationResponse`, `ActionResponse`, `AuthError`, `FatalError` and `Ping`.
//!
//! Live queries: each subscribed query keeps what it read (tables, documents, index ranges:
//! `berth_store::docs::commits::ReadSet`); every commit of the deployment is announced on this
//! server with what it wrote, and the queries it touches run again; those whose answer changed
//! go out in one `Transition` per batch of commits, at the latest commit's timestamp. A
//! mutation's answer carries its commit's timestamp and is followed by a transition at or past
//! it, so the client shows its result only with its writes. Mutations of one session run one at
//! a time, in order; one sent again after a reconnect (to any server) gets the answer its first run
//! recorded in its own transaction, not a second run.
//! The CLI's system queries (`_system/cli/*`) are answered natively and run again on every
//! commit.
//!
//! The deployment is resolved from its row before the socket is upgraded (404 or 410 over HTTP
//! otherwise), and again before every message is answered, so a deleted or expired deployment
//! ends its sessions. An admin credential is checked again before every message and every few
//! seconds while the socket is quiet: a deleted key or a removed member ends the session with an
//! `AuthError`. A session pings after 15 s of quiet, ends when a send waits 30 s on a slow
//! client, and holds at most 1,000 queries; a server holds at most 50,000 sockets, 10,000 per
//! deployment.

use super::deployment_api::{blocking, deployment_docs};
use crate::fanout::{Batch, Fanout, QueryKey};
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
use berth_runtime::{CallRequest, UdfKind};
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
    let slot = s.live.open(target.deployment.id).map_err(|m| {
        crate::error::ApiError(berth_model::Error::new(
            berth_model::ErrorKind::Overloaded,
            "TooManyConnections",
            m,
        ))
    })?;
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        // The default (128 KiB) is zeroed at every read attempt, that is each time a session
        // wakes: 128 MB per fan-out to a thousand sessions. Client messages are small; larger
        // ones take a few reads.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            session(s, source, target, socket).await;
            drop(slot);
        }))
}

/// The largest message a client may send (a mutation's arguments are at most 16 MiB in Convex).
const MAX_MESSAGE: usize = 20 << 20;
/// What a socket reads at a time.
const READ_BUFFER: usize = 8 << 10;

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

/// Where the client stands: its query set and identity versions, and the timestamp its
/// results were read at.
#[derive(Default, Clone, Copy, PartialEq)]
struct Version {
    query_set: u64,
    identity: u64,
    ts: u64,
}

fn version_json(v: Version) -> Value {
    json!({
        "querySet": v.query_set,
        "identity": v.identity,
        "ts": ts_json(v.ts),
    })
}

/// A timestamp as the protocol carries it: base64 of its 8 little-endian bytes.
fn ts_json(ts: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(ts.to_le_bytes())
}

/// How long a session stays quiet before it sends a `Ping` (the client gives up after 60 s).
const PING_AFTER: std::time::Duration = std::time::Duration::from_secs(15);
/// How long a mutation's answer waits for the batch that carries its commit before it goes out
/// without it.
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The longest session id a client may send (Convex's clients send a UUID).
const MAX_SESSION_ID: usize = 64;
/// Queries one session may subscribe to.
const MAX_QUERIES: usize = 1_000;
/// How long a send may wait on a slow client before the session ends.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A subscribed query: what it runs, what it read, and (a hash of) what it last answered.
struct Sub {
    path: String,
    args: Value,
    /// How the deployment's [`Fanout`] knows it (none for the CLI's system queries, which this
    /// session answers itself, again at every batch).
    key: Option<QueryKey>,
    answer: u64,
    /// The fan-out batch that made its last answer: an older result is never taken after it.
    seq: u64,
    /// Where its page ends, for a paginated query: it runs again up to there, so that rows
    /// written meanwhile grow or shrink this page instead of moving rows between pages.
    end: Option<String>,
}

impl Sub {
    /// Its journal (Convex's name for what a query decided in its last run): the end cursor.
    fn journal(&self) -> Value {
        match &self.end {
            Some(end) => json!(json!({"endCursor": end}).to_string()),
            None => Value::Null,
        }
    }

    /// Keeps the end of a page it answered (none once the page reached the end: rows added at
    /// the end then show in it).
    fn note_page(&mut self, answer: &Value) {
        if self.args.get("paginationOpts").is_none() {
            return;
        }
        self.end = match (
            answer["isDone"].as_bool(),
            answer["continueCursor"].as_str(),
        ) {
            (Some(false), Some(c)) if answer["page"].is_array() => Some(c.to_string()),
            _ => None,
        };
    }

    fn key(&self) -> QueryKey {
        QueryKey {
            path: self.path.clone(),
            args: self.args.to_string(),
            end: self.end.clone(),
        }
    }
}

/// A batch a session is answering: its fan-out is told when the session is done with it.
struct Answering(Arc<Batch>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// A mutation to run: its deployment, request id, path and arguments, and the client's session.
type MutationJob = (CallTarget, u64, String, Value, Option<String>);

/// A socket mutation or action that has finished, with the message that answers it.
struct Finished {
    message: Value,
    /// A mutation's commit timestamp: a transition at or past it must follow the answer.
    ts: Option<u64>,
}

struct Session {
    s: AppState,
    name: String,
    source: Option<std::net::IpAddr>,
    who: Identity,
    /// The version the client holds: the last transition's end.
    sent: Version,
    /// Where the next transition ends.
    next: Version,
    queries: std::collections::BTreeMap<u64, Sub>,
    session_id: Option<String>,
    /// The deployment as last resolved for this session, and when.
    target: Option<(CallTarget, std::time::Instant)>,
    /// The deployment's live queries on this server, shared with its other sessions.
    fanout: Arc<Fanout>,
    /// Mutation answers waiting for the batch that carries their commit: its timestamp, and
    /// since when the answer waits.
    waiting: Vec<(u64, std::time::Instant, String)>,
    /// A system query could not be answered after a batch: the session must end.
    broken: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        for sub in self.queries.values() {
            if let Some(key) = &sub.key {
                self.fanout.release(key);
            }
        }
    }
}

async fn session(
    s: AppState,
    source: Option<std::net::IpAddr>,
    target: CallTarget,
    mut socket: WebSocket,
) {
    let fanout = s.fanouts.of(&s, &target);
    let mut batches = fanout.subscribe();
    let start = Version {
        ts: fanout.done_ts(),
        ..Default::default()
    };
    let mut me = Session {
        name: target.deployment.name.clone(),
        s,
        source,
        who: Identity {
            key: None,
            admin: None,
        },
        sent: start,
        next: start,
        queries: Default::default(),
        session_id: None,
        target: None,
        fanout,
        waiting: Vec::new(),
        broken: false,
    };
    // The first transition starts from zero: the client's version on every new socket.
    me.sent.ts = 0;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Finished>();
    // Mutations run one at a time, in the order they came.
    let (mutations_tx, mut mutations_rx) = tokio::sync::mpsc::unbounded_channel::<MutationJob>();
    let runner = {
        let (s, done) = (me.s.clone(), done_tx.clone());
        tokio::spawn(async move {
            while let Some((target, request_id, path, args, session_id)) = mutations_rx.recv().await
            {
                // Run at most once: a client that lost the socket meanwhile and sends it again
                // (to this server or another) gets the answer recorded with its writes.
                let once = session_id.map(|session| berth_runtime::Once {
                    session,
                    request: request_id,
                });
                let (result, ts) =
                    run_function(&s, &target, &path, UdfKind::Mutation, args, once).await;
                let message = match result {
                    Ok(value) => json!({"type": "MutationResponse", "requestId": request_id,
                        "success": true, "result": value.0, "ts": ts_json(ts.unwrap_or(0)), "logLines": value.1}),
                    Err(failure) => failure.response("MutationResponse", request_id),
                };
                if done.send(Finished { message, ts }).is_err() {
                    return;
                }
            }
        })
    };
    let mut idle = Box::pin(tokio::time::sleep(PING_AFTER));
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        // The batch this turn answers: told once the transition is sent (or the session ends).
        let mut answering = None;
        let outgoing = tokio::select! {
            m = socket.recv() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match me.message(&text, &mutations_tx, &done_tx).await {
                    Ok(out) => out,
                    Err(ended) => {
                        let _ = end(&mut socket, ended, me.next.identity).await;
                        break;
                    }
                }
            }
            Some(finished) = done_rx.recv() => me.finished(finished),
            heard = batches.recv() => {
                let batch = match heard {
                    Ok(batch) => Some(batch),
                    // Fell behind: every query is compared with its latest result, and the
                    // batches still queued are passed over.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        loop {
                            match batches.try_recv() {
                                Ok(b) => b.done(),
                                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                                Err(_) => break,
                            }
                        }
                        None
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if let Some(gone) = batch.as_ref().and_then(|b| b.gone.clone()) {
                    let _ = end(&mut socket, Ended::Fatal(gone), me.next.identity).await;
                    break;
                }
                let out = me.batch(batch.as_deref()).await;
                answering = batch.map(Answering);
                out
            }
            _ = &mut idle => vec![json!({"type": "Ping"}).to_string()],
            _ = recheck.tick() => {
                // The credential, and for every session the deployment (deleted, expired).
                if let Err(ended) = me.who.target(&me.s, None, &me.name).await {
                    let _ = end(&mut socket, ended, me.next.identity).await;
                    break;
                }
                me.overdue()
            }
        };
        if me.broken {
            break;
        }
        // The client hears from the server at least every `PING_AFTER`.
        if !outgoing.is_empty() {
            idle.as_mut()
                .reset(tokio::time::Instant::now() + PING_AFTER);
        }
        for m in outgoing {
            match tokio::time::timeout(SEND_WAIT, send(&mut socket, m)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
        drop(answering);
    }
    // The mutations still queued end with the session's channel; the one running finishes
    // (and its answer is recorded).
    drop(runner);
}

impl Session {
    /// Answers one client message: what to send back, or why the session ends.
    async fn message(
        &mut self,
        text: &str,
        mutations: &tokio::sync::mpsc::UnboundedSender<MutationJob>,
        done: &tokio::sync::mpsc::UnboundedSender<Finished>,
    ) -> Result<Vec<String>, Ended> {
        let m: Value = serde_json::from_str(text)
            .map_err(|_| Ended::Fatal("a message was not JSON".into()))?;
        match m["type"].as_str().unwrap_or_default() {
            "Connect" => {
                match m["sessionId"].as_str() {
                    Some(id) if id.len() > MAX_SESSION_ID => {
                        return Err(Ended::Fatal(format!(
                            "the sessionId is {} characters long; send a UUID (at most {MAX_SESSION_ID} characters)",
                            id.len()
                        )));
                    }
                    id => self.session_id = id.map(str::to_string),
                }
                Ok(Vec::new())
            }
            "Authenticate" => {
                let base = m["baseVersion"].as_u64().unwrap_or(0);
                match m["tokenType"].as_str() {
                    Some("Admin") => {
                        self.who.key = Some(m["value"].as_str().unwrap_or_default().to_string());
                    }
                    Some("User") => {
                        return Err(Ended::Auth(
                            "berth does not accept user identity tokens yet (Convex auth is not implemented); the client goes on without one".into(),
                        ));
                    }
                    _ => {
                        self.who = Identity {
                            key: None,
                            admin: None,
                        };
                    }
                }
                self.who.target(&self.s, self.source, &self.name).await?;
                self.target = None;
                self.next.identity = base + 1;
                // Every query is answered again as the new identity.
                let mods = self.compare(None).await;
                Ok(vec![self.transition(mods)])
            }
            "ModifyQuerySet" => {
                let target = self.who.target(&self.s, None, &self.name).await?;
                self.next.query_set = m["newVersion"].as_u64().unwrap_or(self.next.query_set + 1);
                let mut mods = Vec::new();
                for change in m["modifications"].as_array().cloned().unwrap_or_default() {
                    let Some(id) = change["queryId"].as_u64() else {
                        continue;
                    };
                    match change["type"].as_str().unwrap_or_default() {
                        "Add" => {
                            if self.queries.len() >= MAX_QUERIES {
                                mods.push(json!({"type": "QueryFailed", "queryId": id,
                                    "errorMessage": format!("a connection may subscribe to at most {MAX_QUERIES} queries; unsubscribe from some first"),
                                    "logLines": [], "journal": null}).to_string());
                                continue;
                            }
                            let path = change["udfPath"].as_str().unwrap_or_default().to_string();
                            let args = change["args"].get(0).cloned().unwrap_or_else(|| json!({}));
                            // A journal from an earlier socket keeps the page's end.
                            let end = change["journal"]
                                .as_str()
                                .and_then(|j| serde_json::from_str::<Value>(j).ok())
                                .and_then(|j| j["endCursor"].as_str().map(str::to_string));
                            let mut sub = Sub {
                                path,
                                args,
                                key: None,
                                answer: 0,
                                seq: 0,
                                end,
                            };
                            let ran = self.subscribe(&target, &mut sub).await;
                            mods.push(ran.modification(id, &sub.journal()));
                            if let Some(old) = self.queries.insert(id, sub)
                                && let Some(key) = &old.key
                            {
                                self.fanout.release(key);
                            }
                        }
                        "Remove" => {
                            if let Some(sub) = self.queries.remove(&id)
                                && let Some(key) = &sub.key
                            {
                                self.fanout.release(key);
                            }
                            mods.push(json!({"type": "QueryRemoved", "queryId": id}).to_string());
                        }
                        _ => {}
                    }
                }
                Ok(vec![self.transition(mods)])
            }
            kind @ ("Mutation" | "Action") => {
                let target = self.who.target(&self.s, None, &self.name).await?;
                let request_id = m["requestId"].as_u64().unwrap_or(0);
                let path = m["udfPath"].as_str().unwrap_or_default().to_string();
                let args = m["args"].get(0).cloned().unwrap_or_else(|| json!({}));
                if kind == "Mutation" {
                    let _ =
                        mutations.send((target, request_id, path, args, self.session_id.clone()));
                    return Ok(Vec::new());
                }
                let (s, done) = (self.s.clone(), done.clone());
                tokio::spawn(async move {
                    let (result, _) =
                        run_function(&s, &target, &path, UdfKind::Action, args, None).await;
                    let message = match result {
                        Ok(value) => json!({"type": "ActionResponse", "requestId": request_id,
                            "success": true, "result": value.0, "logLines": value.1}),
                        Err(failure) => failure.response("ActionResponse", request_id),
                    };
                    let _ = done.send(Finished { message, ts: None });
                });
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The next transition, from what the client holds to `next`, with `modifications` (each
    /// one JSON text).
    fn transition(&mut self, modifications: Vec<String>) -> String {
        let t = format!(
            r#"{{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{}]}}"#,
            version_json(self.sent),
            version_json(self.next),
            modifications.join(",")
        );
        self.sent = self.next;
        t
    }

    /// A socket mutation or action finished: its answer goes out at once, unless it is a
    /// mutation whose commit this session has not heard of yet; then it waits for that
    /// commit's batch, so that the transition after it shows the mutation's writes.
    fn finished(&mut self, f: Finished) -> Vec<String> {
        let message = f.message.to_string();
        match f.ts {
            Some(ts) if ts > self.next.ts => {
                self.waiting.push((ts, std::time::Instant::now(), message));
                Vec::new()
            }
            Some(_) => vec![message, self.transition(Vec::new())],
            None => vec![message],
        }
    }

    /// Mutation answers that waited [`ANSWER_WAIT`] for the batch of their commit go out
    /// anyway, with a transition to their timestamp: the client's call resolves instead of
    /// hanging (the batch may never come on this server: a commit notice lost on the way from
    /// another server); the next batch brings the results.
    fn overdue(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut ts = self.next.ts;
        self.waiting.retain(|(at, since, message)| {
            let overdue = since.elapsed() >= ANSWER_WAIT;
            if overdue {
                ts = ts.max(*at);
                out.push(message.clone());
            }
            !overdue
        });
        if !out.is_empty() {
            tracing::warn!(
                deployment = %self.name,
                "live queries: a mutation's answer waited {ANSWER_WAIT:?} for its commit's batch"
            );
            self.next.ts = ts;
            out.push(self.transition(Vec::new()));
        }
        out
    }

    /// What a batch (`None`: the batches this session fell behind on) changes for this client:
    /// the answers of mutations it carries, then a transition with the queries whose answer
    /// changed.
    async fn batch(&mut self, batch: Option<&Batch>) -> Vec<String> {
        self.next.ts = self
            .next
            .ts
            .max(batch.map_or_else(|| self.fanout.done_ts(), |b| b.ts));
        let mods = self.compare(batch).await;
        let ts = self.next.ts;
        let mut out: Vec<String> = Vec::new();
        self.waiting.retain(|(at, _, message)| {
            let due = *at <= ts;
            if due {
                out.push(message.clone());
            }
            !due
        });
        if !mods.is_empty() || !out.is_empty() {
            out.push(self.transition(mods));
        }
        out
    }

    /// The modifications of the queries whose answer differs from what this client has: those
    /// `batch` ran again (every one when it is `None` or ran everything), and the system
    /// queries, which this session answers again at every batch.
    async fn compare(&mut self, batch: Option<&Batch>) -> Vec<String> {
        let mut mods = Vec::new();
        let ids: Vec<u64> = self.queries.keys().copied().collect();
        for id in ids {
            let Some(mut sub) = self.queries.remove(&id) else {
                continue;
            };
            let ran = match (&sub.key, batch) {
                (None, _) => {
                    let Ok(target) = self.target().await else {
                        // A transition claiming the batch without this query's new answer
                        // would be wrong: the session ends instead (the client reconnects).
                        self.broken = true;
                        self.queries.insert(id, sub);
                        return Vec::new();
                    };
                    Some((Arc::new(self.system_query(&target, &sub).await), sub.seq))
                }
                (Some(key), Some(b)) if !b.everything => {
                    b.results.get(key).map(|r| (r.clone(), b.seq))
                }
                (Some(key), _) => self.fanout.latest(key),
            };
            // A result older than the one the client has (a batch heard late) is not taken.
            if let Some((ran, seq)) = ran.filter(|(_, seq)| *seq >= sub.seq) {
                sub.seq = seq;
                if ran.hash != sub.answer {
                    self.noted(&mut sub, &ran);
                    mods.push(ran.modification(id, &sub.journal()));
                }
            }
            self.queries.insert(id, sub);
        }
        mods
    }

    /// Subscribes a query: the CLI's system queries are answered here; the deployment's own
    /// are held in its [`Fanout`] (run now unless another session holds them).
    async fn subscribe(&mut self, target: &CallTarget, sub: &mut Sub) -> Arc<RunResult> {
        if sub.path.starts_with("_system/") {
            let ran = Arc::new(self.system_query(target, sub).await);
            self.noted(sub, &ran);
            return ran;
        }
        let key = sub.key();
        let id = target.deployment.id;
        // Every commit up to it is in the run's snapshot.
        let after = self.s.control.commits().last_ts(id);
        let run = run_query_function(
            &self.s,
            target,
            &sub.path,
            sub.args.clone(),
            sub.end.clone(),
        );
        let (ran, seq) = self.fanout.hold(&key, after, run).await;
        sub.key = Some(key);
        sub.seq = seq;
        self.noted(sub, &ran);
        ran
    }

    /// Notes a query's new answer: its hash, and for a page its end, which moves the query to
    /// the key with that end.
    fn noted(&mut self, sub: &mut Sub, ran: &Arc<RunResult>) {
        sub.answer = ran.hash;
        let Ok((value, _)) = &ran.answer else {
            return;
        };
        sub.note_page(value);
        if let Some(old) = &sub.key {
            let key = sub.key();
            if &key != old {
                let (_, seq) = self.fanout.keep(&key, ran.clone(), self.next.ts);
                sub.seq = sub.seq.min(seq);
                self.fanout.release(old);
                sub.key = Some(key);
            }
        }
    }

    /// Answers one of the CLI's system queries (`_system/cli/*`), as this session's identity.
    async fn system_query(&self, target: &CallTarget, sub: &Sub) -> RunResult {
        let answer = answer(
            &self.s,
            target,
            self.who.admin.as_ref(),
            &sub.path,
            sub.args.clone(),
        )
        .await;
        RunResult::new(
            answer.map(|v| (v, Vec::new())).map_err(|message| Failure {
                message,
                data: None,
                logs: Vec::new(),
            }),
            None,
        )
    }

    /// The deployment as this session reaches it, checked again at most every few seconds (and
    /// at every message of the client).
    async fn target(&mut self) -> Result<CallTarget, Ended> {
        if let Some((t, at)) = &self.target
            && at.elapsed() < RECHECK
        {
            return Ok(t.clone());
        }
        let t = self.who.target(&self.s, None, &self.name).await?;
        self.target = Some((t.clone(), std::time::Instant::now()));
        Ok(t)
    }
}

/// Runs a subscribed query of the deployment's own code (for its [`Fanout`]).
pub(crate) async fn run_query(s: &AppState, target: &CallTarget, key: &QueryKey) -> RunResult {
    let args = serde_json::from_str(&key.args).unwrap_or_else(|_| json!({}));
    run_query_function(s, target, &key.path, args, key.end.clone()).await
}

impl Failure {
    fn response(self, kind: &str, request_id: u64) -> Value {
        let mut m = json!({"type": kind, "requestId": request_id, "success": false,
            "result": self.message, "logLines": self.logs});
        if let Some(d) = self.data {
            m["errorData"] = d;
        }
        m
    }
}

type Answered = Result<(Value, Vec<String>), Failure>;
use crate::live::{Failure, RunResult};
use std::sync::Arc;

/// Runs a mutation or action for the socket: its answer (value and log lines, or the failure)
/// and, for a mutation that wrote, its commit's timestamp.
async fn run_function(
    s: &AppState,
    target: &CallTarget,
    path: &str,
    kind: UdfKind,
    args: Value,
    once: Option<berth_runtime::Once>,
) -> (Answered, Option<u64>) {
    match call_for_socket(s, target, path, kind, args, None, once).await {
        Ok(result) => {
            let ts = result
                .commit_ts
                .or_else(|| Some(s.control.commits().last_ts(target.deployment.id)));
            (shown(s, target, path, kind, &result), ts)
        }
        Err(message) => (
            Err(Failure {
                message,
                data: None,
                logs: Vec::new(),
            }),
            None,
        ),
    }
}

/// Runs one of the deployment's own queries: its answer and what it read.
async fn run_query_function(
    s: &AppState,
    target: &CallTarget,
    path: &str,
    args: Value,
    page_end: Option<String>,
) -> RunResult {
    match call_for_socket(s, target, path, UdfKind::Query, args, page_end, None).await {
        Ok(mut result) => {
            let reads = result.reads.take();
            RunResult::new(shown(s, target, path, UdfKind::Query, &result), reads)
        }
        Err(message) => RunResult::new(
            Err(Failure {
                message,
                data: None,
                logs: Vec::new(),
            }),
            None,
        ),
    }
}

async fn call_for_socket(
    s: &AppState,
    target: &CallTarget,
    path: &str,
    kind: UdfKind,
    args: Value,
    page_end: Option<String>,
    once: Option<berth_runtime::Once>,
) -> Result<berth_runtime::CallResult, String> {
    let docs = deployment_docs(s, target).await.map_err(|e| e.0.message)?;
    let request = CallRequest {
        path: path.to_string(),
        kind: Some(kind),
        internal_ok: false,
        args,
        request_id: request_id(),
        live: (kind == UdfKind::Query).then_some(berth_runtime::LiveQuery { page_end }),
        once,
    };
    s.runtime
        .call(
            &target.deployment.name,
            target.deployment.code_version,
            docs,
            request,
        )
        .await
}

/// What the caller sees of a result, as the HTTP API shows it (the deployment's settings decide
/// on log lines and error details); the log lines go to the deployment's logs.
fn shown(
    s: &AppState,
    target: &CallTarget,
    path: &str,
    kind: UdfKind,
    result: &berth_runtime::CallResult,
) -> Answered {
    let r = super::deployment_api::present(
        s,
        target,
        &target.deployment.name,
        path,
        Some(kind),
        &request_id(),
        result,
        super::deployment_api::Format::Encoded,
    );
    if r.status == "success" {
        Ok((r.value.unwrap_or(Value::Null), r.log_lines))
    } else {
        Err(Failure {
            message: r.error_message.unwrap_or_default(),
            data: r.error_data,
            logs: r.log_lines,
        })
    }
}

fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    format!("{:016x}", h.finish())
}

/// Tells the client why its session ends.
async fn end(socket: &mut WebSocket, ended: Ended, base: u64) -> Result<(), axum::Error> {
    match ended {
        Ended::Auth(e) => {
            send(
                socket,
                json!({"type": "AuthError", "error": e, "baseVersion": base, "authUpdateAttempted": true})
                    .to_string(),
            )
            .await
        }
        Ended::Fatal(e) => send(socket, json!({"type": "FatalError", "error": e}).to_string()).await,
    }
}

async fn send(socket: &mut WebSocket, text: String) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
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
        None => Err(format!("{path} is not a system query")),
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
