//! A deployment's own data: its documents, its code (modules) and, later, its variables and logs.
//! With the embedded default each deployment is one SQLite file under
//! `<data-dir>/deployments/`, so deleting or copying a deployment is a file operation.

pub mod commits;
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
    /// index that is new (or whose fields changed) and was not built ahead is built from the
    /// table's documents in the same transaction; one that is gone loses its entries; those
    /// built ahead serve from now on. With schema validation, a table
    /// whose document type changed is checked first: a document that does not match refuses the
    /// whole push (`SchemaMismatch`, naming it) and nothing changes.
    fn replace_code(
        &self,
        modules: &[ModuleRecord],
        meta: &str,
        schema: &SchemaDef,
    ) -> StoreResult<IndexChanges>;
    /// Starts building the indexes of `wanted` that the running code does not have, ahead of
    /// the push that will serve them: they are stored (writes keep their entries from now on)
    /// but not read until that push commits. Returns those whose entries are still to be
    /// written, for [`fill_ahead`](Self::fill_ahead). An index whose name serves with other
    /// fields is left to the push's own transaction.
    fn begin_ahead(&self, wanted: &[IndexDef]) -> StoreResult<Vec<IndexDef>>;
    /// Writes entries of an index begun ahead (read from an earlier snapshot), in a write
    /// transaction of its own, skipping documents changed or deleted since the build began (those
    /// writes kept their own entries); with `last`, the index is complete from then on. Returns
    /// false (writing nothing) once the index is no longer being built: complete, or dropped by
    /// a push that committed without it.
    fn fill_ahead(
        &self,
        def: &IndexDef,
        entries: &[(Vec<u8>, String)],
        last: bool,
    ) -> StoreResult<bool>;
    /// The indexes the running code reads (not those being built ahead of a push).
    fn indexes(&self) -> StoreResult<Vec<IndexDef>>;
    /// The `meta` stored by the last push; `None` for code pushed before berth stored it.
    fn code_meta(&self) -> StoreResult<Option<String>>;
    /// The deployment's environment variables. The same `Arc` comes back until they change.
    fn env(&self) -> StoreResult<std::sync::Arc<std::collections::BTreeMap<String, String>>>;
    /// Sets (`Some`) or removes (`None`) variables, all at once.
    fn update_env(&self, changes: &[(String, Option<String>)]) -> StoreResult<()>;
}

/// How long (seconds) a socket mutation's answer is kept for a client that sends it again.
pub const REQUEST_ANSWERS_KEPT: f64 = 24.0 * 3600.0;

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
    /// The answer recorded for a client's request (`session`, `request`) by an earlier
    /// transaction: a mutation sent again after a reconnect is answered, not run twice.
    fn request_answer(&mut self, session: &str, request: u64) -> StoreResult<Option<String>>;
    /// Records a mutation's answer with its writes (and forgets answers older than
    /// [`REQUEST_ANSWERS_KEPT`] seconds): it commits with them or not at all.
    fn record_answer(
        &mut self,
        session: &str,
        request: u64,
        answer: &str,
        now: f64,
    ) -> StoreResult<()>;
    /// Commits; a write transaction that wrote something answers its commit's timestamp
    /// (announced with what it wrote to the deployment's [`commits::CommitHub`]).
    fn commit(self: Box<Self>) -> StoreResult<Option<u64>>;
}

/// How far a build of indexes ahead of a push has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildProgress {
    pub indexes_total: u32,
    pub indexes_done: u32,
    /// Documents whose entries are written, over every index being built.
    pub documents_done: u64,
    /// The documents of their tables when the build began.
    pub documents_total: u64,
}

/// Documents a build reads from one snapshot: their entries are sorted before they are written,
/// so each write transaction fills a narrow run of the index instead of pages all over it.
pub const AHEAD_CHUNK: u32 = 50_000;

/// Entries a build writes in one transaction: the deployment's writes wait at most that long.
pub const AHEAD_BATCH: usize = 2_000;

/// Builds the indexes of `wanted` that the running code does not have, ahead of the push that
/// will serve them ([`DocStore::begin_ahead`]), while the deployment's writes go on: documents
/// are read a chunk at a time from a snapshot, their entries sorted by key and written in short
/// write transactions ([`DocStore::fill_ahead`]). `progress` hears after each chunk. Safe to run
/// again (it goes on where entries are missing) and beside another build of the same indexes.
pub fn build_ahead(
    docs: &dyn DocStore,
    wanted: &[IndexDef],
    progress: &mut dyn FnMut(&BuildProgress),
) -> StoreResult<()> {
    let building = docs.begin_ahead(wanted)?;
    let sizes: std::collections::HashMap<String, u64> = {
        let mut tx = docs.begin(false)?;
        tx.tables()?
            .into_iter()
            .map(|t| (t.name, t.documents))
            .collect()
    };
    let mut p = BuildProgress {
        indexes_total: building.len() as u32,
        documents_total: building
            .iter()
            .map(|d| sizes.get(&d.table).copied().unwrap_or(0))
            .sum(),
        ..Default::default()
    };
    progress(&p);
    for def in &building {
        let (base, size) = (
            p.documents_done,
            sizes.get(&def.table).copied().unwrap_or(0),
        );
        let mut after: Option<Position> = None;
        'chunks: loop {
            // Written from a snapshot: what changes after it is skipped by `fill_ahead`.
            let (mut entries, next) = {
                let mut tx = docs.begin(false)?;
                let chunk = tx.scan(
                    &def.table,
                    Order::Asc,
                    None,
                    None,
                    after.as_ref(),
                    AHEAD_CHUNK,
                )?;
                let next = (chunk.len() == AHEAD_CHUNK as usize)
                    .then(|| chunk.last().map(|d| (d.creation_time, d.id.clone())))
                    .flatten();
                let mut entries = Vec::with_capacity(chunk.len());
                for d in chunk {
                    let key =
                        index::entry_key(&def.fields, &index::decoded(&d)?, d.creation_time, &d.id);
                    entries.push((key, d.id));
                }
                (entries, next)
            };
            entries.sort_unstable();
            let read = entries.len() as u64;
            let mut batches = entries.chunks(AHEAD_BATCH).peekable();
            if batches.peek().is_none() && !docs.fill_ahead(def, &[], next.is_none())? {
                break 'chunks;
            }
            while let Some(batch) = batches.next() {
                let last = next.is_none() && batches.peek().is_none();
                if !docs.fill_ahead(def, batch, last)? {
                    break 'chunks;
                }
            }
            p.documents_done = (p.documents_done + read).min(base + size);
            progress(&p);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        p.indexes_done += 1;
        p.documents_done = base + size;
        progress(&p);
    }
    Ok(())
}
