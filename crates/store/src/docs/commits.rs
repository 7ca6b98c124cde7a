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
    /// touched.
    pub tables_only: bool,
    /// Anything may have changed (a push, a reset, lost notices): every read is touched.
    pub everything: bool,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && !self.everything
    }

    /// A write that touches every read (a push, a reset, lost notices).
    pub fn everything() -> WriteSet {
        WriteSet {
            everything: true,
            ..Default::default()
        }
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
        self.everything |= other.everything;
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
        if self.everything || w.everything {
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
    /// Made by the first subscriber: a deployment only written to keeps just its clock.
    sender: Option<broadcast::Sender<Commit>>,
    /// The latest timestamp announced: every commit up to it is committed.
    last: u64,
    /// The latest timestamp handed out, perhaps to a commit not done yet.
    issued: u64,
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
            sender: None,
            last: 0,
            issued: 0,
        });
        f(ch)
    }

    /// A timestamp for a commit about to happen: after every earlier one of the deployment (the
    /// caller holds its write lock, so timestamps follow commit order).
    pub fn next_ts(&self, id: i64) -> u64 {
        self.with(id, |ch| {
            ch.issued = (ch.issued.max(ch.last) + 1).max(now_ns());
            ch.issued
        })
    }

    /// The latest commit timestamp of the deployment announced here (0 before any): every
    /// commit up to it is committed, so a read that starts now sees them all.
    pub fn last_ts(&self, id: i64) -> u64 {
        self.with(id, |ch| ch.last)
    }

    /// Announces a commit to the deployment's subscribers (nothing is kept for a deployment
    /// this server has neither written nor subscribed to: another server's notices of it).
    pub fn publish(&self, id: i64, commit: Commit) {
        let mut map = match self.deployments.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(ch) = map.get_mut(&id) {
            ch.last = ch.last.max(commit.ts);
            if let Some(sender) = &ch.sender {
                let _ = sender.send(commit);
            }
        }
    }

    /// Hears every commit of the deployment from now on.
    pub fn subscribe(&self, id: i64) -> broadcast::Receiver<Commit> {
        self.with(id, |ch| {
            ch.sender
                .get_or_insert_with(|| broadcast::channel(BACKLOG).0)
                .subscribe()
        })
    }

    /// Announces to every deployment's subscribers that anything may have changed (commit
    /// notices were lost): each runs all its queries again.
    pub fn publish_everywhere(&self) {
        let ids: Vec<i64> = match self.deployments.lock() {
            Ok(m) => m.keys().copied().collect(),
            Err(_) => return,
        };
        for id in ids {
            self.publish(
                id,
                Commit {
                    ts: self.last_ts(id),
                    writes: Arc::new(WriteSet::everything()),
                },
            );
        }
    }

    /// Forgets a deleted deployment: its subscribers hear the channel close.
    pub fn forget(&self, id: i64) {
        if let Ok(mut map) = self.deployments.lock() {
            map.remove(&id);
        }
    }
}
