//! Document edits made from outside user code (the dashboard's data page): the same rules as
//! `ctx.db` (table names, reserved fields, the size limit, system fields kept), each in a write
//! transaction of its own, so they serialize with the deployment's mutations.

use crate::{ids, syscalls};
use berth_store::{
    StoreError,
    docs::{Doc, DocStore, DocTx},
};
use berth_value::{Value, decode};
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The request is wrong; the text says how.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inserts a document into `table` (created on first use) inside an open write transaction;
/// answers its id. `ctx.db.insert` and the dashboard both come here; `op` prefixes the errors.
pub fn insert_in(
    tx: &mut dyn DocTx,
    table: &str,
    value: &Json,
    now_ms: f64,
    op: &str,
) -> Result<String, EditError> {
    syscalls::validate_table(table).map_err(EditError::Invalid)?;
    let mut fields = syscalls::user_fields(value, op).map_err(EditError::Invalid)?;
    let number = tx
        .table_number(table, true)?
        .ok_or_else(|| EditError::Invalid(format!("table '{table}' could not be created")))?;
    let creation_time = tx.creation_time(table, now_ms)?;
    let id = ids::encode(number);
    fields.insert("_id".into(), Value::String(id.clone()));
    fields.insert("_creationTime".into(), Value::Float64(creation_time));
    let json = syscalls::stored(&fields).map_err(EditError::Invalid)?;
    tx.insert(&Doc {
        id: id.clone(),
        table: table.to_string(),
        creation_time,
        json,
    })?;
    Ok(id)
}

/// The fields a replace writes: `value`'s user fields and `old`'s system fields, which `value`
/// may repeat only unchanged. `ctx.db.replace` and the dashboard both come here.
pub fn replaced_fields(
    old: &BTreeMap<String, Value>,
    value: &Json,
    op: &str,
) -> Result<BTreeMap<String, Value>, String> {
    let mut stripped = value.clone();
    if let Some(o) = stripped.as_object_mut() {
        for sys in ["_id", "_creationTime"] {
            if let Some(v) = o.remove(sys)
                && decode(&v).ok().as_ref() != old.get(sys)
            {
                return Err(format!("{op}: system field '{sys}' cannot be changed"));
            }
        }
    }
    let mut fields = syscalls::user_fields(&stripped, op)?;
    for sys in ["_id", "_creationTime"] {
        if let Some(v) = old.get(sys) {
            fields.insert(sys.into(), v.clone());
        }
    }
    Ok(fields)
}

/// Inserts a document into `table` in a transaction of its own; answers its id.
pub fn insert(
    docs: &dyn DocStore,
    table: &str,
    value: &Json,
    now_ms: f64,
) -> Result<String, EditError> {
    let mut tx = docs.begin(true)?;
    let id = insert_in(tx.as_mut(), table, value, now_ms, "insert")?;
    tx.commit()?;
    Ok(id)
}

/// Replaces every user field of document `id` of `table`; `_id` and `_creationTime` stay.
pub fn replace(docs: &dyn DocStore, table: &str, id: &str, value: &Json) -> Result<(), EditError> {
    let mut tx = docs.begin(true)?;
    let (doc, old) = existing(tx.as_mut(), table, id)?;
    let fields = replaced_fields(&old, value, "replace").map_err(EditError::Invalid)?;
    let json = syscalls::stored(&fields).map_err(EditError::Invalid)?;
    tx.replace(&doc.id, &json)?;
    tx.commit()?;
    Ok(())
}

/// Deletes document `id` of `table`.
pub fn delete(docs: &dyn DocStore, table: &str, id: &str) -> Result<(), EditError> {
    let mut tx = docs.begin(true)?;
    let (doc, _) = existing(tx.as_mut(), table, id)?;
    tx.delete(&doc.id)?;
    tx.commit()?;
    Ok(())
}

/// The document `id`, which must belong to `table`.
fn existing(
    tx: &mut dyn DocTx,
    table: &str,
    id: &str,
) -> Result<(Doc, BTreeMap<String, Value>), EditError> {
    let missing = || EditError::NotFound(format!("table '{table}' has no document '{id}'"));
    let number = ids::table_number(id).ok_or_else(|| {
        EditError::Invalid(format!(
            "'{id}' is not a document id (32 characters, a-z and 2-7)"
        ))
    })?;
    if tx.table_name(number)?.as_deref() != Some(table) {
        return Err(missing());
    }
    let doc = tx.get(id)?.ok_or_else(missing)?;
    let stored: Json = serde_json::from_str(&doc.json)
        .map_err(|e| EditError::Store(StoreError::Backend(format!("stored document: {e}"))))?;
    match decode(&stored) {
        Ok(Value::Object(fields)) => Ok((doc, fields)),
        _ => Err(EditError::Store(StoreError::Backend(
            "a stored document is not an object".into(),
        ))),
    }
}
