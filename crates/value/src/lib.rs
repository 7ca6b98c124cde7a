//! Document values (PROTOCOL §3): the types a deployment stores and passes to and from its
//! functions, their `convex_encoded_json` codec, the lossy `json` export, the total order used
//! to compare and sort them (and `key`: the same order as bytes, for stored indexes), and
//! validators (`v.*` in their JSON form) with the shape of a call's arguments.

mod codec;
pub mod ids;
pub mod key;
mod order;
pub mod validate;

pub use codec::{
    DecodeError, MAX_DEPTH, MAX_DOCUMENT_BYTES, decode, encode, export_json, validate_field_name,
};
pub use order::compare;

use std::collections::BTreeMap;

/// A value of a document or a function's arguments and result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// JS `bigint`.
    Int64(i64),
    /// JS `number`.
    Float64(f64),
    Boolean(bool),
    String(String),
    /// JS `ArrayBuffer`.
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Keys sorted (BTreeMap), as the encoding requires.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The type's name as validators and errors spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int64(_) => "bigint",
            Value::Float64(_) => "number",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Follows a dotted field path (`a.b.c`) through nested objects.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut cur = self;
        for part in path.split('.') {
            cur = cur.as_object()?.get(part)?;
        }
        Some(cur)
    }
}
