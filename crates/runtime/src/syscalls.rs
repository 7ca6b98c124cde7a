//! The host side of `Convex.syscall` / `Convex.asyncSyscall` (PROTOCOL §5). Every operation of
//! user code on its deployment's data passes through [`Host::dispatch`], inside the current
//! call's transaction.

use crate::{UdfKind, ids, query::Stream};
use berth_store::{
    StoreError,
    docs::{Doc, DocStore, DocTx},
};
use berth_value::{MAX_DOCUMENT_BYTES, Value, decode, encode, validate_field_name};
use serde_json::{Value as Json, json};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
};

/// One `console.*` line of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub level: String,
    pub text: String,
    /// Unix milliseconds.
    pub time: i64,
    /// The function that logged it (`messages.js:list`).
    pub function: String,
}

/// A host operation an action is waiting on (`ctx.runQuery` and friends).
#[derive(Debug, Clone)]
pub struct Deferred {
    pub id: u32,
    pub op: String,
    pub args: String,
}

/// One function execution's state: its transaction and open queries.
pub struct Frame {
    pub kind: UdfKind,
    pub function: String,
    pub tx: Option<Box<dyn DocTx>>,
    /// What a query's transaction read, for live queries.
    pub reads: Option<Arc<std::sync::Mutex<berth_store::docs::commits::ReadSet>>>,
    streams: HashMap<u32, Stream>,
    next_stream: u32,
    pub now: f64,
}

impl Frame {
    pub fn new(kind: UdfKind, function: String, now: f64) -> Self {
        Frame {
            kind,
            function,
            tx: None,
            reads: None,
            streams: HashMap::new(),
            next_stream: 1,

            now,
        }
    }
}

/// What the syscalls of one isolate work on.
pub struct Host {
    pub handle: tokio::runtime::Handle,
    pub docs: Option<Arc<dyn DocStore>>,
    pub frames: Vec<Frame>,
    pub deferred: VecDeque<Deferred>,
    /// An action's timers (`setTimeout`, `setInterval`): when due, and the id they settle.
    pub timers: Vec<(std::time::Instant, u32)>,
    next_deferred: u32,
    pub logs: Vec<LogLine>,
    /// Log lines past this many in one call are dropped (and counted).
    pub max_log_lines: usize,
    pub dropped_logs: usize,
    /// `process.env` as JSON, to install at the start of the next call (when it changed).
    pub pending_env: Option<String>,
    /// Bytes of log text kept in this call.
    pub log_bytes: usize,
    /// The indexes the deployment's schema defines.
    pub indexes: Arc<crate::query::Indexes>,
    /// What one function's transaction may read and write.
    pub tx_limits: crate::limits::TxLimits,
    /// When the running call must end (its time limit).
    pub deadline: Option<std::time::Instant>,
    /// What the outermost function of the call did to the data: what it read (a query) and
    /// its commit's timestamp (a mutation that wrote).
    pub effects: Effects,
    /// The call is a live query: its reads are recorded, its first `paginate` ends where the
    /// caller says.
    pub live: Option<crate::LiveQuery>,
    /// The call is a mutation to run at most once: its answer is recorded with its writes.
    pub once: Option<crate::Once>,
}

/// See [`Host::effects`].
#[derive(Debug, Default, Clone)]
pub struct Effects {
    pub reads: Option<berth_store::docs::commits::ReadSet>,
    pub commit_ts: Option<u64>,
}

/// The longest log line kept; longer ones are cut.
pub const MAX_LOG_LINE: usize = 16 * 1024;
/// Log text kept per call; lines past it are dropped (and counted).
pub const MAX_LOG_BYTES_PER_CALL: usize = 1024 * 1024;

type R<T> = Result<T, String>;

/// What a function is told about a storage error: the text of one it caused (a schema mismatch,
/// a limit) or that is passing, or that the database failed (logged, not shown).
pub(crate) fn user_error(e: StoreError, what: &str) -> String {
    match e {
        StoreError::SchemaMismatch(m) | StoreError::LimitExceeded(m) | StoreError::Busy(m) => m,
        e => {
            tracing::error!(error = %e, "{what}");
            "the deployment's database failed; try again".to_string()
        }
    }
}

