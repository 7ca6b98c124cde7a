//! The worker threads that run JavaScript. QuickJS runtimes are not `Send`, so each worker owns
//! its isolates: a small cache of one isolate per deployment it has served, keyed by the
//! deployment's code version so that a push (on any server) is picked up on the next call.
//! Any worker takes any job, so one runaway function occupies one worker, not the deployment's
//! neighbours.

use crate::{
    UdfKind,
    compile::{self, CompiledModule},
    isolate::{FunctionError, FunctionInfo, Isolate, Limits, Outcome},
    syscalls::LogLine,
};
use berth_store::docs::DocStore;
use serde_json::Value as Json;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, mpsc},
};
use tokio::sync::oneshot;

const CACHE_PER_WORKER: usize = 256;

/// A function call for the pool.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// As the caller wrote it (`messages:list`).
    pub path: String,
    /// `None` for `/api/function` (any kind).
    pub kind: Option<UdfKind>,
    /// Whether internal functions may be called (an editing credential).
    pub internal_ok: bool,
    /// The arguments object, encoded.
    pub args: Json,
    pub request_id: String,
    /// A live query (a subscription, a watch): what it reads is recorded in the result.
    pub live: Option<LiveQuery>,
    /// A mutation a client may send again (over a socket, after a reconnect): it runs at most
    /// once, and a repeat gets the first run's value.
    pub once: Option<Once>,
}

/// A client's request, as it names it again when it resends it: its session and request id.
#[derive(Debug, Clone)]
pub struct Once {
    pub session: String,
    pub request: u64,
}

