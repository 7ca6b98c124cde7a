//! What this server keeps for live queries across sessions: how many sync sockets are open (in
//! all, and per deployment), and the answers of recent socket mutations, so that a client that
//! reconnects and sends its unconfirmed mutations again does not run them twice.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Sync sockets one server keeps open at most.
pub const MAX_CONNECTIONS: usize = 50_000;
/// Sync sockets one deployment may hold open on one server.
pub const MAX_PER_DEPLOYMENT: usize = 10_000;
/// Mutation answers remembered for clients that reconnect.
const REMEMBERED: usize = 10_000;

#[derive(Default)]
pub struct Live {
    open: Mutex<Open>,
    answered: Mutex<Answered>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_deployment: HashMap<i64, usize>,
}

#[derive(Default)]
struct Answered {
    by_request: HashMap<(String, u64), serde_json::Value>,
    order: VecDeque<(String, u64)>,
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

    /// The answer already sent for this session's request, if any.
    pub fn answered(&self, session: &str, request: u64) -> Option<serde_json::Value> {
        let a = self.answered.lock().ok()?;
        a.by_request.get(&(session.to_string(), request)).cloned()
    }

    /// Remembers a mutation's answer (the oldest are forgotten first).
    pub fn remember(&self, session: &str, request: u64, answer: &serde_json::Value) {
        let Ok(mut a) = self.answered.lock() else {
            return;
        };
        let key = (session.to_string(), request);
        if a.by_request.insert(key.clone(), answer.clone()).is_none() {
            a.order.push_back(key);
        }
        while a.order.len() > REMEMBERED {
            if let Some(old) = a.order.pop_front() {
                a.by_request.remove(&old);
            }
        }
    }
}
