//! One QuickJS runtime and context holding one deployment's modules. Limits (memory, time) are
//! per runtime, so each isolate has its own. No JavaScript value outlives a `Context::with`
//! closure (nothing is kept as `Persistent`), and the context is declared before the runtime so
//! it drops first: QuickJS aborts the process when values outlive their runtime.

use crate::{
    UdfKind,
    compile::{self, CompiledModule},
    syscalls::Host,
};
use berth_value::validate;
use rquickjs::{
    Context, Ctx, Error as JsError, Exception, Function, Module, Object, Runtime,
    loader::{ImportAttributes, Loader, Resolver},
    module::Declared,
    promise::PromiseState,
};
use serde_json::Value as Json;
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    rc::Rc,
    time::{Duration, Instant},
};

/// A call that has used this much CPU time (its thread's, not the wall clock's, so a busy
/// machine does not count against it) has its worker thread demoted to the lowest scheduling
/// priority ([`crate::pool::demote_this_thread`]) and joins the slow lane
/// ([`crate::pool::enter_slow_lane`]), so it cannot slow its neighbours down.
pub const DEMOTE_AFTER: Duration = Duration::from_millis(20);

/// The largest value a function may return, encoded.
pub const MAX_RETURN_BYTES: usize = 16 << 20;

/// How deep actions may nest calls (`ctx.runAction` calling `ctx.runAction` ...).
const MAX_NESTING: usize = 8;

const VALUES_JS: &str = include_str!("js/values.js");
const SERVER_JS: &str = include_str!("js/server.js");
const PRELUDE_JS: &str = include_str!("js/prelude.js");
const WEB_JS: &str = include_str!("js/web.js");
const GENERATED_SERVER: &str = "export { queryGeneric as query, mutationGeneric as mutation, actionGeneric as action, \
internalQueryGeneric as internalQuery, internalMutationGeneric as internalMutation, internalActionGeneric as internalAction, \
httpActionGeneric as httpAction } from \"convex/server\";\n";
const GENERATED_API: &str = "import { anyApi } from \"convex/server\";\nexport const api = anyApi;\nexport const internal = anyApi;\nexport const components = anyApi;\n";

/// How much an isolate may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: usize,
    pub query_time: Duration,
    pub action_time: Duration,
    /// What one query's or mutation's transaction may read and write.
    pub transaction: crate::limits::TxLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            query_time: Duration::from_secs(1),
            action_time: Duration::from_secs(10),
            transaction: Default::default(),
        }
    }
}

/// A function a deployment exports. Stored with the code at push (as JSON), so listing
/// functions never loads the modules again.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FunctionInfo {
    /// `messages.js:list`.
    pub path: String,
    pub kind: UdfKind,
    pub internal: bool,
    pub args: Json,
    pub returns: Json,
}

/// What a function call produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The encoded result.
    Value(Json),
    /// The function threw (or was refused before running).
    Error(FunctionError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    /// One line: `Uncaught Error: boom`, or why the call was refused.
    pub message: String,
    /// The stack, when there is one.
    pub stack: String,
    /// A `ConvexError`'s data, encoded.
    pub data: Option<Json>,
}

impl FunctionError {
    pub fn refused(message: impl Into<String>) -> Self {
        FunctionError {
            message: message.into(),
            stack: String::new(),
            data: None,
        }
    }
}

/// How a load stopped by its time limit starts its message.
pub const LOAD_TOO_LONG: &str = "loading the modules took longer than";

/// Why modules could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

impl LoadError {
    /// The load was stopped by a limit (time or memory), not by an error in the code.
    pub fn hit_limit(&self) -> bool {
        self.0.contains(LOAD_TOO_LONG) || self.0.contains("out of memory")
    }
}

#[derive(Clone)]
struct Sources(Rc<HashMap<String, String>>);

impl Resolver for Sources {
    fn resolve<'js>(
        &mut self,
        _: &Ctx<'js>,
        base: &str,
        name: &str,
        _: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        if !name.starts_with('.') && self.0.contains_key(name) {
            return Ok(name.to_string());
        }
        compile::resolve_import(base, name, &|n| self.0.contains_key(n))
            .ok_or_else(|| JsError::new_resolving(base, name))
    }
}

impl Loader for Sources {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let src = self.0.get(name).ok_or_else(|| JsError::new_loading(name))?;
        Module::declare(ctx.clone(), name, src.clone())
    }
}

