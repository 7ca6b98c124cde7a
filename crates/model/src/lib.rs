//! Berth's domain rules, free of I/O: what a valid team slug, role, plan or token is, and the
//! one error model every layer above speaks. Everything here is table- and property-tested.

pub mod ci;
pub mod deploy_key;
pub mod deployment;
pub mod duration;
pub mod env;
pub mod envfile;
pub mod error;
pub mod expiration;
pub mod names;
pub mod plan;
pub mod reference;
pub mod role;
pub mod selector;
pub mod slug;
pub mod time;
pub mod token;

pub use deployment::{DeploymentType, EditableBy};
pub use error::{Error, ErrorKind, Result};
pub use plan::Plan;
pub use role::Role;