/// What a live query asks beyond a call.
#[derive(Debug, Clone, Default)]
pub struct LiveQuery {
    /// Where the page of the query's `paginate` ends (inclusive), when the caller keeps a live
    /// page's bounds (Convex's query journal); an `endCursor` in the arguments wins.
    pub page_end: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CallResult {
    pub outcome: Outcome,
    pub logs: Vec<LogLine>,
    /// The kind of the function that ran, when one was found.
    pub kind: Option<UdfKind>,
    /// The call was stopped by a limit (time or memory).
    pub hit_limit: bool,
    /// What a query read: a live query runs again when a commit touches it.
    pub reads: Option<berth_store::docs::commits::ReadSet>,
    /// The commit's timestamp, for a mutation that wrote.
    pub commit_ts: Option<u64>,
}

/// Compiled modules, the functions they export and what their schema asks of the store.
pub type Analyzed = (
    Vec<CompiledModule>,
    Vec<FunctionInfo>,
    berth_store::docs::SchemaDef,
);

/// Compiled modules and the functions they export, or an error naming file and line.
pub type PushResult = Result<Analyzed, String>;

/// What a job holds of its deployment's share of the workers, from admission until a worker
/// has finished with it: a caller that goes away does not give the share back early.
struct Held {
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// The one turn of a deployment cooling off after hitting a limit.
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

enum Job {
    Call {
        deployment: String,
        version: i64,
        docs: Arc<dyn DocStore>,
        request: CallRequest,
        reply: oneshot::Sender<CallResult>,
        /// Where the worker records a limit this call hits, whether or not its caller waits.
        cooling: Arc<Cooling>,
        _held: Held,
    },
    /// The functions of a deployment's current code, from its isolate (code pushed before
    /// berth stored them with the code).
    Describe {
        deployment: String,
        version: i64,
        docs: Arc<dyn DocStore>,
        reply: oneshot::Sender<Result<Vec<FunctionInfo>, LoadFailure>>,
        _held: Held,
    },
    Analyze {
        modules: Vec<(String, String)>,
        reply: oneshot::Sender<Result<Analyzed, LoadFailure>>,
        _held: Held,
    },
}

/// Why code could not be loaded, and whether a limit stopped it (which cools the deployment off).
struct LoadFailure {
    message: String,
    hit_limit: bool,
}

/// A deployment's share of the workers: permits, and how many calls wait for one.
struct Share {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

/// How many calls of one deployment may wait for a worker; past that, calls are refused (503)
/// at once instead of queueing without end.
pub const MAX_WAITING: usize = 512;

/// Counts a waiting call until dropped.
struct Waiting(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

thread_local! {
    /// Whether this worker thread was demoted by a long call (see [`demote_this_thread`]).
    static DEMOTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Lowers the calling worker thread's scheduling priority to the lowest (nice 19; Linux keeps
/// nice values per thread). A call that has run past [`crate::isolate::DEMOTE_AFTER`] goes on
/// running, but the kernel serves every other thread first, so short calls of other
/// deployments keep their latency while a neighbour spins. Raising a priority back needs
/// privileges, so the demoted thread retires after its call and a fresh one takes its place.
pub(crate) fn demote_this_thread() {
    if DEMOTED.get() {
        return;
    }
    DEMOTED.set(true);
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
    }
}

/// The slow lane: calls that have run past [`crate::isolate::DEMOTE_AFTER`] take turns on a few
/// slots (half the cores, at least one), so runaway code can occupy at most that much of the
/// machine however many runaway calls there are, and quick calls keep the rest. A call waiting
/// for a slot sleeps; its time limit keeps running.
struct SlowLane {
    taken: Mutex<usize>,
    freed: std::sync::Condvar,
    slots: usize,
}

static SLOW_LANE: std::sync::LazyLock<SlowLane> = std::sync::LazyLock::new(|| SlowLane {
    taken: Mutex::new(0),
    freed: std::sync::Condvar::new(),
    slots: (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1),
});

thread_local! {
    /// Whether the call running on this thread holds a slow-lane slot.
    static IN_SLOW_LANE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Waits for a slow-lane slot for the call on this thread; `false` if `deadline` passed first.
pub(crate) fn enter_slow_lane(deadline: Option<std::time::Instant>) -> bool {
    if IN_SLOW_LANE.get() {
        return true;
    }
    let lane = &*SLOW_LANE;
    let Ok(mut taken) = lane.taken.lock() else {
        return true;
    };
    while *taken >= lane.slots {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return false;
        }
        taken = match lane
            .freed
            .wait_timeout(taken, std::time::Duration::from_millis(5))
        {
            Ok((t, _)) => t,
            Err(_) => return true,
        };
    }
    *taken += 1;
    IN_SLOW_LANE.set(true);
    true
}

/// Gives back this thread's slow-lane slot, if it holds one (at the end of every call).
pub(crate) fn leave_slow_lane() {
    if !IN_SLOW_LANE.get() {
        return;
    }
    IN_SLOW_LANE.set(false);
    if let Ok(mut taken) = SLOW_LANE.taken.lock() {
        *taken = taken.saturating_sub(1);
        SLOW_LANE.freed.notify_one();
    }
}

/// CPU time the calling thread has used (on Linux; elsewhere the time since an arbitrary start,
/// which makes demotion follow the wall clock).
pub(crate) fn thread_cpu_time() -> std::time::Duration {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        std::time::Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        static START: std::sync::LazyLock<std::time::Instant> =
            std::sync::LazyLock::new(std::time::Instant::now);
        START.elapsed()
    }
}

fn spawn_worker(
    i: usize,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    limits: Limits,
    handle: tokio::runtime::Handle,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("berth-js-{i}"))
        .stack_size(16 << 20)
        .spawn(move || worker(i, receiver, limits, handle))
        .map(|_| ())
}

pub struct Pool {
    sender: Mutex<mpsc::Sender<Job>>,
    /// Per deployment, how many workers its calls may hold at once: half of them, so a
    /// deployment running away (loops, slow actions) leaves the other half to its neighbours.
    per_deployment: usize,
    shares: Mutex<HashMap<String, Share>>,
    /// Deployments cooling off after a call hit a limit.
    cooling: Arc<Cooling>,
}

/// Deployments cooling off after a call hit a limit: until when, and the one permit their calls
/// take turns on meanwhile.
type Cooling = Mutex<HashMap<String, (std::time::Instant, Arc<tokio::sync::Semaphore>)>>;

/// Makes `deployment` run one call at a time for [`COOL_OFF`].
fn cool_off(cooling: &Cooling, deployment: &str) {
    if let Ok(mut c) = cooling.lock() {
        let until = std::time::Instant::now() + COOL_OFF;
        c.entry(deployment.to_string())
            .and_modify(|(u, _)| *u = until)
            .or_insert_with(|| (until, Arc::new(tokio::sync::Semaphore::new(1))));
    }
}

/// How long a deployment runs one call at a time after one of its calls hit a limit.
pub const COOL_OFF: std::time::Duration = std::time::Duration::from_secs(10);

impl Pool {
    /// Starts `workers` threads. `handle` runs the storage futures the workers block on.
    pub fn new(
        workers: usize,
        limits: Limits,
        handle: tokio::runtime::Handle,
    ) -> std::io::Result<Pool> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers.max(1) {
            spawn_worker(i, receiver.clone(), limits, handle.clone())?;
        }
        Ok(Pool {
            sender: Mutex::new(sender),
            per_deployment: (workers / 2).max(1),
            shares: Mutex::new(HashMap::new()),
            cooling: Default::default(),
        })
    }

