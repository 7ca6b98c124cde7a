//! A deployment's own data: its documents, its code (modules) and, later, its variables and logs.
//! With the embedded default each deployment is one SQLite file under
//! `<data-dir>/deployments/`, so deleting or copying a deployment is a file operation.

pub mod index;
pub mod postgres;
pub mod sqlite;

pub use index::{IndexChanges, IndexDef, SchemaDef};

use crate::StoreResult;

/// A stored document: its id, table, creation time and the whole value (system fields
/// included) as `convex_encoded_json` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub id: String,
    pub table: String,
    pub creation_time: f64,
    pub json: String,
}

/// Scan order by `_creationTime` (ties by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A bound on `_creationTime` for a scan: value and whether it is inclusive.
pub type Bound = Option<(f64, bool)>;

/// Where a scan continues from: after this (creation time, id) in scan order.
pub type Position = (f64, String);

/// One uploaded module: its path in `convex/` (e.g. `messages.ts`), original source, the
/// JavaScript berth runs, and the SHA-256 of the source.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleRecord {
    pub path: String,
    pub source: String,
    pub js: String,
    pub hash: String,
}

/// A push's code: the modules, what the push learned about them (`meta`, the functions as JSON
/// text the runtime writes and reads), and the schema.
#[derive(Debug, Clone, Default)]
pub struct Code {
    pub modules: Vec<ModuleRecord>,
    pub meta: String,
    pub schema: SchemaDef,
}

/// A table and how many documents it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub number: u32,
    pub documents: u64,
}

/// One deployment's data. The methods block: they are called from the runtime's worker threads
/// (or `spawn_blocking`), never from async tasks, so that a function's reads and writes cost no
/// thread hand-offs.
pub trait DocStore: Send + Sync {
    /// A transaction: `write` ones are serialized against each other; read ones see one snapshot.
    fn begin(&self, write: bool) -> StoreResult<Box<dyn DocTx>>;
    /// The deployed modules (empty before the first push).
    fn modules(&self) -> StoreResult<Vec<ModuleRecord>>;
    /// Replaces the code at once: every module, what the push learned about them (`meta`: the
    /// functions they export, as JSON text the runtime writes and reads), and the schema. An
    /// index that is new (or whose fields changed) is built from the table's documents in the
    /// same transaction; one that is gone loses its entries. With schema validation, a table
    /// whose document type changed is checked first: a document that does not match refuses the
    /// whole push (`SchemaMismatch`, naming it) and nothing changes.
    fn replace_code(
        &self,
        modules: &[ModuleRecord],
        meta: &str,
        schema: &SchemaDef,
    ) -> StoreResult<IndexChanges>;
    /// The indexes whose entries are stored.
    fn indexes(&self) -> StoreResult<Vec<IndexDef>>;
    /// The `meta` stored by the last push; `None` for code pushed before berth stored it.
    fn code_meta(&self) -> StoreResult<Option<String>>;
    /// The deployment's environment variables. The same `Arc` comes back until they change.
    fn env(&self) -> StoreResult<std::sync::Arc<std::collections::BTreeMap<String, String>>>;
    /// Sets (`Some`) or removes (`None`) variables, all at once.
    fn update_env(&self, changes: &[(String, Option<String>)]) -> StoreResult<()>;
}

/// Reads and writes inside one transaction. Dropping it without `commit` rolls back.
pub trait DocTx: Send {
    fn get(&mut self, id: &str) -> StoreResult<Option<Doc>>;
    fn insert(&mut self, doc: &Doc) -> StoreResult<()>;
    /// False when no document has that id.
    fn replace(&mut self, id: &str, json: &str) -> StoreResult<bool>;
    fn delete(&mut self, id: &str) -> StoreResult<bool>;
    /// Whether the entries of `index` (`table.index`) are stored, so it can be read by range.
    fn has_index(&mut self, index: &str) -> StoreResult<bool>;
    /// Documents of `index` whose keys are in `[lower, upper)`, with their keys, in key order
    /// (`Desc`: from the top), at most `limit`.
    fn index_scan(
        &mut self,
        index: &str,
        lower: &[u8],
        upper: &[u8],
        order: Order,
        limit: u32,
    ) -> StoreResult<Vec<(Vec<u8>, Doc)>>;
    /// Documents of `table` in `_creationTime` order within the bounds, after `after`.
    fn scan(
        &mut self,
        table: &str,
        order: Order,
        lower: Bound,
        upper: Bound,
        after: Option<&Position>,
        limit: u32,
    ) -> StoreResult<Vec<Doc>>;
    /// A `_creationTime` for a new document of `table`: `now`, or just after the newest one
    /// when the clock has not moved past it, so creation times only grow.
    fn creation_time(&mut self, table: &str, now: f64) -> StoreResult<f64>;
    /// The table's number, assigning one when `create` and it has none.
    fn table_number(&mut self, table: &str, create: bool) -> StoreResult<Option<u32>>;
    /// The name of the table with this number.
    fn table_name(&mut self, number: u32) -> StoreResult<Option<String>>;
    fn tables(&mut self) -> StoreResult<Vec<TableInfo>>;
    fn commit(self: Box<Self>) -> StoreResult<()>;
}