fn args<'a>(a: &'a Json, field: &str, op: &str) -> R<&'a Json> {
    a.get(field)
        .ok_or_else(|| format!("{op}: missing argument `{field}`"))
}

fn str_arg<'a>(a: &'a Json, field: &str, op: &str) -> R<&'a str> {
    args(a, field, op)?
        .as_str()
        .ok_or_else(|| format!("{op}: argument `{field}` must be a string"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn validate_table(name: &str) -> R<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid table name '{name}': use up to 64 letters, digits and '_', starting with a letter (names starting with '_' are system tables)"
        ))
    }
}

/// Checks a document body the user wrote: an object, no system fields, within the size limit.
pub(crate) fn user_fields(value: &Json, op: &str) -> R<BTreeMap<String, Value>> {
    let v = decode(value).map_err(|e| format!("{op}: {}", e.0))?;
    let Value::Object(fields) = v else {
        return Err(format!(
            "{op}: a document must be an object, not a {}",
            v.type_name()
        ));
    };
    if let Some(k) = fields.keys().find(|k| k.starts_with('_')) {
        return Err(format!(
            "{op}: field '{k}' starts with '_', which is reserved for system fields (_id, _creationTime)"
        ));
    }
    Ok(fields)
}

pub(crate) fn stored(fields: &BTreeMap<String, Value>) -> R<String> {
    let text = encode(&Value::Object(fields.clone())).to_string();
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the document is {} bytes; documents may hold at most 1 MiB",
            text.len()
        ));
    }
    Ok(text)
}

impl Host {
    pub fn new(handle: tokio::runtime::Handle, tx_limits: crate::limits::TxLimits) -> Self {
        Host {
            tx_limits,
            deadline: None,
            effects: Effects::default(),
            live: None,
            once: None,
            timers: Vec::new(),
            handle,
            docs: None,
            frames: Vec::new(),
            deferred: VecDeque::new(),
            next_deferred: 1,
            logs: Vec::new(),
            max_log_lines: 256,
            dropped_logs: 0,
            pending_env: None,
            log_bytes: 0,
            indexes: Arc::default(),
        }
    }

