//! Stored indexes: the indexes a deployment's schema defines, kept as entries (key → document)
//! in the same transaction as every write of a document. A key is the document's index fields,
//! then its `_creationTime` and `_id`, encoded with `berth_value::key` so that byte order is the
//! order of values: a range of an index is a range of bytes.

use super::Doc;
use crate::{StoreError, StoreResult};
use berth_value::{Value, key::push_component};

/// An index of a table, as the schema defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// `table.index`.
    pub name: String,
    pub table: String,
    /// The indexed field paths, in order (`_creationTime` and `_id` follow implicitly).
    pub fields: Vec<String>,
}

impl IndexDef {
    /// From the schema's map of `table.index` → fields.
    pub fn all_from(indexes: &std::collections::HashMap<String, Vec<String>>) -> Vec<IndexDef> {
        let mut out: Vec<IndexDef> = indexes
            .iter()
            .filter_map(|(name, fields)| {
                let (table, _) = name.rsplit_once('.')?;
                Some(IndexDef {
                    name: name.clone(),
                    table: table.to_string(),
                    fields: fields.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub(crate) fn fields_json(&self) -> String {
        serde_json::Value::from(self.fields.clone()).to_string()
    }

    pub(crate) fn parse_fields(text: &str) -> StoreResult<Vec<String>> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Backend(format!("stored index fields: {e}")))
    }
}

/// What a deployment's schema asks of the store: its indexes and, with `validation` (Convex's
/// `schemaValidation`, on by default), the document type of each table, checked on every write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaDef {
    pub indexes: Vec<IndexDef>,
    pub validation: bool,
    /// Table → the validator of its documents' user fields (Convex's `documentType` JSON).
    pub document_types: std::collections::BTreeMap<String, serde_json::Value>,
}

impl SchemaDef {
    /// The part kept beside the code (`code_meta` key `schema`).
    pub(crate) fn types_json(&self) -> String {
        serde_json::json!({"validation": self.validation, "tables": self.document_types})
            .to_string()
    }

    /// The document types from [`types_json`](Self::types_json) text; `None` text is no schema.
    pub(crate) fn types_from(
        text: Option<&str>,
    ) -> StoreResult<(bool, std::collections::BTreeMap<String, serde_json::Value>)> {
        let Some(text) = text else {
            return Ok((false, Default::default()));
        };
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| StoreError::Backend(format!("stored schema: {e}")))?;
        let tables = v["tables"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok((v["validation"].as_bool().unwrap_or(false), tables))
    }
}

/// The document types a transaction checks writes against.
#[derive(Debug, Default)]
pub(crate) struct Types {
    pub validation: bool,
    pub tables: std::collections::BTreeMap<String, serde_json::Value>,
    /// Tables whose type has a `v.id(...)` somewhere: checking them needs the table names.
    with_ids: std::collections::HashSet<String>,
}

impl Types {
    pub(crate) fn new(
        validation: bool,
        tables: std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Types {
        let with_ids = tables
            .iter()
            .filter(|(_, ty)| has_id(ty))
            .map(|(t, _)| t.clone())
            .collect();
        Types {
            validation,
            tables,
            with_ids,
        }
    }

    /// Whether a write to `table` is checked, and whether that check needs the table names.
    pub(crate) fn checks(&self, table: &str) -> (bool, bool) {
        let checked = self.validation && self.tables.contains_key(table);
        (checked, checked && self.with_ids.contains(table))
    }
}

/// What writing `doc` takes, from one decode of it: its check against the schema (`names`
/// gives the table names when its type holds a `v.id`) and its entries in the indexes of its
/// table. The check's error is Convex's text.
pub(crate) fn prepare_write(
    defs: &[IndexDef],
    types: &Types,
    doc: &Doc,
    names: impl FnOnce() -> StoreResult<std::collections::HashMap<u32, String>>,
) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let (checked, needs_names) = types.checks(&doc.table);
    let mine: Vec<&IndexDef> = defs.iter().filter(|d| d.table == doc.table).collect();
    if !checked && mine.is_empty() {
        return Ok(Vec::new());
    }
    let value = decoded(doc)?;
    let entries = keys_of(&mine, doc, &value);
    if let Some(ty) = types.tables.get(&doc.table).filter(|_| checked) {
        let names = if needs_names {
            names()?
        } else {
            Default::default()
        };
        check_value(ty, value, &names).map_err(|details| {
            StoreError::SchemaMismatch(format!(
                "Failed to insert or update a document in table \"{}\" because it does not match the schema: {details}",
                doc.table
            ))
        })?;
    }
    Ok(entries)
}

/// Whether a validator (in its JSON form) has a `v.id(...)` anywhere inside.
fn has_id(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(o) => {
            o.get("type").and_then(serde_json::Value::as_str) == Some("id")
                || o.values().any(has_id)
        }
        serde_json::Value::Array(a) => a.iter().any(has_id),
        _ => false,
    }
}

/// The validation error of `doc`'s user fields against `ty`, if any.
pub(crate) fn check_against(
    ty: &serde_json::Value,
    doc: &Doc,
    table_names: &std::collections::HashMap<u32, String>,
) -> Result<(), String> {
    check_value(ty, decoded(doc).map_err(|e| e.to_string())?, table_names)
}

/// The validation error of a document's value (its system fields set aside) against `ty`.
fn check_value(
    ty: &serde_json::Value,
    mut value: Value,
    table_names: &std::collections::HashMap<u32, String>,
) -> Result<(), String> {
    if let Value::Object(fields) = &mut value {
        fields.remove("_id");
        fields.remove("_creationTime");
    }
    let table_of =
        |id: &str| berth_value::ids::table_number(id).and_then(|n| table_names.get(&n).cloned());
    berth_value::validate::check(&value, ty, "", &table_of)
        .map_err(|e| e.replace("(the arguments)", "(the document)"))
}

/// What a push changes in the stored indexes: an index whose fields changed is both removed
/// and added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexChanges {
    pub added: Vec<IndexDef>,
    pub removed: Vec<IndexDef>,
}

