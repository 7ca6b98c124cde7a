//! The control plane: every operation on teams, members and projects, each checked against the
//! caller's [`Principal`] in one place ([`authz`]) before it touches the store. The HTTP layer
//! only translates; all rules live here or in `berth-model`.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod calls;
mod deployments;
mod keys;
mod members;
mod projects;
mod teams;

use berth_model::{Error, Plan, time::Clock};
use berth_store::{Store, StoreError};
use std::sync::Arc;

pub use auth::Principal;

/// Settings of the control plane that come from `berth serve`'s flags.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub default_plan: Plan,
    pub regions: Vec<String>,
    pub public_url: String,
    pub min_expiration_ms: i64,
    pub max_expiration_ms: i64,
}

/// The control plane: the store, the clock, and the server's settings.
pub struct Control {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: ControlConfig,
}

impl Control {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ControlConfig) -> Self {
        Self {
            store,
            clock,
            config,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Turns a storage failure into the user-facing error: the detail goes to the log, the user sees
/// only that the server failed.
pub(crate) fn internal(what: &str) -> impl FnOnce(StoreError) -> Error + '_ {
    move |e| {
        tracing::error!(error = %e, "{what}");
        Error::internal()
    }
}