    fn send(&self, job: Job) -> Result<(), String> {
        self.sender
            .lock()
            .map_err(|_| "the function runtime is unavailable".to_string())?
            .send(job)
            .map_err(|_| "the function runtime has stopped".to_string())
    }

    /// Waits for a place of `deployment` among the workers (its share, and its one turn while
    /// it cools off). Refuses at once when too many of its calls wait already.
    async fn admit(&self, deployment: &str) -> Result<Held, String> {
        let unavailable = || "the function runtime is unavailable".to_string();
        let (semaphore, waiting) = {
            let mut shares = self.shares.lock().map_err(|_| unavailable())?;
            if shares.len() > 10_000 {
                shares.retain(|_, s| Arc::strong_count(&s.permits) > 1);
            }
            let share = shares
                .entry(deployment.to_string())
                .or_insert_with(|| Share {
                    permits: Arc::new(tokio::sync::Semaphore::new(self.per_deployment)),
                    waiting: Default::default(),
                });
            (share.permits.clone(), share.waiting.clone())
        };
        let before = waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _waiting = Waiting(waiting);
        if before >= MAX_WAITING {
            return Err(format!(
                "deployment {deployment} is overloaded: {MAX_WAITING} of its calls are already waiting for a worker; retry with backoff"
            ));
        }
        let permit = semaphore
            .acquire_owned()
            .await
            .map_err(|_| "the function runtime has stopped".to_string())?;
        // A deployment whose calls hit limits runs one call at a time for a while, so runaway
        // code (memory bombs, loops) costs its neighbours as little as possible.
        let cooling = self.cooling.lock().ok().and_then(|mut c| {
            let now = std::time::Instant::now();
            c.retain(|_, (until, _)| *until > now);
            c.get(deployment).map(|(_, s)| s.clone())
        });
        let turn = match cooling {
            Some(s) => Some(
                s.acquire_owned()
                    .await
                    .map_err(|_| "the function runtime has stopped".to_string())?,
            ),
            None => None,
        };
        Ok(Held {
            _permit: permit,
            _turn: turn,
        })
    }

    fn cool_off(&self, deployment: &str) {
        cool_off(&self.cooling, deployment);
    }

    /// Calls a function of `deployment` whose code is at `version`.
    pub async fn call(
        &self,
        deployment: &str,
        version: i64,
        docs: Arc<dyn DocStore>,
        request: CallRequest,
    ) -> Result<CallResult, String> {
        let held = self.admit(deployment).await?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Call {
            deployment: deployment.to_string(),
            version,
            docs,
            request,
            reply,
            cooling: self.cooling.clone(),
            _held: held,
        })?;
        answer
            .await
            .map_err(|_| "the function runtime failed while running this call".to_string())
    }

