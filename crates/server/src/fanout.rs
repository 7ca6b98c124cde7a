//! One deployment's live queries on this server, run once for all the sessions subscribed to
//! them (Convex's subscription manager). A task per deployment with subscribers hears every
//! commit of it, runs again each subscribed query whose read set the commit touched, and
//! announces the new results in one [`Batch`], which every session of the deployment turns into
//! its own `Transition`. A thousand sessions subscribed to one query cost one run per batch,
//! not a thousand, and each session only compares and sends.
//!
//! Pacing: a commit that comes while no fan-out is under way goes out at once. Under a stream
//! of commits (some came during the last fan-out), the next batch starts `MIN_GAP` or twice the
//! last fan-out's length after the start of the last, whichever is later, and takes every
//! commit that came meanwhile: fanning out then takes at most about half of the server's time,
//! leaving the rest to the writes.

use crate::{AppState, live::RunResult};
use berth_control::calls::CallTarget;
use berth_model::ErrorKind;
use berth_store::docs::commits::{Commit, WriteSet};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

/// The least time between the starts of two batches under a stream of commits.
const MIN_GAP: Duration = Duration::from_millis(20);
/// Batches a session may fall behind by before it is told it lagged (and compares every
/// query with its latest result).
const BACKLOG: usize = 64;
/// How long a batch waits for its sessions to have sent before the next may start (a fan-out
/// that takes longer counts as this long).
const SEND_WAIT: Duration = Duration::from_millis(250);
/// How often the deployment (its code version, whether it still exists) is read again.
const RECHECK: Duration = Duration::from_secs(5);

/// A subscribed query as every session runs it: path and arguments (as JSON text, with the end
/// of its page for a paginated query).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryKey {
    pub path: String,
    pub args: String,
    pub end: Option<String>,
}

/// A query some session is subscribed to: its latest result, how many subscriptions hold it,
/// and whether it must run again at the next batch (it was first run while a batch was being
/// made, which may have missed it).
struct Query {
    result: Arc<RunResult>,
    /// The batch that made `result` (see [`Batch::seq`]).
    seq: u64,
    holders: usize,
    stale: bool,
}

/// What one batch of commits changed: the new results of the queries it ran again.
pub struct Batch {
    /// Batches of a deployment are numbered in order: a session never takes a result older than
    /// one it has (a batch it had fallen behind on, heard after a newer result).
    pub seq: u64,
    /// The latest commit the batch took: every result is at or after it.
    pub ts: u64,
    /// Every query ran again (a push, a reset, lost notices).
    pub everything: bool,
    pub results: HashMap<QueryKey, Arc<RunResult>>,
    /// The deployment is gone (deleted, expired): sessions end with this message.
    pub gone: Option<String>,
    /// Sessions that have not sent their transition for it yet.
    pending: AtomicUsize,
    /// How many may still be sending when the fan-out counts as done: the slowest 1% (a client
    /// that stopped reading) do not hold the pacing of every other session.
    stragglers: usize,
    sent: Notify,
}

impl Batch {
    /// Says this session has sent (or had nothing to send for) the batch.
    pub fn done(&self) {
        let before = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            })
            .unwrap_or(0);
        if before.saturating_sub(1) <= self.stragglers {
            self.sent.notify_one();
        }
    }
}

/// One deployment's live queries on this server.
pub struct Fanout {
    queries: Mutex<HashMap<QueryKey, Query>>,
    /// First runs of queries no session holds yet, under way.
    first_runs: Mutex<HashMap<QueryKey, Arc<tokio::sync::OnceCell<Arc<RunResult>>>>>,
    batches: broadcast::Sender<Arc<Batch>>,
    /// The latest commit a batch was made for (or is being made for).
    seen: AtomicU64,
    /// The latest commit whose batch went out.
    done: AtomicU64,
    /// The number of the last batch that went out.
    seq: AtomicU64,
    /// The task has ended (the deployment is gone): new sessions make a new fan-out.
    dead: std::sync::atomic::AtomicBool,
    /// Wakes the task for queries marked stale.
    poke: Arc<Notify>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Fanout {
    fn drop(&mut self) {
        if let Ok(Some(task)) = self.task.get_mut().map(Option::take) {
            task.abort();
        }
    }
}

/// Every deployment's [`Fanout`] on this server, while some session holds it.
#[derive(Default)]
pub struct Fanouts {
    by_deployment: Mutex<HashMap<i64, Weak<Fanout>>>,
}

impl Fanouts {
    /// The deployment's fan-out, started by its first session.
    pub fn of(&self, s: &AppState, target: &CallTarget) -> Arc<Fanout> {
        let id = target.deployment.id;
        let mut map = match self.by_deployment.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(f) = map.get(&id).and_then(Weak::upgrade)
            && !f.dead.load(Ordering::Acquire)
        {
            return f;
        }
        map.retain(|_, f| f.strong_count() > 0);
        let hub = s.control.commits();
        // Subscribed before the first session reads anything: no commit after it is missed.
        let commits = hub.subscribe(id);
        let last = hub.last_ts(id);
        let f = Arc::new(Fanout {
            queries: Mutex::new(HashMap::new()),
            first_runs: Mutex::new(HashMap::new()),
            batches: broadcast::channel(BACKLOG).0,
            seen: AtomicU64::new(last),
            done: AtomicU64::new(last),
            seq: AtomicU64::new(0),
            dead: Default::default(),
            poke: Arc::new(Notify::new()),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(Arc::downgrade(&f), s.clone(), target.clone(), commits));
        if let Ok(mut t) = f.task.lock() {
            *t = Some(task.abort_handle());
        }
        map.insert(id, Arc::downgrade(&f));
        f
    }
}

impl Fanout {
    /// Hears every batch from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.batches.subscribe()
    }