pub struct Isolate {
    context: Context,
    runtime: Runtime,
    host: Rc<RefCell<Host>>,
    deadline: Rc<Cell<Option<Instant>>>,
    /// When the running call's thread is demoted (see [`DEMOTE_AFTER`]).
    demote_at: Rc<Cell<Option<Duration>>>,
    tripped: Rc<Cell<bool>>,
    limits: Limits,
    pub functions: Rc<HashMap<String, FunctionInfo>>,
    /// (load name, uploaded path) of each user module, for error stacks.
    names: Rc<Vec<(String, String)>>,
    /// Set after an out-of-memory or a timeout: the isolate must not be used again.
    pub poisoned: bool,
    /// The environment variables last handed to `process.env`.
    env_seen: Option<std::sync::Arc<std::collections::BTreeMap<String, String>>>,
    /// The schema's document types and whether it validates (its indexes are the host's).
    schema: berth_store::docs::SchemaDef,
}

/// The text of a pending JS exception.
fn caught(ctx: &Ctx<'_>, e: JsError) -> String {
    if !e.is_exception() {
        return e.to_string();
    }
    let v = ctx.catch();
    if let Some(ex) = v.as_exception() {
        let msg = ex.message().unwrap_or_default();
        let stack = ex.stack().unwrap_or_default();
        return if stack.is_empty() {
            msg
        } else {
            format!("{msg}\n{stack}")
        };
    }
    v.as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{v:?}"))
}

impl Isolate {
    /// Whether the next call is a live query (see [`crate::CallRequest::live`]), and whether it
    /// is a mutation to run at most once (see [`crate::CallRequest::once`]).
    pub fn set_live(&self, live: Option<crate::LiveQuery>, once: Option<crate::Once>) {
        let mut h = self.host.borrow_mut();
        h.live = live;
        h.once = once;
    }

    /// What the last call did to the data (see [`crate::syscalls::Host::effects`]).
    pub fn take_effects(&self) -> crate::syscalls::Effects {
        std::mem::take(&mut self.host.borrow_mut().effects)
    }

    /// Loads `modules` into a fresh runtime and registers their functions.
    pub fn new(
        modules: &[CompiledModule],
        limits: Limits,
        handle: tokio::runtime::Handle,
    ) -> Result<Isolate, LoadError> {
        let runtime =
            Runtime::new().map_err(|e| LoadError(format!("start the JavaScript runtime: {e}")))?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(1 << 20);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let tripped = Rc::new(Cell::new(false));
        let demote_at: Rc<Cell<Option<Duration>>> = Rc::new(Cell::new(None));
        {
            let (deadline, tripped, demote_at) =
                (deadline.clone(), tripped.clone(), demote_at.clone());
            runtime.set_interrupt_handler(Some(Box::new(move || {
                if demote_at
                    .get()
                    .is_some_and(|d| crate::pool::thread_cpu_time() > d)
                {
                    demote_at.set(None);
                    crate::pool::demote_this_thread();
                    if !crate::pool::enter_slow_lane(deadline.get()) {
                        tripped.set(true);
                        return true;
                    }
                }
                let over = deadline.get().is_some_and(|d| Instant::now() > d);
                if over {
                    tripped.set(true);
                }
                over
            })));
        }
        let mut sources: HashMap<String, String> = HashMap::new();
        sources.insert("convex/values".into(), VALUES_JS.into());
        sources.insert("convex/server".into(), SERVER_JS.into());
        sources.insert("_generated/server.js".into(), GENERATED_SERVER.into());
        sources.insert("_generated/api.js".into(), GENERATED_API.into());
        sources.insert("_generated/dataModel.js".into(), "export {};\n".into());
        for m in modules {
            sources.insert(m.name.clone(), m.js.clone());
        }
        let sources = Sources(Rc::new(sources));
        runtime.set_loader(sources.clone(), sources);
        let context = Context::full(&runtime)
            .map_err(|e| LoadError(format!("create the JavaScript context: {e}")))?;
        let host = Rc::new(RefCell::new(Host::new(handle, limits.transaction)));
        let mut isolate = Isolate {
            context,
            runtime,
            host,
            deadline,
            demote_at,
            tripped,
            limits,
            functions: Rc::new(HashMap::new()),
            names: Rc::new(
                modules
                    .iter()
                    .map(|m| (m.name.clone(), m.path.clone()))
                    .collect(),
            ),
            poisoned: false,
            env_seen: None,
            schema: Default::default(),
        };
        // Loading runs a module's top level: it is charged like a call, with a time limit,
        // demotion and the slow lane once it has used DEMOTE_AFTER of CPU.
        isolate
            .deadline
            .set(Some(Instant::now() + limits.action_time));
        isolate
            .demote_at
            .set(Some(crate::pool::thread_cpu_time() + DEMOTE_AFTER));
        let loaded = isolate.load(modules);
        isolate.deadline.set(None);
        isolate.demote_at.set(None);
        crate::pool::leave_slow_lane();
        if isolate.tripped.get() {
            return Err(LoadError(format!(
                "{LOAD_TOO_LONG} {:?} (a loop at the top level of a module?)",
                limits.action_time
            )));
        }
        loaded?;
        Ok(isolate)
    }

