//! What each commit of a deployment wrote, for live queries: every write transaction that
//! commits gets a timestamp (growing per deployment, on the scale of nanoseconds since the epoch)
//! and announces what it wrote (tables, document ids, index keys) to the deployment's
//! subscribers on this server. A subscribed query compares its read set with it
//! ([`ReadSet::touched_by`]) to know whether it must run again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// What one commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    pub tables: BTreeSet<String>,
    /// Documents inserted, changed or deleted.
    pub ids: HashSet<String>,
    /// Index entries added or removed: (`table.index`, key).
    pub keys: Vec<(String, Vec<u8>)>,
    /// Only the tables are known (a commit announced by another server): any read of them is
    /// touched. The table `*` stands for every table.
    pub tables_only: bool,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Records a write of document `id` of `table` and the index entries it added or removed.
    pub fn wrote(
        &mut self,
        table: &str,
        id: &str,
        entries: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) {
        if !self.tables.contains(table) {
            self.tables.insert(table.to_string());
        }
        self.ids.insert(id.to_string());
        self.keys.extend(entries);
    }

    pub fn merge(&mut self, other: &WriteSet) {
        self.tables.extend(other.tables.iter().cloned());
        self.ids.extend(other.ids.iter().cloned());
        self.keys.extend(other.keys.iter().cloned());
        self.tables_only |= other.tables_only;
    }
}

/// What one query read: whole tables (scans), single documents, and ranges of stored indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet {
    pub tables: BTreeSet<String>,
    pub ids: HashSet<String>,
    /// (`table.index`, lower, upper): keys in `[lower, upper)`.
    pub ranges: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// It read something not tracked (the list of tables): every write touches it.
    pub everything: bool,
}

impl ReadSet {
    /// Whether a commit that wrote `w` can change what this read saw.
    pub fn touched_by(&self, w: &WriteSet) -> bool {
        if self.everything || (w.tables_only && w.tables.contains("*")) {
            return !w.is_empty();
        }
        if self.tables.iter().any(|t| w.tables.contains(t)) {
            return true;
        }
        if w.tables_only {
            return !self.ids.is_empty()
                || self
                    .ranges
                    .iter()
                    .any(|(index, _, _)| w.tables.contains(table_of(index)));
        }
        if self.ids.iter().any(|id| w.ids.contains(id)) {
            return true;
        }
        self.ranges.iter().any(|(index, lo, hi)| {
            w.tables.contains(table_of(index))
                && w.keys.iter().any(|(i, k)| {
                    i == index && k.as_slice() >= lo.as_slice() && k.as_slice() < hi.as_slice()
                })
        })
    }
}

fn table_of(index: &str) -> &str {
    index.rsplit_once('.').map_or(index, |(t, _)| t)
}

/// A commit, as its deployment's subscribers hear it.
#[derive(Debug, Clone)]
pub struct Commit {
    pub ts: u64,
    pub writes: Arc<WriteSet>,
}

/// Commits announced per deployment on this server, and each deployment's latest timestamp.
#[derive(Default)]
pub struct CommitHub {
    deployments: Mutex<HashMap<i64, Channel>>,
}

struct Channel {
    sender: broadcast::Sender<Commit>,
    last: u64,
}

/// Commits a subscriber may fall behind by before it is told it lagged (and must re-read all).
const BACKLOG: usize = 1024;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl CommitHub {
    fn with<T>(&self, id: i64, f: impl FnOnce(&mut Channel) -> T) -> T {
        let mut map = match self.deployments.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let ch = map.entry(id).or_insert_with(|| Channel {
            sender: broadcast::channel(BACKLOG).0,
            last: 0,
        });
        f(ch)
    }

    /// A timestamp for a commit about to happen: after every earlier one of the deployment (the
    /// caller holds its write lock, so timestamps follow commit order).
    pub fn next_ts(&self, id: i64) -> u64 {
        self.with(id, |ch| {
            ch.last = (ch.last + 1).max(now_ns());
            ch.last
        })
    }

    /// Notes a timestamp given elsewhere (by the database, for a commit of another server).
    pub fn observe(&self, id: i64, ts: u64) {
        self.with(id, |ch| ch.last = ch.last.max(ts));
    }

    /// The latest commit timestamp of the deployment known here (0 before any).
    pub fn last_ts(&self, id: i64) -> u64 {
        self.with(id, |ch| ch.last)
    }

    /// Announces a commit to the deployment's subscribers.
    pub fn publish(&self, id: i64, commit: Commit) {
        self.with(id, |ch| {
            ch.last = ch.last.max(commit.ts);
            let _ = ch.sender.send(commit);
        });
    }

    /// Hears every commit of the deployment from now on.
    pub fn subscribe(&self, id: i64) -> broadcast::Receiver<Commit> {
        self.with(id, |ch| ch.sender.subscribe())
    }

    /// Forgets a deleted deployment: its subscribers hear the channel close.
    pub fn forget(&self, id: i64) {
        if let Ok(mut map) = self.deployments.lock() {
            map.remove(&id);
        }
    }
}
