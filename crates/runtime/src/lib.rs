//! Berth's JavaScript host. User modules are compiled ([`compile`]) at push, loaded into QuickJS
//! isolates ([`isolate`]) with the built-in `convex/server` and `convex/values` (`src/js/`), and
//! called on a pool of worker threads ([`pool`]). User code reaches the host only through
//! `Convex.syscall` / `Convex.asyncSyscall` ([`syscalls`]).
//!
//! QuickJS (through `rquickjs`) is the engine because V8 cannot be built on this project's
//! machines; it is small (≈200 KiB per isolate), starts in well under a millisecond, and has
//! per-runtime memory limits and interrupt handlers, which is what per-deployment limits need.

pub mod compile;
mod crypto;
pub mod edit;
pub mod isolate;
pub mod limits;
pub mod pool;
mod query;
pub mod syscalls;

use berth_value::ids;

use isolate::{FunctionError, FunctionInfo};
use serde_json::Value as Json;
use std::{cell::RefCell, collections::HashMap, rc::Rc};

pub use isolate::{Limits, Outcome};
pub use pool::{CallRequest, CallResult, LiveQuery, Once, Pool, PushResult};
pub use syscalls::LogLine;

/// The kinds of function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UdfKind {
    Query,
    Mutation,
    Action,
}

impl UdfKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UdfKind::Query => "query",
            UdfKind::Mutation => "mutation",
            UdfKind::Action => "action",
        }
    }

    /// The name Convex's wire formats use (`udfType`): `Query`, `Mutation`, `Action`.
    pub fn title(self) -> &'static str {
        match self {
            UdfKind::Query => "Query",
            UdfKind::Mutation => "Mutation",
            UdfKind::Action => "Action",
        }
    }
}

/// `messages:list`, `messages.ts:list`, `dir/file` (default export) → `messages.js:list`.
pub fn canonical_path(path: &str) -> String {
    let (module, export) = match path.rsplit_once(':') {
        Some((m, e)) => (m, e),
        None => (path, "default"),
    };
    let module = module
        .trim_start_matches("./")
        .trim_start_matches("convex/");
    format!("{}:{export}", compile::module_name(module))
}

/// Finds the function a caller names. An internal function looks missing to public callers.
pub fn resolve<'a>(
    functions: &'a HashMap<String, FunctionInfo>,
    path: &str,
    kind: Option<UdfKind>,
    internal_ok: bool,
) -> Result<&'a FunctionInfo, FunctionError> {
    let canonical = canonical_path(path);
    let f = functions
        .get(&canonical)
        .filter(|f| internal_ok || !f.internal)
        .ok_or_else(|| FunctionError::refused(format!("Could not find public function for '{canonical}'. Did you forget to run `berth deploy`?")))?;
    if let Some(k) = kind
        && k != f.kind
    {
        return Err(FunctionError::refused(format!(
            "Trying to execute {canonical} as {}, but it is defined as {}.",
            k.title(),
            f.kind.title()
        )));
    }
    Ok(f)
}

/// Decodes and validates a call's arguments against the function's `args` validator.
pub(crate) fn check_args(
    host: &Rc<RefCell<syscalls::Host>>,
    f: &FunctionInfo,
    args: &Json,
) -> Result<berth_value::Value, FunctionError> {
    let value = berth_value::decode(args)
        .map_err(|e| FunctionError::refused(format!("ArgumentValidationError: {}", e.0)))?;
    if !matches!(value, berth_value::Value::Object(_)) {
        return Err(FunctionError::refused(format!(
            "ArgumentValidationError: the arguments of {} must be an object, not {}",
            f.path,
            value.type_name()
        )));
    }
    if !f.args.is_null() {
        isolate::validate_with(host, f.kind, &value, &f.args)
            .map_err(|e| FunctionError::refused(format!("ArgumentValidationError: {e}")))?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_paths() {
        assert_eq!(super::canonical_path("messages:list"), "messages.js:list");
        assert_eq!(
            super::canonical_path("messages.ts:list"),
            "messages.js:list"
        );
        assert_eq!(super::canonical_path("dir/file"), "dir/file.js:default");
        assert_eq!(
            super::canonical_path("messages.js:list"),
            "messages.js:list"
        );
    }
}