    fn load(&mut self, modules: &[CompiledModule]) -> Result<(), LoadError> {
        let host = self.host.clone();
        let names = self.names.clone();
        let (functions, (indexes, schema)) = self.context.with(
            |ctx| -> Result<
                (
                    Vec<FunctionInfo>,
                    (crate::query::Indexes, berth_store::docs::SchemaDef),
                ),
                LoadError,
            > {
                install_host(&ctx, host).map_err(|e| LoadError(caught(&ctx, e)))?;
                ctx.eval::<(), _>(WEB_JS).map_err(|e| {
                    LoadError(format!("berth's web globals failed: {}", caught(&ctx, e)))
                })?;
                ctx.eval::<(), _>(PRELUDE_JS).map_err(|e| {
                    LoadError(format!("berth's prelude failed: {}", caught(&ctx, e)))
                })?;
                let values = import(&ctx, "convex/values")
                    .map_err(|e| LoadError(format!("convex/values: {e}")))?;
                let encoder: Function = values
                    .get("convexToJson")
                    .map_err(|e| LoadError(e.to_string()))?;
                let berth: Object = ctx
                    .globals()
                    .get("__berth")
                    .map_err(|e| LoadError(e.to_string()))?;
                let set: Function = berth
                    .get("setEncoder")
                    .map_err(|e| LoadError(e.to_string()))?;
                set.call::<_, ()>((encoder,))
                    .map_err(|e| LoadError(caught(&ctx, e)))?;
                let register: Function = berth
                    .get("register")
                    .map_err(|e| LoadError(e.to_string()))?;
                let mut found = Vec::new();
                for m in modules {
                    let ns = import(&ctx, &m.name).map_err(|e| {
                        LoadError(format!("convex/{}: {}", m.path, rename(&e, &names)))
                    })?;
                    let listed: String = register
                        .call((m.name.clone(), ns))
                        .map_err(|e| LoadError(caught(&ctx, e)))?;
                    let listed: Vec<Json> =
                        serde_json::from_str(&listed).map_err(|e| LoadError(e.to_string()))?;
                    for f in listed {
                        let kind = match f.get("kind").and_then(Json::as_str) {
                            Some("query") => UdfKind::Query,
                            Some("mutation") => UdfKind::Mutation,
                            _ => UdfKind::Action,
                        };
                        let parse = |k: &str| {
                            f.get(k)
                                .and_then(Json::as_str)
                                .and_then(|s| serde_json::from_str(s).ok())
                                .unwrap_or(Json::Null)
                        };
                        found.push(FunctionInfo {
                            path: f
                                .get("path")
                                .and_then(Json::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            kind,
                            internal: f.get("visibility").and_then(Json::as_str)
                                == Some("internal"),
                            args: parse("args"),
                            returns: parse("returns"),
                        });
                    }
                }
                let indexes = schema_indexes(&ctx, modules)?;
                Ok((found, indexes))
            },
        )?;
        if self.tripped.get() {
            self.poisoned = true;
            return Err(LoadError(
                "loading the modules took too long (a loop at the top level of a module?)".into(),
            ));
        }
        self.functions = Rc::new(functions.into_iter().map(|f| (f.path.clone(), f)).collect());
        self.host.borrow_mut().indexes = std::sync::Arc::new(indexes);
        self.schema = schema;
        Ok(())
    }

    /// Resolves `path`, checks the arguments (encoded JSON object) and calls the function; then
    /// checks its result against its `returns` validator.
    #[allow(clippy::too_many_arguments)]
    pub fn invoke(
        &mut self,
        docs: std::sync::Arc<dyn berth_store::docs::DocStore>,
        env: std::sync::Arc<std::collections::BTreeMap<String, String>>,
        path: &str,
        kind: Option<UdfKind>,
        internal_ok: bool,
        args: &Json,
        request_id: &str,
    ) -> (Outcome, Vec<crate::syscalls::LogLine>, Option<UdfKind>) {
        self.host.borrow_mut().docs = Some(docs.clone());
        let f = match crate::resolve(&self.functions, path, kind, internal_ok) {
            Ok(f) => f.clone(),
            Err(e) => return (Outcome::Error(e), Vec::new(), None),
        };
        if let Err(e) = crate::check_args(&self.host, &f, args) {
            return (Outcome::Error(e), Vec::new(), Some(f.kind));
        }
        let encoded = Json::Array(vec![args.clone()]).to_string();
        let env_json = match &self.env_seen {
            Some(seen) if std::sync::Arc::ptr_eq(seen, &env) => None,
            _ => Some(serde_json::to_string(&*env).unwrap_or_else(|_| "{}".into())),
        };
        self.env_seen = Some(env);
        self.host.borrow_mut().pending_env = env_json;
        let (mut outcome, logs) = self.call(docs, &f, &encoded, request_id);
        if let Outcome::Value(v) = &outcome {
            let size = v.to_string().len();
            if size > MAX_RETURN_BYTES {
                outcome = Outcome::Error(FunctionError::refused(format!(
                    "{} returned {:.1} MiB; a function may return at most {} MiB (page through large results)",
                    f.path,
                    size as f64 / (1 << 20) as f64,
                    MAX_RETURN_BYTES >> 20
                )));
            }
        }
        if let (Outcome::Value(v), false) = (&outcome, f.returns.is_null()) {
            let checked = berth_value::decode(v)
                .map_err(|e| e.0)
                .and_then(|value| validate::check(&value, &f.returns, "", &|_| None));
            if let Err(e) = checked {
                outcome = Outcome::Error(FunctionError::refused(format!(
                    "ReturnsValidationError: {}",
                    e.replace("(the arguments)", "(the return value)")
                )));
            }
        }
        (outcome, logs, Some(f.kind))
    }

    /// What the schema asks of the store: its indexes, and its document types when it
    /// validates.
    pub fn schema(&self) -> berth_store::docs::SchemaDef {
        let mut schema = self.schema.clone();
        schema.indexes = berth_store::docs::IndexDef::all_from(&self.host.borrow().indexes);
        schema
    }

    pub fn memory_used(&self) -> i64 {
        self.runtime.memory_usage().memory_used_size
    }

    /// Calls a function (already resolved to its canonical path and checked by the caller) with
    /// encoded arguments `[args]`. `docs` is the deployment's data.
    pub fn call(
        &mut self,
        docs: std::sync::Arc<dyn berth_store::docs::DocStore>,
        function: &FunctionInfo,
        args_json: &str,
        request_id: &str,
    ) -> (Outcome, Vec<crate::syscalls::LogLine>) {
        {
            let mut h = self.host.borrow_mut();
            h.docs = Some(docs);
            h.effects = Default::default();
            h.logs.clear();
            h.dropped_logs = 0;
            h.log_bytes = 0;
            h.deferred.clear();
            h.frames.clear();
        }
        // Timers an earlier call on this isolate left pending are forgotten (the prelude's side
        // only needs telling when there were some).
        let leftover_timers = {
            let mut h = self.host.borrow_mut();
            let any = !h.timers.is_empty();
            h.timers.clear();
            any
        };
        let limit = if function.kind == UdfKind::Action {
            self.limits.action_time
        } else {
            self.limits.query_time
        };
        self.deadline.set(Some(Instant::now() + limit));
        self.host.borrow_mut().deadline = self.deadline.get();
        self.demote_at
            .set(Some(crate::pool::thread_cpu_time() + DEMOTE_AFTER));
        self.tripped.set(false);
        let host = self.host.clone();
        let names = self.names.clone();
        let functions = self.functions.clone();
        let seed = request_id
            .bytes()
            .fold(7i32, |a, b| a.wrapping_mul(31).wrapping_add(i32::from(b)));
        let outcome = self.context.with(|ctx| {
            if leftover_timers {
                let forget = ctx
                    .globals()
                    .get::<_, Object>("__berth")
                    .and_then(|b| b.get::<_, Function>("forget"));
                if let Ok(forget) = forget {
                    let _ = forget.call::<_, ()>(());
                }
            }
            run(
                &ctx, &host, &functions, function, args_json, request_id, seed, &names,
            )
        });
        self.deadline.set(None);
        self.demote_at.set(None);
        crate::pool::leave_slow_lane();
        let mut outcome = outcome;
        if self.tripped.get() {
            self.poisoned = true;
            outcome = Outcome::Error(FunctionError::refused(format!(
                "Function execution timed out: {} ran longer than its limit of {:?}",
                function.path, limit
            )));
        } else if let Outcome::Error(e) = &outcome
            && e.message.contains("out of memory")
        {
            self.poisoned = true;
            outcome = Outcome::Error(FunctionError::refused(format!(
                "{} ran out of memory: it used more than its limit of {} MiB",
                function.path,
                self.limits.memory_bytes >> 20
            )));
        }
        let mut h = self.host.borrow_mut();
        h.frames.clear();
        h.docs = None;
        h.deadline = None;
        let mut logs = std::mem::take(&mut h.logs);
        if h.dropped_logs > 0 {
            logs.push(crate::syscalls::LogLine {
                level: "WARN".into(),
                                text: format!(
                    "{} more log lines were dropped (at most {} lines and 1 MiB of log text per call)",
                    h.dropped_logs, h.max_log_lines
                ),
                time: logs.last().map_or(0, |l| l.time),
                function: function.path.clone(),
            });
        }
        (outcome, logs)
    }
}

/// The indexes `convex/schema.ts` defines (`table.index` → fields), its tables' document types
/// and whether it validates, read through its default export's `export()` (Convex's library and
/// berth's own both have it).
fn schema_indexes(
    ctx: &Ctx<'_>,
    modules: &[CompiledModule],
) -> Result<(crate::query::Indexes, berth_store::docs::SchemaDef), LoadError> {
    let mut out = crate::query::Indexes::new();
    let mut schema = berth_store::docs::SchemaDef::default();
    let Some(m) = modules.iter().find(|m| m.name == "schema.js") else {
        return Ok((out, schema));
    };
    let fail = |e: String| {
        LoadError(format!(
            "convex/{}: the schema could not be read: {e}",
            m.path
        ))
    };
    let ns = import(ctx, &m.name).map_err(fail)?;
    let Ok(default) = ns.get::<_, Object>("default") else {
        return Ok((out, schema));
    };
    let Ok(export) = default.get::<_, Function>("export") else {
        return Ok((out, schema));
    };
    let text: String = export
        .call::<_, String>((rquickjs::function::This(default.clone()),))
        .map_err(|e| fail(caught(ctx, e)))?;
    let json: Json = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    // Convex's default: a schema validates unless it says `schemaValidation: false`.
    schema.validation = json["schemaValidation"].as_bool().unwrap_or(true);
    for t in json["tables"].as_array().into_iter().flatten() {
        let table = t["tableName"].as_str().unwrap_or_default();
        if let Some(ty) = t.get("documentType").filter(|d| d.is_object()) {
            schema.document_types.insert(table.to_string(), ty.clone());
        }
        for i in t["indexes"].as_array().into_iter().flatten() {
            let name = i["indexDescriptor"].as_str().unwrap_or_default();
            let fields = i["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            out.insert(format!("{table}.{name}"), fields);
        }
    }
    Ok((out, schema))
}

/// Imports a module by load name, running jobs until it has evaluated; returns its namespace.
fn import<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Object<'js>, String> {
    let promise = Module::import(ctx, name).map_err(|e| caught(ctx, e))?;
    while ctx.execute_pending_job() {}
    match promise.state() {
        PromiseState::Resolved => promise
            .result::<Object>()
            .and_then(Result::ok)
            .ok_or_else(|| "no namespace".into()),
        PromiseState::Rejected => match promise.result::<rquickjs::Value>() {
            Some(Err(e)) => Err(caught(ctx, e)),
            _ => Err("the module failed to load".into()),
        },
        PromiseState::Pending => {
            Err("the module did not finish loading (top-level await that never settles?)".into())
        }
    }
}

/// Points stack frames at the uploaded files (`convex/messages.ts`) and drops berth's own frames.
fn rename(text: &str, names: &[(String, String)]) -> String {
    let text: Vec<&str> = text
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with("at ")
                && [
                    "convex/server:",
                    "convex/values:",
                    "eval_script",
                    "_generated/",
                    "<input>",
                ]
                .iter()
                .any(|b| l.contains(b)))
        })
        .collect();
    let mut out = text.join("\n");
    for (name, path) in names {
        out = out
            .replace(&format!("({name}:"), &format!("(convex/{path}:"))
            .replace(&format!(" {name}:"), &format!(" convex/{path}:"));
    }
    out
}