    pub fn log(&mut self, level: String, mut text: String) {
        if self.logs.len() >= self.max_log_lines || self.log_bytes >= MAX_LOG_BYTES_PER_CALL {
            self.dropped_logs += 1;
            return;
        }
        if text.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" … (truncated: log lines are cut at 16 KiB)");
        }
        self.log_bytes += text.len();
        let function = self
            .frames
            .last()
            .map(|f| f.function.clone())
            .unwrap_or_default();
        self.logs.push(LogLine {
            level,
            text,
            time: now_ms(),
            function,
        });
    }

    pub fn defer(&mut self, op: String, args: String) -> u32 {
        let id = self.next_deferred;
        self.next_deferred += 1;
        self.deferred.push_back(Deferred { id, op, args });
        id
    }

    /// Starts a timer of `ms` milliseconds (`setTimeout`), settled like a deferred operation
    /// once due; `None` outside an action (queries and mutations run in one transaction).
    pub fn timer(&mut self, ms: f64) -> Option<u32> {
        if self.frames.last().map(|f| f.kind) != Some(UdfKind::Action) {
            return None;
        }
        let id = self.next_deferred;
        self.next_deferred += 1;
        let ms = if ms.is_finite() {
            ms.clamp(0.0, 1e9)
        } else {
            0.0
        };
        let due =
            std::time::Instant::now() + std::time::Duration::from_micros((ms * 1000.0) as u64);
        self.timers.push((due, id));
        Some(id)
    }

    /// Forgets a timer (`clearTimeout`).
    pub fn clear_timer(&mut self, id: u32) {
        self.timers.retain(|(_, t)| *t != id);
    }

    /// The timer due first, taken off the list.
    pub fn next_timer(&mut self) -> Option<(std::time::Instant, u32)> {
        let first = (0..self.timers.len()).min_by_key(|&i| self.timers[i].0)?;
        Some(self.timers.swap_remove(first))
    }

    fn frame(&mut self) -> R<&mut Frame> {
        self.frames
            .last_mut()
            .ok_or_else(|| "there is no function running".to_string())
    }

    /// The current function's transaction, opened on first use.
    fn tx(&mut self) -> R<&mut Box<dyn DocTx>> {
        let docs = self
            .docs
            .clone()
            .ok_or("this deployment has no data store")?;
        let (limits, deadline) = (self.tx_limits, self.deadline);
        let frame = self.frame()?;
        if frame.kind == UdfKind::Action {
            return Err("actions cannot read or write the database directly; use ctx.runQuery or ctx.runMutation".into());
        }
        if frame.tx.is_none() {
            let write = frame.kind == UdfKind::Mutation;
            let tx = docs.begin(write).map_err(|e| match e {
                berth_store::StoreError::Busy(m) => m,
                e => {
                    tracing::error!(error = %e, "open deployment transaction");
                    "the deployment's database is unavailable; try again".to_string()
                }
            })?;
            let reads = frame.reads.clone();
            frame.tx = Some(Box::new(
                crate::limits::Metered::new(tx, limits, deadline).recording(reads),
            ));
        }
        frame
            .tx
            .as_mut()
            .ok_or_else(|| "no transaction".to_string())
    }

    /// The answer an earlier run of this request recorded (see [`crate::CallRequest::once`]),
    /// read in the mutation's own write transaction, so a run under way elsewhere is waited for.
    pub(crate) fn answered(&mut self, once: &crate::Once) -> R<Option<serde_json::Value>> {
        let tx = self.tx()?;
        let text = tx
            .request_answer(&once.session, once.request)
            .map_err(|e| user_error(e, "read the mutation's earlier answer"))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn require_write(&mut self, op: &str) -> R<()> {
        match self.frame()?.kind {
            UdfKind::Mutation => Ok(()),
            UdfKind::Query => Err(format!("{op}: queries cannot write; use a mutation")),
            UdfKind::Action => Err(format!(
                "{op}: actions cannot write directly; use ctx.runMutation"
            )),
        }
    }

    /// The table a document id belongs to, if the id is well formed and its table exists.
    pub fn table_of(&mut self, id: &str) -> R<Option<String>> {
        let Some(n) = ids::table_number(id) else {
            return Ok(None);
        };
        let tx = self.tx()?;
        tx.table_name(n).map_err(|e| e.to_string())
    }

    /// Runs one operation; `args` and the answer are JSON text.
    pub fn dispatch(&mut self, op: &str, args_text: &str) -> R<String> {
        let a: Json = serde_json::from_str(args_text)
            .map_err(|e| format!("{op}: arguments are not JSON ({e})"))?;
        if op == "berth/queryStreamBatch" {
            return self.query_batch(&a, op);
        }
        let answer = match op {
            "1.0/get" => self.get(&a, op)?,
            "1.0/insert" => self.insert(&a, op)?,
            "1.0/shallowMerge" => self.patch(&a, op)?,
            "1.0/replace" => self.replace(&a, op)?,
            "1.0/remove" => self.remove(&a, op)?,
            "1.0/db/normalizeId" => self.normalize_id(&a, op)?,
            "1.0/queryStream" => self.query_stream(&a, op)?,
            "1.0/queryStreamNext" => self.query_next(&a, op)?,
            "1.0/queryCleanup" => {
                let id = args(&a, "queryId", op)?.as_u64().unwrap_or(0) as u32;
                json!(self.frame()?.streams.remove(&id).is_some())
            }
            "1.0/queryPage" => self.query_page(&a, op)?,
            // Every call is unauthenticated until berth validates user tokens (issue #21).
            "1.0/getUserIdentity" => Json::Null,
            other => return Err(format!("unknown operation '{other}'")),
        };
        Ok(answer.to_string())
    }

    fn load(&mut self, id: &str, op: &str) -> R<Option<Doc>> {
        if ids::table_number(id).is_none() {
            return Err(format!("{op}: '{id}' is not a document id"));
        }
        let tx = self.tx()?;
        tx.get(id).map_err(|e| e.to_string())
    }

    fn get(&mut self, a: &Json, op: &str) -> R<Json> {
        let id = str_arg(a, "id", op)?;
        Ok(match self.load(id, op)? {
            Some(d) => serde_json::from_str(&d.json).map_err(|e| e.to_string())?,
            None => Json::Null,
        })
    }

    fn insert(&mut self, a: &Json, op: &str) -> R<Json> {
        self.require_write(op)?;
        let table = str_arg(a, "table", op)?.to_string();
        let value = args(a, "value", op)?;
        let now = self.frame()?.now;
        let tx = self.tx()?;
        let id =
            crate::edit::insert_in(tx.as_mut(), &table, value, now, op).map_err(|e| match e {
                crate::edit::EditError::Store(e) => user_error(e, "insert document"),
                other => other.to_string(),
            })?;
        Ok(json!({"_id": id}))
    }

    fn existing(&mut self, a: &Json, op: &str) -> R<(Doc, BTreeMap<String, Value>)> {
        let id = str_arg(a, "id", op)?.to_string();
        let doc = self
            .load(&id, op)?
            .ok_or_else(|| format!("{op}: document '{id}' does not exist"))?;
        let value = decode(&serde_json::from_str(&doc.json).map_err(|e| e.to_string())?)
            .map_err(|e| e.0)?;
        let Value::Object(fields) = value else {
            return Err("stored document is not an object".into());
        };
        Ok((doc, fields))
    }

    fn write_back(&mut self, doc: &Doc, fields: &BTreeMap<String, Value>) -> R<Json> {
        let text = stored(fields)?;
        let tx = self.tx()?;
        tx.replace(&doc.id, &text).map_err(|e| e.to_string())?;
        Ok(Json::Null)
    }

    fn patch(&mut self, a: &Json, op: &str) -> R<Json> {
        self.require_write(op)?;
        let (doc, mut fields) = self.existing(a, op)?;
        let patch = args(a, "value", op)?
            .as_object()
            .ok_or_else(|| format!("{op}: value must be an object"))?;
        for (k, v) in patch {
            if v == &json!({"$undefined": null}) {
                if k.starts_with('_') {
                    return Err(format!("{op}: system field '{k}' cannot be removed"));
                }
                fields.remove(k);
                continue;
            }
            validate_field_name(k).map_err(|e| format!("{op}: {}", e.0))?;
            let value = decode(v).map_err(|e| format!("{op}: {}", e.0))?;
            if k.starts_with('_') {
                if fields.get(k) != Some(&value) {
                    return Err(format!("{op}: system field '{k}' cannot be changed"));
                }
                continue;
            }
            fields.insert(k.clone(), value);
        }
        self.write_back(&doc, &fields)
    }

    fn replace(&mut self, a: &Json, op: &str) -> R<Json> {
        self.require_write(op)?;
        let (doc, old) = self.existing(a, op)?;
        let fields = crate::edit::replaced_fields(&old, args(a, "value", op)?, op)?;
        self.write_back(&doc, &fields)
    }

    fn remove(&mut self, a: &Json, op: &str) -> R<Json> {
        self.require_write(op)?;
        let (doc, _) = self.existing(a, op)?;
        let tx = self.tx()?;
        tx.delete(&doc.id).map_err(|e| e.to_string())?;
        Ok(Json::Null)
    }

    fn normalize_id(&mut self, a: &Json, op: &str) -> R<Json> {
        let table = str_arg(a, "table", op)?.to_string();
        let id = str_arg(a, "idString", op)?.to_string();
        let found = self.table_of(&id)?;
        Ok(
            json!({"id": if found.as_deref() == Some(table.as_str()) { Json::String(id) } else { Json::Null }}),
        )
    }

    fn query_stream(&mut self, a: &Json, op: &str) -> R<Json> {
        let stream = Stream::parse(args(a, "query", op)?, &self.indexes)?;
        let frame = self.frame()?;
        if frame.kind == UdfKind::Action {
            return Err("actions cannot query the database directly; use ctx.runQuery".into());
        }
        let id = frame.next_stream;
        frame.next_stream += 1;
        frame.streams.insert(id, stream);
        Ok(json!({"queryId": id}))
    }

    fn query_next(&mut self, a: &Json, op: &str) -> R<Json> {
        let id = args(a, "queryId", op)?.as_u64().unwrap_or(0) as u32;
        let mut stream = self
            .frame()?
            .streams
            .remove(&id)
            .ok_or_else(|| format!("{op}: query {id} is not open"))?;
        let next = {
            let tx = self.tx()?;
            stream.next(tx.as_mut())
        };
        self.frame()?.streams.insert(id, stream);
        Ok(match next? {
            Some(text) => {
                json!({"value": serde_json::from_str::<Json>(&text).map_err(|e| e.to_string())?, "done": false})
            }
            None => json!({"value": null, "done": true}),
        })
    }

    /// The next documents of an open query, up to `max`, as `{"values": [...], "done": bool}`
    /// text: the prelude answers `1.0/queryStreamNext` from it, so a page of documents crosses
    /// into JavaScript at once and the stored JSON texts are joined, not parsed and re-encoded.
    /// An error after some documents were read answers those; the next batch meets it again.
    fn query_batch(&mut self, a: &Json, op: &str) -> R<String> {
        let id = args(a, "queryId", op)?.as_u64().unwrap_or(0) as u32;
        let max = a
            .get("max")
            .and_then(Json::as_u64)
            .unwrap_or(1)
            .clamp(1, 256) as usize;
        let mut stream = self
            .frame()?
            .streams
            .remove(&id)
            .ok_or_else(|| format!("{op}: query {id} is not open"))?;
        if let Some(e) = stream.failed.take() {
            self.frame()?.streams.insert(id, stream);
            return Err(e);
        }
        // `take(n)` wants exactly what it asks for: storage reads no more.
        if a.get("exact").and_then(Json::as_bool) == Some(true) {
            stream.at_most(max);
        }
        let mut out = String::from("{\"values\":[");
        let (mut n, mut done) = (0, false);
        let read = {
            let tx = self.tx()?;
            let mut failed = None;
            while n < max {
                match stream.next(tx.as_mut()) {
                    Ok(Some(text)) => {
                        if n > 0 {
                            out.push(',');
                        }
                        out.push_str(&text);
                        n += 1;
                    }
                    Ok(None) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            failed
        };
        let failed = match read {
            Some(e) if n == 0 => Some(e),
            Some(e) => {
                stream.failed = Some(e);
                None
            }
            None => None,
        };
        self.frame()?.streams.insert(id, stream);
        if let Some(e) = failed {
            return Err(e);
        }
        out.push_str(if done {
            "],\"done\":true}"
        } else {
            "],\"done\":false}"
        });
        Ok(out)
    }

    fn query_page(&mut self, a: &Json, op: &str) -> R<Json> {
        let mut stream = Stream::parse(args(a, "query", op)?, &self.indexes)?;
        if let Some(c) = a
            .get("cursor")
            .and_then(Json::as_str)
            .filter(|c| !c.is_empty())
        {
            stream.resume(c)?;
        }
        let size = a.get("pageSize").and_then(Json::as_f64).unwrap_or(100.0);
        if size.is_nan() || size < 1.0 {
            return Err(format!("paginate: numItems must be at least 1, not {size}"));
        }
        let size = size.min(8192.0) as usize;
        // With an end cursor (a live query keeping its page's bounds, or `usePaginatedQuery`
        // splitting a page), the page is everything up to it, however many that is.
        let given = a
            .get("endCursor")
            .and_then(Json::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let end_text = given.or_else(|| self.live.as_mut().and_then(|l| l.page_end.take()));
        let end = match &end_text {
            Some(c) => stream.end_of(c)?,
            None => None,
        };
        stream.read_ahead(if end.is_some() { 128 } else { size });
        let tx = self.tx()?;
        let mut page = Vec::new();
        let mut done = false;
        while end.is_some() || page.len() < size {
            match stream.next(tx.as_mut())? {
                Some(_) if end.as_ref().is_some_and(|e| stream.beyond(e)) => break,
                Some(text) => {
                    page.push(serde_json::from_str::<Json>(&text).map_err(|e| e.to_string())?)
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        let cursor = match (&end, done) {
            (Some(_), false) => end_text.clone().unwrap_or_default(),
            _ => stream.cursor(),
        };
        Ok(json!({"page": page, "isDone": done, "continueCursor": cursor}))
    }
}
