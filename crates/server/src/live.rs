//! What this server keeps for live queries across sessions: how many sync sockets are open (in
//! all, and per deployment); and what a live query's run gave ([`RunResult`]), as each
//! deployment's [`crate::fanout::Fanout`] shares it among its sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sync sockets one server keeps open at most.
pub const MAX_CONNECTIONS: usize = 50_000;
/// Sync sockets one deployment may hold open on one server.
pub const MAX_PER_DEPLOYMENT: usize = 10_000;

#[derive(Default)]
pub struct Live {
    open: Mutex<Open>,
}

/// What a live query's run gave: its value and log lines, or its failure; and what it read.
pub struct RunResult {
    pub answer: Result<(serde_json::Value, Vec<String>), Failure>,
    pub reads: Option<berth_store::docs::commits::ReadSet>,
    /// A hash of the answer (log lines aside), to tell whether it changed.
    pub hash: u64,
    /// The answer's fields in a transition's modification (`"type":…`, without the query's id
    /// and journal) as JSON text, written once for every session that sends it.
    fields: String,
}

impl RunResult {
    pub fn new(
        answer: Result<(serde_json::Value, Vec<String>), Failure>,
        reads: Option<berth_store::docs::commits::ReadSet>,
    ) -> RunResult {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let fields = match &answer {
            Ok((v, logs)) => {
                let value = v.to_string();
                (0u8, &value).hash(&mut h);
                format!(
                    r#""type":"QueryUpdated","value":{value},"logLines":{}"#,
                    serde_json::json!(logs)
                )
            }
            Err(f) => {
                (1u8, &f.message, f.data.as_ref().map(|d| d.to_string())).hash(&mut h);
                let mut m = serde_json::json!({"type": "QueryFailed",
                    "errorMessage": f.message, "logLines": f.logs});
                if let Some(d) = &f.data {
                    m["errorData"] = d.clone();
                }
                let text = m.to_string();
                text[1..text.len() - 1].to_string()
            }
        };
        RunResult {
            answer,
            reads,
            hash: h.finish(),
            fields,
        }
    }

    /// The answer as a modification of query `id` in a transition (JSON text), with the
    /// query's journal.
    pub fn modification(&self, id: u64, journal: &serde_json::Value) -> String {
        format!(r#"{{"queryId":{id},"journal":{journal},{}}}"#, self.fields)
    }
}

/// A function that failed, as the socket tells it: the message, the `ConvexError` data, and the
/// log lines.
#[derive(Clone)]
pub struct Failure {
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub logs: Vec<String>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_deployment: HashMap<i64, usize>,
}

/// An open sync socket, counted until dropped.
pub struct Slot {
    live: Arc<Live>,
    deployment: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut o) = self.live.open.lock() {
            o.total = o.total.saturating_sub(1);
            if let Some(n) = o.per_deployment.get_mut(&self.deployment) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    o.per_deployment.remove(&self.deployment);
                }
            }
        }
    }
}

impl Live {
    /// Counts a new socket of `deployment`, or says which limit it would pass.
    pub fn open(self: &Arc<Self>, deployment: i64) -> Result<Slot, String> {
        let mut o = self.open.lock().map_err(|_| "poisoned".to_string())?;
        if o.total >= MAX_CONNECTIONS {
            return Err(format!(
                "this server holds {MAX_CONNECTIONS} sync connections already; retry with backoff"
            ));
        }
        let n = o.per_deployment.entry(deployment).or_default();
        if *n >= MAX_PER_DEPLOYMENT {
            return Err(format!(
                "this deployment has {MAX_PER_DEPLOYMENT} sync connections open on this server already; retry with backoff"
            ));
        }
        *n += 1;
        o.total += 1;
        Ok(Slot {
            live: self.clone(),
            deployment,
        })
    }
}