/// Installs `__berthHost` (removed again by the prelude).
fn install_host(ctx: &Ctx<'_>, host: Rc<RefCell<Host>>) -> rquickjs::Result<()> {
    let obj = Object::new(ctx.clone())?;
    let h = host.clone();
    obj.set(
        "syscall",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'_>, op: String, args: String| -> rquickjs::Result<String> {
                let r = h.borrow_mut().dispatch(&op, &args);
                r.map_err(|msg| Exception::throw_message(&ctx, &msg))
            },
        )?,
    )?;
    let h = host.clone();
    obj.set(
        "defer",
        Function::new(ctx.clone(), move |op: String, args: String| -> u32 {
            h.borrow_mut().defer(op, args)
        })?,
    )?;
    let h = host.clone();
    obj.set(
        "crypto",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'_>, op: String, args: String| -> rquickjs::Result<String> {
                // Secure randomness only in actions: queries and mutations stay deterministic.
                let secure = h.borrow().frames.last().map(|f| f.kind) == Some(UdfKind::Action);
                let a: Json = serde_json::from_str(&args).unwrap_or(Json::Null);
                crate::crypto::call(&op, &a, secure)
                    .map_err(|msg| Exception::throw_message(&ctx, &msg))
            },
        )?,
    )?;
    let h = host.clone();
    obj.set(
        "timer",
        Function::new(ctx.clone(), move |ms: f64| -> i64 {
            h.borrow_mut().timer(ms).map_or(-1, i64::from)
        })?,
    )?;
    let h = host.clone();
    obj.set(
        "clearTimer",
        Function::new(ctx.clone(), move |id: u32| {
            h.borrow_mut().clear_timer(id);
        })?,
    )?;
    let h = host;
    obj.set(
        "log",
        Function::new(ctx.clone(), move |level: String, text: String| {
            h.borrow_mut().log(level, text);
        })?,
    )?;
    ctx.globals().set("__berthHost", obj)
}