impl IndexChanges {
    /// What going from `existing` to `wanted` changes.
    pub fn between(existing: &[IndexDef], wanted: &[IndexDef]) -> IndexChanges {
        let (removed, added) = diff(existing, wanted);
        IndexChanges { added, removed }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Which of `existing` go and which of `wanted` come: an index whose fields changed does both.
pub(crate) fn diff(existing: &[IndexDef], wanted: &[IndexDef]) -> (Vec<IndexDef>, Vec<IndexDef>) {
    let removed = existing
        .iter()
        .filter(|e| !wanted.contains(e))
        .cloned()
        .collect();
    let added = wanted
        .iter()
        .filter(|w| !existing.contains(w))
        .cloned()
        .collect();
    (removed, added)
}

/// The document's value, decoded from its stored JSON.
pub(crate) fn decoded(doc: &Doc) -> StoreResult<Value> {
    let json: serde_json::Value = serde_json::from_str(&doc.json)
        .map_err(|e| StoreError::Backend(format!("stored document {}: {e}", doc.id)))?;
    berth_value::decode(&json)
        .map_err(|e| StoreError::Backend(format!("stored document {}: {}", doc.id, e.0)))
}

/// The key of a document (already decoded as `value`) in an index on `fields`.
pub fn entry_key(fields: &[String], value: &Value, creation_time: f64, id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        push_component(&mut out, value.get_path(f));
    }
    push_component(&mut out, Some(&Value::Float64(creation_time)));
    push_component(&mut out, Some(&Value::String(id.to_string())));
    out
}

/// The entries (index name, key) of `doc` in the indexes of its table.
pub(crate) fn entries(defs: &[IndexDef], doc: &Doc) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let mine: Vec<&IndexDef> = defs.iter().filter(|d| d.table == doc.table).collect();
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    Ok(keys_of(&mine, doc, &decoded(doc)?))
}

fn keys_of(defs: &[&IndexDef], doc: &Doc, value: &Value) -> Vec<(String, Vec<u8>)> {
    defs.iter()
        .map(|d| {
            (
                d.name.clone(),
                entry_key(&d.fields, value, doc.creation_time, &doc.id),
            )
        })
        .collect()
}

/// The entries a replace removes (`gone` but not `new`) and adds (`new` but not `gone`); those
/// that stay are left alone.
pub(crate) type Moved = (Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>);