    /// The functions of `deployment`'s code at `version`, from its isolate, loaded like a call
    /// (for code pushed before berth stored its functions with it).
    pub async fn describe(
        &self,
        deployment: &str,
        version: i64,
        docs: Arc<dyn DocStore>,
    ) -> Result<Vec<FunctionInfo>, String> {
        let held = self.admit(deployment).await?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Describe {
            deployment: deployment.to_string(),
            version,
            docs,
            reply,
            _held: held,
        })?;
        self.loaded(deployment, answer, "loading the code").await
    }

    /// The answer of a job that loads code; a load stopped by a limit cools the deployment off.
    async fn loaded<T>(
        &self,
        deployment: &str,
        answer: oneshot::Receiver<Result<T, LoadFailure>>,
        what: &str,
    ) -> Result<T, String> {
        let result = answer
            .await
            .map_err(|_| format!("the function runtime failed while {what}"))?;
        result.map_err(|f| {
            if f.hit_limit {
                self.cool_off(deployment);
            }
            f.message
        })
    }

    /// Compiles and loads uploaded modules (path, source) in a fresh isolate, without touching
    /// the deployment's code; the work is charged to `deployment` like one of its calls.
    pub async fn analyze(&self, deployment: &str, modules: Vec<(String, String)>) -> PushResult {
        let held = self.admit(deployment).await?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Analyze {
            modules,
            reply,
            _held: held,
        })?;
        self.loaded(deployment, answer, "loading the modules").await
    }
}