/// The outcome JSON the prelude produces, turned into an [`Outcome`].
fn outcome_from(text: &str, names: &[(String, String)]) -> Outcome {
    let v: Json = serde_json::from_str(text).unwrap_or(Json::Null);
    if v.get("ok").and_then(Json::as_bool) == Some(true) {
        let value = v
            .get("value")
            .and_then(Json::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Json::Null);
        return Outcome::Value(value);
    }
    let name = v.get("name").and_then(Json::as_str).unwrap_or("Error");
    let message = v.get("message").and_then(Json::as_str).unwrap_or_default();
    let data = v
        .get("data")
        .and_then(Json::as_str)
        .and_then(|s| serde_json::from_str(s).ok());
    Outcome::Error(FunctionError {
        message: if name.is_empty() {
            format!("Uncaught {message}")
        } else {
            format!("Uncaught {name}: {message}")
        },
        stack: rename(
            v.get("stack")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .trim_end(),
            names,
        ),
        data,
    })
}

#[allow(clippy::too_many_arguments)]
fn run(
    ctx: &Ctx<'_>,
    host: &Rc<RefCell<Host>>,
    functions: &HashMap<String, FunctionInfo>,
    function: &FunctionInfo,
    args_json: &str,
    request_id: &str,
    seed: i32,
    names: &[(String, String)],
) -> Outcome {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0);
    {
        let mut h = host.borrow_mut();
        let mut frame = crate::syscalls::Frame::new(function.kind, function.path.clone(), now);
        // Only a live query's reads are recorded: nobody asks for the others'.
        if function.kind == UdfKind::Query && h.frames.is_empty() && h.live.is_some() {
            frame.reads = Some(Default::default());
        }
        h.frames.push(frame);
    }
    // A mutation the client may send again: a repeat gets the answer its first run recorded.
    let once = {
        let h = host.borrow();
        let outermost = h.frames.len() == 1;
        h.once
            .clone()
            .filter(|_| function.kind == UdfKind::Mutation && outermost)
    };
    if let Some(once) = &once {
        let answered = host.borrow_mut().answered(once);
        let repeat = match answered {
            Ok(None) => None,
            Ok(Some(value)) => Some(Outcome::Value(value)),
            Err(e) => Some(Outcome::Error(FunctionError::refused(e))),
        };
        if let Some(outcome) = repeat {
            host.borrow_mut().frames.pop(); // rolls its transaction back
            return outcome;
        }
    }
    let outcome = drive(
        ctx, host, functions, function, args_json, request_id, seed, now, names,
    );
    let (frame, outermost) = {
        let mut h = host.borrow_mut();
        let frame = h.frames.pop();
        (frame, h.frames.is_empty())
    };
    if let Some(reads) = frame
        .as_ref()
        .and_then(|f| f.reads.as_ref())
        .filter(|_| outermost)
    {
        host.borrow_mut().effects.reads = reads.lock().ok().map(|r| r.clone());
    }
    match (outcome, frame) {
        (Outcome::Value(v), Some(mut frame)) if function.kind == UdfKind::Mutation => {
            if let (Some(once), Some(tx)) = (&once, frame.tx.as_mut())
                && let Err(e) =
                    tx.record_answer(&once.session, once.request, &v.to_string(), now / 1000.0)
            {
                return Outcome::Error(FunctionError::refused(crate::syscalls::user_error(
                    e,
                    "record the mutation's answer",
                )));
            }
            if let Some(tx) = frame.tx {
                match tx.commit() {
                    Ok(ts) if outermost => host.borrow_mut().effects.commit_ts = ts,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "commit mutation");
                        return Outcome::Error(FunctionError::refused(
                            "the mutation could not be committed; nothing was written. Try again",
                        ));
                    }
                }
            }
            Outcome::Value(v)
        }
        (outcome, _) => outcome,
    }
}