    /// The latest commit whose batch went out.
    pub fn done_ts(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// The latest result of a subscribed query, and the batch that made it.
    pub fn latest(&self, key: &QueryKey) -> Option<(Arc<RunResult>, u64)> {
        let queries = self.queries.lock().ok()?;
        queries.get(key).map(|q| (q.result.clone(), q.seq))
    }

    /// Subscribes to `key`: its latest result when some session already holds it, else the
    /// result of `run` (started after commit `after`, which its snapshot includes), kept for
    /// the next sessions. A query first run while a batch was being made is run again by the
    /// next batch: that batch's check of read sets may have missed it.
    /// Sessions that subscribe to the same new query at once share its first run.
    pub async fn hold<F>(&self, key: &QueryKey, after: u64, run: F) -> (Arc<RunResult>, u64)
    where
        F: std::future::Future<Output = RunResult>,
    {
        if let Some(held) = self.held(key) {
            return held;
        }
        let Some(first) = self.first_runs.lock().ok().map(|mut runs| {
            runs.entry(key.clone())
                .or_insert_with(|| Arc::new(tokio::sync::OnceCell::new()))
                .clone()
        }) else {
            return self.keep(key, Arc::new(run.await), after);
        };
        let result = first
            .get_or_init(|| async { Arc::new(run.await) })
            .await
            .clone();
        let held = self.keep(key, result, after);
        if let Ok(mut runs) = self.first_runs.lock()
            && runs.get(key).is_some_and(|r| Arc::ptr_eq(r, &first))
        {
            runs.remove(key);
        }
        held
    }

    /// The result of `key` when some session holds it already, counting one more holder.
    fn held(&self, key: &QueryKey) -> Option<(Arc<RunResult>, u64)> {
        let mut queries = self.queries.lock().ok()?;
        let q = queries.get_mut(key)?;
        q.holders += 1;
        Some((q.result.clone(), q.seq))
    }

    /// Holds `key` with `result` (run after commit `after`), unless some session already holds
    /// it; then its latest result stands. Answers the result held, and its batch number.
    pub fn keep(
        &self,
        key: &QueryKey,
        result: Arc<RunResult>,
        after: u64,
    ) -> (Arc<RunResult>, u64) {
        let seq = self.seq.load(Ordering::Acquire);
        let Ok(mut queries) = self.queries.lock() else {
            return (result, seq);
        };
        // Looked up under the same lock as the insert: two sessions keeping the same new query
        // at once both count as its holders.
        if let Some(q) = queries.get_mut(key) {
            q.holders += 1;
            return (q.result.clone(), q.seq);
        }
        // `seen` is raised under this lock when a batch checks read sets: a commit it took
        // after the run began may have been missed.
        let stale = self.seen.load(Ordering::Acquire) > after;
        queries.insert(
            key.clone(),
            Query {
                result: result.clone(),
                seq,
                holders: 1,
                stale,
            },
        );
        if stale {
            self.poke.notify_one();
        }
        (result, seq)
    }

    /// Lets go of `key` (forgotten once no session holds it).
    pub fn release(&self, key: &QueryKey) {
        if let Ok(mut queries) = self.queries.lock()
            && let Some(q) = queries.get_mut(key)
        {
            q.holders = q.holders.saturating_sub(1);
            if q.holders == 0 {
                queries.remove(key);
            }
        }
    }

    /// The queries a batch of commits (up to `ts`) must run again.
    fn touched(&self, writes: &WriteSet, everything: bool, ts: u64) -> Vec<QueryKey> {
        let Ok(mut queries) = self.queries.lock() else {
            return Vec::new();
        };
        self.seen.fetch_max(ts, Ordering::AcqRel);
        queries
            .iter_mut()
            .filter_map(|(key, q)| {
                let stale = std::mem::take(&mut q.stale);
                // A query that failed may have failed before reading what would change its
                // answer (a limit, a time-out): it runs again at every batch.
                let touched = everything
                    || stale
                    || q.result.answer.is_err()
                    || q.result.reads.as_ref().is_none_or(|r| r.touched_by(writes));
                touched.then(|| key.clone())
            })
            .collect()
    }

    /// Stores the new results of batch `seq` (of queries still held).
    fn store(&self, results: &HashMap<QueryKey, Arc<RunResult>>, seq: u64) {
        if let Ok(mut queries) = self.queries.lock() {
            for (key, result) in results {
                if let Some(q) = queries.get_mut(key) {
                    q.result = result.clone();
                    q.seq = seq;
                }
            }
        }
    }

    /// Sends a batch to every session; returns it, to wait until they have sent.
    fn announce(
        &self,
        ts: u64,
        everything: bool,
        results: HashMap<QueryKey, Arc<RunResult>>,
        gone: Option<String>,
    ) -> Arc<Batch> {
        let sessions = self.batches.receiver_count();
        let batch = Arc::new(Batch {
            seq: self.seq.load(Ordering::Acquire) + 1,
            ts,
            everything,
            results,
            gone,
            pending: AtomicUsize::new(sessions),
            stragglers: sessions / 100,
            sent: Notify::new(),
        });
        if sessions <= batch.stragglers {
            batch.sent.notify_one();
        }
        if batch.gone.is_some() {
            self.dead.store(true, Ordering::Release);
        }
        self.done.fetch_max(ts, Ordering::AcqRel);
        self.seq.store(batch.seq, Ordering::Release);
        let _ = self.batches.send(batch.clone());
        batch
    }

    /// The number the next batch will have.
    fn next_seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire) + 1
    }
}

