//! The control plane: every operation on teams, members and projects, each checked against the
//! caller's [`Principal`] in one place ([`authz`]) before it touches the store. The HTTP layer
//! only translates; all rules live here or in `berth-model`.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod calls;
pub mod convex_cli;
mod deployments;
mod env;
pub mod index_builds;
mod keys;
mod lifecycle;
pub mod logs;
mod members;
mod permissions;
mod previews;
mod projects;
mod teams;

use berth_model::{Error, Plan, time::Clock};
use berth_store::{Store, StoreError};
use std::sync::Arc;

pub use auth::Principal;

/// Held while a preview of one project and reference is being claimed.
type ClaimLock = Arc<tokio::sync::Mutex<()>>;

/// Settings of the control plane that come from `berth serve`'s flags.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub default_plan: Plan,
    pub regions: Vec<String>,
    pub public_url: String,
    pub min_expiration_ms: i64,
    pub max_expiration_ms: i64,
    /// Log lines kept per deployment.
    pub log_retention: usize,
}

/// The control plane: the store, the clock, and the server's settings.
pub struct Control {
    /// Private: routes reach storage only through the control plane's operations.
    store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: ControlConfig,
    pub logs: logs::LogHub,
    /// Deployment rows by name, kept only when the store has no other writer; every write to a
    /// deployment through this control plane drops its entry.
    cache: std::sync::Mutex<std::collections::HashMap<String, berth_store::DeploymentRecord>>,
    /// When each credential's last use was recorded; writes are spaced a minute apart.
    touched: std::sync::Mutex<std::collections::HashMap<(bool, i64), i64>>,
    /// Bumped by every invalidation: a read that started before one must not fill the cache.
    epoch: std::sync::atomic::AtomicU64,
    /// Serializes preview claims per (project, reference).
    claims: std::sync::Mutex<std::collections::HashMap<(i64, String), ClaimLock>>,
    /// Failed authentications per source address.
    pub auth_failures: auth::AuthFailures,
    /// Each deployment's latest index build on this server.
    builds: index_builds::Builds,
}

impl Control {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ControlConfig) -> Self {
        let logs = logs::LogHub::with_store(config.log_retention, store.clone());
        Self {
            store,
            clock,
            config,
            logs,
            cache: Default::default(),
            touched: Default::default(),
            epoch: Default::default(),
            claims: Default::default(),
            auth_failures: Default::default(),
            builds: Default::default(),
        }
    }

    /// A deployment row by name, from the cache when the store allows one.
    pub(crate) async fn deployment_record(
        &self,
        name: &str,
    ) -> Result<Option<berth_store::DeploymentRecord>, Error> {
        let caching = self.store.single_writer();
        if caching && let Some(d) = self.cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(Some(d));
        }
        let epoch = self.epoch.load(std::sync::atomic::Ordering::SeqCst);
        let found = self
            .store
            .deployment_by_name(name)
            .await
            .map_err(internal("look up deployment"))?;
        if caching
            && let (Some(d), Ok(mut c)) = (&found, self.cache.lock())
            && epoch == self.epoch.load(std::sync::atomic::Ordering::SeqCst)
        {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(name.to_string(), d.clone());
        }
        Ok(found)
    }

    /// Drops a deployment from the cache after it changed.
    /// Drops everything this process remembers of a deleted deployment.
    pub(crate) fn forget_deployment(&self, name: &str) {
        self.forget(name);
        self.logs.forget(name);
    }

    pub(crate) fn forget(&self, name: &str) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut c) = self.cache.lock() {
            c.remove(name);
        }
    }

    pub(crate) fn forget_all(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// Whether a credential's use should be written now (at most once a minute per credential).
    pub(crate) fn should_touch(&self, key: bool, id: i64, now: i64) -> bool {
        let Ok(mut t) = self.touched.lock() else {
            return true;
        };
        match t.get(&(key, id)) {
            Some(last) if now - last < 60_000 => false,
            _ => {
                t.insert((key, id), now);
                true
            }
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Turns a storage failure into the user-facing error: the detail goes to the log, the user sees
/// only that the server failed.
impl Control {
    /// Runs a store operation that must not stop halfway (a copy, a push) on a task of its own,
    /// so a caller that goes away (its request dropped) does not cancel it between two of its
    /// steps; the caller still waits for the answer.
    pub(crate) async fn detached<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<dyn Store>) -> BoxFuture<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::spawn(f(store))
            .await
            .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))
    }
}

/// A boxed future, for [`Control::detached`].
pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

pub(crate) fn internal(what: &str) -> impl FnOnce(StoreError) -> Error + '_ {
    move |e| match e {
        // Passing and said so: 503 with what to do, not a 500.
        StoreError::Busy(m) => Error::new(berth_model::ErrorKind::Overloaded, "Busy", m),
        e => {
            tracing::error!(error = %e, "{what}");
            Error::internal()
        }
    }
}