#[allow(clippy::too_many_arguments)]
fn drive(
    ctx: &Ctx<'_>,
    host: &Rc<RefCell<Host>>,
    functions: &HashMap<String, FunctionInfo>,
    function: &FunctionInfo,
    args_json: &str,
    request_id: &str,
    seed: i32,
    now: f64,
    names: &[(String, String)],
) -> Outcome {
    let berth: Object = match ctx.globals().get("__berth") {
        Ok(b) => b,
        Err(e) => return Outcome::Error(FunctionError::refused(caught(ctx, e))),
    };
    let (start, outcome_fn, settle): (Function, Function, Function) = match (
        berth.get("start"),
        berth.get("outcome"),
        berth.get("settle"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => return Outcome::Error(FunctionError::refused("berth's prelude is missing")),
    };
    let env = host.borrow_mut().pending_env.take();
    let id: u32 = match start.call((
        function.path.clone(),
        function.kind.as_str(),
        args_json.to_string(),
        now,
        seed,
        request_id.to_string(),
        env,
    )) {
        Ok(id) => id,
        Err(e) => return Outcome::Error(FunctionError::refused(caught(ctx, e))),
    };
    loop {
        while ctx.execute_pending_job() {}
        match outcome_fn.call::<_, Option<String>>((id,)) {
            Ok(Some(text)) => return outcome_from(&text, names),
            Ok(None) => {}
            Err(e) => return Outcome::Error(FunctionError::refused(caught(ctx, e))),
        }
        let next = host.borrow_mut().deferred.pop_front();
        let Some(d) = next else {
            // Nothing else to do: wait for the first timer (an action's `setTimeout`).
            let timer = host.borrow_mut().next_timer();
            let Some((due, timer)) = timer else {
                return Outcome::Error(FunctionError::refused(format!(
                    "{} never finished: it awaits a promise that nothing will settle",
                    function.path
                )));
            };
            let deadline = host.borrow().deadline;
            if let Some(deadline) = deadline.filter(|d| *d < due) {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return Outcome::Error(FunctionError::refused(format!(
                    "Function execution timed out: {} waits for a timer due after its time limit",
                    function.path
                )));
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if let Err(e) = settle.call::<_, ()>((timer, true, "null".to_string())) {
                return Outcome::Error(FunctionError::refused(caught(ctx, e)));
            }
            continue;
        };
        let (ok, payload) = nested(ctx, host, functions, &d, request_id, names);
        if let Err(e) = settle.call::<_, ()>((d.id, ok, payload)) {
            return Outcome::Error(FunctionError::refused(caught(ctx, e)));
        }
    }
}

/// Runs an action's `ctx.runQuery` / `runMutation` / `runAction` as its own function call.
fn nested(
    ctx: &Ctx<'_>,
    host: &Rc<RefCell<Host>>,
    functions: &HashMap<String, FunctionInfo>,
    d: &crate::syscalls::Deferred,
    request_id: &str,
    names: &[(String, String)],
) -> (bool, String) {
    let fail = |message: String| (false, serde_json::json!({ "message": message }).to_string());
    let kind = match d.op.as_str() {
        "1.0/actions/query" => UdfKind::Query,
        "1.0/actions/mutation" => UdfKind::Mutation,
        "1.0/actions/action" => UdfKind::Action,
        other => return fail(format!("{other} is not supported by berth")),
    };
    let args: Json = serde_json::from_str(&d.args).unwrap_or(Json::Null);
    let name = args.get("name").and_then(Json::as_str).unwrap_or_default();
    let caller = host
        .borrow()
        .frames
        .last()
        .map(|f| (f.kind, f.function.clone()));
    if let Some((caller_kind, caller)) = caller
        && caller_kind != UdfKind::Action
    {
        // A query or mutation runs in one transaction: calling out would write outside it (or,
        // from a mutation, wait on its own deployment's write lock).
        return fail(format!(
            "{name} was not run: {caller} is a {} and only actions may call other functions (ctx.runQuery, ctx.runMutation, ctx.runAction); call a helper function directly instead",
            caller_kind.as_str()
        ));
    }
    if host.borrow().frames.len() >= MAX_NESTING {
        return fail(format!(
            "{name} was not run: functions may call functions at most {MAX_NESTING} deep (an action calling itself without end?)"
        ));
    }
    let target = match crate::resolve(functions, name, Some(kind), true) {
        Ok(f) => f.clone(),
        Err(e) => return fail(e.message),
    };
    let fn_args = args
        .get("args")
        .cloned()
        .unwrap_or(Json::Object(Default::default()));
    if let Err(e) = crate::check_args(host, &target, &fn_args) {
        return fail(e.message);
    }
    let encoded = Json::Array(vec![fn_args]).to_string();
    match run(
        ctx, host, functions, &target, &encoded, request_id, 1, names,
    ) {
        Outcome::Value(v) => (true, v.to_string()),
        Outcome::Error(e) => {
            // The outer function sees the inner error's own message, not `Uncaught Error: ...`.
            let inner = e.message.trim_start_matches("Uncaught ");
            let inner = inner
                .strip_prefix("ConvexError: ")
                .or_else(|| inner.strip_prefix("Error: "))
                .unwrap_or(inner);
            let mut info = serde_json::json!({ "message": inner.to_string() });
            if let Some(data) = e.data {
                info["data"] = Json::String(data.to_string());
            }
            (false, info.to_string())
        }
    }
}

/// Lets [`crate::check_args`] look up the table of an id inside a fresh read transaction.
pub(crate) fn with_table_lookup<T>(
    host: &Rc<RefCell<Host>>,
    kind: UdfKind,
    f: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> T,
) -> T {
    host.borrow_mut().frames.push(crate::syscalls::Frame::new(
        if kind == UdfKind::Action {
            UdfKind::Query
        } else {
            kind
        },
        String::new(),
        0.0,
    ));
    let lookup = |id: &str| host.borrow_mut().table_of(id).ok().flatten();
    let out = f(&lookup);
    host.borrow_mut().frames.pop();
    out
}

pub(crate) fn validate_with(
    host: &Rc<RefCell<Host>>,
    kind: UdfKind,
    value: &berth_value::Value,
    validator: &Json,
) -> Result<(), String> {
    with_table_lookup(host, kind, |lookup| {
        validate::check(value, validator, "", lookup)
    })
}