/// Compiles uploaded modules; every error is reported, one per line.
pub fn compile_all(modules: &[(String, String)]) -> Result<Vec<CompiledModule>, String> {
    let mut names: HashSet<String> = HashSet::new();
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (path, _) in modules {
        let name = compile::module_name(path);
        if let Some(other) = seen.insert(name.clone(), path) {
            return Err(format!(
                "convex/{other} and convex/{path} are the same module ({}); keep one of them",
                name.trim_end_matches(".js")
            ));
        }
        names.insert(name);
    }
    let known = |n: &str| names.contains(n);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (path, source) in modules {
        match compile::compile(path, source, &known) {
            Ok(m) => out.push(m),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

fn worker(
    index: usize,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    limits: Limits,
    handle: tokio::runtime::Handle,
) {
    // Storage drops connections with `tokio::spawn`; let it find the runtime from this thread.
    let _runtime = handle.enter();
    let mut cache: HashMap<String, (i64, Isolate)> = HashMap::new();
    let mut order: VecDeque<String> = VecDeque::new();
    loop {
        // A thread demoted by its last job (a long call or a slow load, whichever way that job
        // ended) hands its place to a fresh one at normal priority.
        if DEMOTED.get() && spawn_worker(index, receiver.clone(), limits, handle.clone()).is_ok() {
            return;
        }
        let job = match receiver.lock() {
            Ok(r) => match r.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
            Err(_) => return,
        };
        match job {
            Job::Analyze {
                modules,
                reply,
                _held,
            } => {
                let result = compile_all(&modules)
                    .map_err(|message| LoadFailure {
                        message,
                        hit_limit: false,
                    })
                    .and_then(|compiled| {
                        let isolate =
                            Isolate::new(&compiled, limits, handle.clone()).map_err(|e| {
                                LoadFailure {
                                    hit_limit: e.hit_limit(),
                                    message: e.0,
                                }
                            })?;
                        let mut functions: Vec<FunctionInfo> =
                            isolate.functions.values().cloned().collect();
                        functions.sort_by(|a, b| a.path.cmp(&b.path));
                        Ok((compiled, functions, isolate.schema()))
                    });
                let _ = reply.send(result);
            }
            Job::Describe {
                deployment,
                version,
                docs,
                reply,
                _held,
            } => {
                let result = cached(
                    &mut cache,
                    &mut order,
                    &deployment,
                    version,
                    &docs,
                    limits,
                    &handle,
                )
                .map(|iso| {
                    let mut functions: Vec<FunctionInfo> =
                        iso.functions.values().cloned().collect();
                    functions.sort_by(|a, b| a.path.cmp(&b.path));
                    functions
                });
                let _ = reply.send(result);
            }
            Job::Call {
                deployment,
                version,
                docs,
                request,
                reply,
                cooling,
                _held,
            } => {
                let iso = match cached(
                    &mut cache,
                    &mut order,
                    &deployment,
                    version,
                    &docs,
                    limits,
                    &handle,
                ) {
                    Ok(iso) => iso,
                    Err(failure) => {
                        if failure.hit_limit {
                            cool_off(&cooling, &deployment);
                        }
                        let _ = reply.send(CallResult {
                            outcome: Outcome::Error(FunctionError::refused(failure.message)),
                            logs: Vec::new(),
                            kind: None,
                            hit_limit: failure.hit_limit,
                            reads: None,
                            commit_ts: None,
                        });
                        continue;
                    }
                };
                let env = match docs.env() {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::error!(error = %e, "read environment variables");
                        let _ = reply.send(CallResult {
                            outcome: Outcome::Error(FunctionError::refused(
                                "the deployment's environment variables could not be read; try again",
                            )),
                            logs: Vec::new(),
                            kind: None,
                            hit_limit: false,
                            reads: None,
                            commit_ts: None,
                        });
                        continue;
                    }
                };
                iso.set_live(request.live.clone(), request.once.clone());
                let (outcome, logs, kind) = iso.invoke(
                    docs,
                    env,
                    &request.path,
                    request.kind,
                    request.internal_ok,
                    &request.args,
                    &request.request_id,
                );
                let hit_limit = iso.poisoned;
                let effects = iso.take_effects();
                if hit_limit {
                    cache.remove(&deployment);
                    cool_off(&cooling, &deployment);
                }
                let _ = reply.send(CallResult {
                    outcome,
                    logs,
                    kind,
                    hit_limit,
                    reads: effects.reads,
                    commit_ts: effects.commit_ts,
                });
            }
        }
    }
}

/// The worker's isolate of `deployment` at `version`, loading it (and caching it, evicting the
/// least recently loaded beyond [`CACHE_PER_WORKER`]) when it has none or an older one.
fn cached<'a>(
    cache: &'a mut HashMap<String, (i64, Isolate)>,
    order: &mut VecDeque<String>,
    deployment: &str,
    version: i64,
    docs: &Arc<dyn DocStore>,
    limits: Limits,
    handle: &tokio::runtime::Handle,
) -> Result<&'a mut Isolate, LoadFailure> {
    let stale = cache
        .get(deployment)
        .is_none_or(|(v, iso)| *v != version || iso.poisoned);
    if stale {
        cache.remove(deployment);
        let iso = load(docs, limits, handle)?;
        cache.insert(deployment.to_string(), (version, iso));
        order.retain(|d| d != deployment);
        order.push_back(deployment.to_string());
        while order.len() > CACHE_PER_WORKER {
            if let Some(old) = order.pop_front() {
                cache.remove(&old);
            }
        }
    }
    cache
        .get_mut(deployment)
        .map(|(_, iso)| iso)
        .ok_or_else(|| LoadFailure {
            message: "the deployment's code could not be loaded; try again".into(),
            hit_limit: false,
        })
}

fn load(
    docs: &Arc<dyn DocStore>,
    limits: Limits,
    handle: &tokio::runtime::Handle,
) -> Result<Isolate, LoadFailure> {
    let stored = docs.modules().map_err(|e| {
        tracing::error!(error = %e, "read deployment modules");
        LoadFailure {
            message: match e {
                berth_store::StoreError::Busy(m) => m,
                _ => "the deployment's code could not be read; try again".to_string(),
            },
            hit_limit: false,
        }
    })?;
    let compiled: Vec<CompiledModule> = stored
        .into_iter()
        .map(|m| CompiledModule {
            name: compile::module_name(&m.path),
            path: m.path,
            source: m.source,
            js: m.js,
            hash: m.hash,
        })
        .collect();
    Isolate::new(&compiled, limits, handle.clone()).map_err(|e| LoadFailure {
        hit_limit: e.hit_limit(),
        message: format!("the deployment's code failed to load: {e}"),
    })
}