/// The deployment's task: hears commits, runs the queries they touched, announces each batch.
async fn run(
    fanout: Weak<Fanout>,
    s: AppState,
    mut target: CallTarget,
    mut commits: broadcast::Receiver<Commit>,
) {
    let mut resolved = Instant::now();
    // The start and length of the last fan-out, and whether commits came during it.
    let (mut start, mut last, mut streaming) = (Instant::now(), Duration::ZERO, false);
    loop {
        let Some(poke) = fanout.upgrade().map(|f| f.poke.clone().notified_owned()) else {
            return;
        };
        let mut writes = WriteSet::default();
        let mut ts = 0;
        let mut everything = false;
        let heard = tokio::select! {
            heard = commits.recv() => Some(heard),
            _ = poke => None,
        };
        match heard {
            Some(Ok(c)) => {
                ts = c.ts;
                writes.merge(&c.writes);
            }
            // Commits were missed: everything runs again, as of the latest.
            Some(Err(broadcast::error::RecvError::Lagged(_))) => {
                everything = true;
                ts = s.control.commits().last_ts(target.deployment.id);
            }
            Some(Err(broadcast::error::RecvError::Closed)) => {
                if let Some(f) = fanout.upgrade() {
                    let ts = f.done_ts();
                    f.announce(
                        ts,
                        false,
                        HashMap::new(),
                        Some("the deployment was deleted".into()),
                    );
                }
                return;
            }
            None => {}
        }
        if streaming {
            tokio::time::sleep_until((start + MIN_GAP.max(last * 2)).into()).await;
        }
        // Every commit that came meanwhile goes in this batch.
        loop {
            match commits.try_recv() {
                Ok(c) => {
                    ts = ts.max(c.ts);
                    writes.merge(&c.writes);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    everything = true;
                    ts = ts.max(s.control.commits().last_ts(target.deployment.id));
                }
                Err(_) => break,
            }
        }
        start = Instant::now();
        let Some(f) = fanout.upgrade() else {
            return;
        };
        let ts = ts.max(f.seen.load(Ordering::Acquire)).max(f.done_ts());
        let everything = everything || writes.everything;
        // A push changes the code version: the deployment is read again.
        if everything || resolved.elapsed() > RECHECK {
            match s.control.call_target(None, &target.deployment.name).await {
                Ok(t) => {
                    target = t;
                    resolved = Instant::now();
                }
                // Deleted or expired: its sessions end (the client's reconnection then hears
                // why). Another error (the database, briefly) keeps the deployment as it was.
                Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => {
                    f.announce(ts, false, HashMap::new(), Some(e.message));
                    return;
                }
                Err(e) => tracing::warn!(error = %e.message, "live queries: read the deployment"),
            }
        }
        let keys = f.touched(&writes, everything, ts);
        let results = run_all(&s, &target, keys).await;
        f.store(&results, f.next_seq());
        let batch = f.announce(ts, everything, results, None);
        drop(f);
        let _ = tokio::time::timeout(SEND_WAIT, batch.sent.notified()).await;
        last = start.elapsed();
        // Commits that came while this batch went out: a stream.
        streaming = !commits.is_empty();
    }
}

/// Runs the queries of a batch, a few at a time.
async fn run_all(
    s: &AppState,
    target: &CallTarget,
    keys: Vec<QueryKey>,
) -> HashMap<QueryKey, Arc<RunResult>> {
    let mut results = HashMap::with_capacity(keys.len());
    let mut running = tokio::task::JoinSet::new();
    let width = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    for key in keys {
        if running.len() >= width
            && let Some(Ok((k, r))) = running.join_next().await
        {
            results.insert(k, r);
        }
        let (s, target) = (s.clone(), target.clone());
        running.spawn(async move {
            let r = crate::routes::sync::run_query(&s, &target, &key).await;
            (key, Arc::new(r))
        });
    }
    while let Some(done) = running.join_next().await {
        if let Ok((k, r)) = done {
            results.insert(k, r);
        }
    }
    results
}