pub(crate) fn moved(gone: Vec<(String, Vec<u8>)>, new: Vec<(String, Vec<u8>)>) -> Moved {
    let stale = gone.iter().filter(|e| !new.contains(e)).cloned().collect();
    let fresh = new.into_iter().filter(|e| !gone.contains(e)).collect();
    (stale, fresh)
}

/// Indexes built ahead of the push whose code will read them (kept beside the code, `code_meta`
/// key `ahead`, as `{"table.index": complete}`). Writes keep their entries like any index's;
/// queries do not read them; the push that commits the code makes them serving.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ahead(pub std::collections::BTreeMap<String, bool>);

impl Ahead {
    pub(crate) fn parse(text: Option<&str>) -> StoreResult<Ahead> {
        match text {
            None => Ok(Ahead::default()),
            Some(t) => serde_json::from_str(t)
                .map(Ahead)
                .map_err(|e| StoreError::Backend(format!("stored index builds: {e}"))),
        }
    }

    /// The text to store; `None` when no index is ahead.
    pub(crate) fn json(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::Value::from_iter(self.0.clone()).to_string())
    }

    /// Whether `name` is stored for a coming push, not for the code that serves.
    pub(crate) fn holds(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(crate) fn incomplete(&self, name: &str) -> bool {
        self.0.get(name) == Some(&false)
    }

    /// The indexes still being filled for which a write of a document of `table` marks it, so
    /// that their fill does not write an entry it read before: all of them for a delete
    /// (`put: None`), those whose entry the write puts for a change. A change that leaves an
    /// index's key as it was is not marked: the fill's entry, read before, is the same.
    pub(crate) fn to_mark<'a>(
        &'a self,
        defs: &'a [IndexDef],
        table: &'a str,
        put: Option<&'a [(String, Vec<u8>)]>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        defs.iter()
            .filter(move |d| d.table == table && self.incomplete(&d.name))
            .map(|d| d.name.as_str())
            .filter(move |name| put.is_none_or(|p| p.iter().any(|(n, _)| n == name)))
    }
}

/// What starting to build `wanted` ahead of its push does: `register` are stored (replacing an
/// ahead index of that name whose fields differ, its entries cleared) and marked incomplete;
/// `fill` are every index whose entries are still to be written. An index whose name serves
/// with other fields is left to the push's own transaction.
pub(crate) fn plan_ahead(
    stored: &[IndexDef],
    ahead: &Ahead,
    wanted: &[IndexDef],
) -> (Vec<IndexDef>, Vec<IndexDef>) {
    let (mut register, mut fill) = (Vec::new(), Vec::new());
    for w in wanted {
        match stored.iter().find(|s| s.name == w.name) {
            None => {
                register.push(w.clone());
                fill.push(w.clone());
            }
            Some(s) if ahead.holds(&w.name) => {
                if s != w {
                    register.push(w.clone());
                    fill.push(w.clone());
                } else if ahead.incomplete(&w.name) {
                    fill.push(w.clone());
                }
            }
            Some(_) => {}
        }
    }
    (register, fill)
}

/// What committing code whose schema wants `wanted` does to the stored indexes: `changes` is
/// what the push reports (against the indexes the old code served); `drop` lose their entries
/// and `build` are built in the commit's transaction (an incomplete ahead index is both).
pub(crate) struct CommitPlan {
    pub changes: IndexChanges,
    pub drop: Vec<IndexDef>,
    pub build: Vec<IndexDef>,
}

pub(crate) fn plan_commit(stored: &[IndexDef], ahead: &Ahead, wanted: &[IndexDef]) -> CommitPlan {
    let serving: Vec<IndexDef> = stored
        .iter()
        .filter(|s| !ahead.holds(&s.name))
        .cloned()
        .collect();
    CommitPlan {
        changes: IndexChanges::between(&serving, wanted),
        drop: stored
            .iter()
            .filter(|s| !wanted.contains(s) || ahead.incomplete(&s.name))
            .cloned()
            .collect(),
        build: wanted
            .iter()
            .filter(|w| !stored.contains(w) || ahead.incomplete(&w.name))
            .cloned()
            .collect(),
    }
}
