//! A deployment's data in its own SQLite file (WAL, `synchronous=NORMAL`), through `rusqlite` on
//! the calling thread. Write transactions use `BEGIN IMMEDIATE`, so two mutations on one
//! deployment never interleave; reads run in a deferred transaction and see one snapshot.
//!
//! A [`SqliteDocStore`] is a deployment's door to its current file. Every transaction and every
//! read of code or variables passes a gate; replacing the file (a reset from another
//! deployment) closes the gate, waits until nothing holds the old file, switches to the new one
//! and opens the gate again, so no call ever reads or writes a file that is being replaced.

use super::{
    Bound, Doc, DocStore, DocTx, IndexChanges, IndexDef, ModuleRecord, Order, Position, SchemaDef,
    TableInfo, index,
};
use crate::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    id            TEXT PRIMARY KEY,
    table_name    TEXT NOT NULL,
    creation_time REAL NOT NULL,
    value         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_creation ON documents (table_name, creation_time, id);
CREATE TABLE IF NOT EXISTS tables (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    name   TEXT NOT NULL UNIQUE
);
INSERT OR IGNORE INTO sqlite_sequence (name, seq) SELECT 'tables', 10000 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tables');
CREATE TABLE IF NOT EXISTS env (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS modules (
    path   TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    js     TEXT NOT NULL,
    hash   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS code_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS indexes (
    name       TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    fields     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ahead_dirty (
    index_name TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    PRIMARY KEY (index_name, doc_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_answers (
    session TEXT NOT NULL,
    request INTEGER NOT NULL,
    answer  TEXT NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (session, request)
);
CREATE INDEX IF NOT EXISTS request_answers_by_age ON request_answers (at);
CREATE TABLE IF NOT EXISTS index_entries (
    index_name TEXT NOT NULL,
    key        BLOB NOT NULL,
    doc_id     TEXT NOT NULL,
    PRIMARY KEY (index_name, key)
) WITHOUT ROWID;
";

/// How long a call waits for a deployment whose data is being replaced before it gives up.
const GATE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Idle connections kept per deployment.
const IDLE: usize = 4;

fn err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// What this process (the only writer of the file) remembers between transactions: table
/// numbers once read, and the newest creation time handed out per table.
#[derive(Default)]
struct Memo {
    tables: HashMap<String, u32>,
    last_creation: HashMap<String, f64>,
    env: Option<Arc<std::collections::BTreeMap<String, String>>>,
    /// Bumped by every change of the variables: a read that raced a change is not cached.
    env_version: u64,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    memo: Mutex<Memo>,
}

impl Inner {
    fn connect(&self) -> StoreResult<Connection> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut i| i.pop()) {
            return Ok(c);
        }
        let c = Connection::open(&self.path).map_err(err)?;
        c.execute_batch(
            // Reads through a memory map of the file (the OS's page cache, shared by every
            // connection) instead of a read call per page missing from SQLite's own small cache.
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
             PRAGMA mmap_size = 268435456;",
        )
        .map_err(err)?;
        // Plans that do not depend on bound values: otherwise a bound `LIMIT ?` marks a
        // statement for a new plan at every bind, and each index read was parsed and planned
        // again (4% of a lookup's server time).
        c.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(err)?;
        Ok(c)
    }

    fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(c);
        }
    }
}

/// Who is inside a deployment's data, and whether the door is closed for a file swap or for good.
#[derive(Default)]
struct GateState {
    /// Transactions and reads under way.
    inside: usize,
    /// A swap is waiting for, or holding, the file alone.
    closed: bool,
    /// The deployment was deleted: nothing enters again.
    dropped: bool,
}

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: std::sync::Condvar,
}

type GateGuard<'a> = std::sync::MutexGuard<'a, GateState>;

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("deployment gate poisoned".into())
}

impl Gate {
    fn lock(&self) -> StoreResult<GateGuard<'_>> {
        self.state.lock().map_err(poisoned)
    }

    /// Waits while `cond` holds, at most [`GATE_WAIT`]; answers the guard and whether `cond`
    /// still holds (the wait timed out).
    fn wait_while<'a>(
        &'a self,
        mut s: GateGuard<'a>,
        cond: impl Fn(&GateState) -> bool,
    ) -> StoreResult<(GateGuard<'a>, bool)> {
        let until = std::time::Instant::now() + GATE_WAIT;
        while cond(&s) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok((s, true));
            }
            s = self.changed.wait_timeout(s, left).map_err(poisoned)?.0;
        }
        Ok((s, false))
    }
}

/// A place inside the gate; leaving (dropping it) may let a waiting swap go ahead.
struct Ticket(Arc<Gate>);

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.state.lock() {
            s.inside -= 1;
        }
        self.0.changed.notify_all();
    }
}

/// A deployment's code as a reset keeps it, and its variables.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeAndEnv {
    modules: Vec<ModuleRecord>,
    /// The functions, as stored with the modules.
    meta: Option<String>,
    /// The schema's document types, as stored with the modules.
    types: Option<String>,
    indexes: Vec<IndexDef>,
    env: Vec<(String, String)>,
}

/// The deployment's data held alone (no transaction open, none can start) until dropped.
pub struct Exclusive {
    store: Arc<SqliteDocStore>,
}

impl Exclusive {
    /// The file the deployment uses now.
    pub fn path(&self) -> PathBuf {
        self.store.current().path.clone()
    }

    /// The deployment's code and variables, read from the current file.
    pub fn code_and_env(&self) -> StoreResult<CodeAndEnv> {
        read_code_and_env(&self.store.current())
    }

    /// Opens the file at `path` (complete: the next generation) for [`install`](Self::install).
    pub fn open_next(&self, path: &Path) -> StoreResult<NextFile> {
        Ok(NextFile(Inner::open(path)?))
    }

    /// Switches the deployment to `next` and returns the file it used before, closed, for the
    /// caller to delete. Cannot fail: the new file is already open.
    pub fn install(&self, next: NextFile) -> PathBuf {
        let mut current = match self.store.inner.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let old = std::mem::replace(&mut *current, next.0);
        old.close();
        old.path.clone()
    }
}

/// A deployment's next file, open and ready to take over.
pub struct NextFile(Arc<Inner>);

fn read_code_and_env(inner: &Inner) -> StoreResult<CodeAndEnv> {
    let c = inner.connect()?;
    let code = CodeAndEnv {
        modules: read_modules(&c)?,
        meta: read_meta(&c)?,
        types: read_meta_key(&c, "schema")?,
        // Those being built ahead of a push are left behind.
        indexes: serving_indexes(&c)?,
        env: read_env(&c)?.into_iter().collect(),
    };
    inner.give_back(c);
    Ok(code)
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let Ok(mut s) = self.store.gate.state.lock() {
            s.closed = false;
        }
        self.store.gate.changed.notify_all();
    }
}

pub struct SqliteDocStore {
    gate: Arc<Gate>,
    inner: Mutex<Arc<Inner>>,
    /// The deployment's id, under which its commits are announced.
    deployment: i64,
    commits: Arc<super::commits::CommitHub>,
}

impl Inner {
    fn open(file: &Path) -> StoreResult<Arc<Inner>> {
        // Created private before SQLite opens it: its `-wal` and `-shm` files take its mode.
        create_private(file)?;
        let inner = Arc::new(Inner {
            path: file.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            memo: Default::default(),
        });
        let c = inner.connect()?;
        c.execute_batch(SCHEMA).map_err(err)?;
        inner.give_back(c);
        private_file(file)?;
        Ok(inner)
    }
}

/// Makes a database file and its `-wal` and `-shm` files readable by this user only (they hold
/// secrets: environment variables).
pub(crate) fn private_file(file: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut p = file.as_os_str().to_os_string();
        p.push(suffix);
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "restrict {}: {e}",
                    file.display()
                )));
            }
        }
    }
    Ok(())
}

/// Creates `file` empty with mode 0600 when it does not exist yet.
fn create_private(file: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(file)
        .map(|_| ())
        .map_err(|e| StoreError::Backend(format!("create {}: {e}", file.display())))
}

fn read_modules(conn: &Connection) -> StoreResult<Vec<ModuleRecord>> {
    let mut st = conn
        .prepare_cached("SELECT path, source, js, hash FROM modules ORDER BY path")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| {
            Ok(ModuleRecord {
                path: r.get(0)?,
                source: r.get(1)?,
                js: r.get(2)?,
                hash: r.get(3)?,
            })
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

fn read_meta(conn: &Connection) -> StoreResult<Option<String>> {
    read_meta_key(conn, "functions")
}

fn read_meta_key(conn: &Connection, key: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT value FROM code_meta WHERE key = ?1")
        .map_err(err)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(err)
}

fn write_meta_key(conn: &Connection, key: &str, value: Option<&str>) -> StoreResult<()> {
    conn.execute("DELETE FROM code_meta WHERE key = ?1", [key])
        .map_err(err)?;
    if let Some(value) = value {
        conn.execute(
            "INSERT INTO code_meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
        .map_err(err)?;
    }
    Ok(())
}

fn read_types(conn: &Connection) -> StoreResult<index::Types> {
    let (validation, tables) = SchemaDef::types_from(read_meta_key(conn, "schema")?.as_deref())?;
    Ok(index::Types::new(validation, tables))
}

fn read_table_names(conn: &Connection) -> StoreResult<HashMap<u32, String>> {
    let mut st = conn
        .prepare_cached("SELECT number, name FROM tables")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(err)?;
    let mut out = HashMap::new();
    for row in rows {
        let (n, name) = row.map_err(err)?;
        if let Ok(n) = u32::try_from(n) {
            out.insert(n, name);
        }
    }
    Ok(out)
}

/// Checks every document of the tables whose type `schema` changes (or every typed table when
/// validation is newly on) against it, in `conn`'s transaction.
fn check_existing(conn: &Connection, schema: &SchemaDef) -> StoreResult<()> {
    if !schema.validation {
        return Ok(());
    }
    let before = read_types(conn)?;
    let names = read_table_names(conn)?;
    for (table, ty) in &schema.document_types {
        if before.validation && before.tables.get(table) == Some(ty) {
            continue;
        }
        let mut st = conn
            .prepare(
                "SELECT id, table_name, creation_time, value FROM documents WHERE table_name = ?1",
            )
            .map_err(err)?;
        let rows = st.query_map([table], doc).map_err(err)?;
        for row in rows {
            let d = row.map_err(err)?;
            if let Err(details) = index::check_against(ty, &d, &names) {
                return Err(StoreError::SchemaMismatch(format!(
                    "Document with ID \"{}\" in table \"{table}\" does not match the schema: {details}",
                    d.id
                )));
            }
        }
    }
    Ok(())
}

fn read_env(conn: &Connection) -> StoreResult<std::collections::BTreeMap<String, String>> {
    let mut st = conn
        .prepare_cached("SELECT name, value FROM env")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(err)?;
    rows.collect::<Result<std::collections::BTreeMap<_, _>, _>>()
        .map_err(err)
}

/// Writes modules and their metadata in place of the old ones, in `conn`'s transaction.
fn write_code(conn: &Connection, modules: &[ModuleRecord], meta: Option<&str>) -> StoreResult<()> {
    conn.execute("DELETE FROM modules", []).map_err(err)?;
    for m in modules {
        conn.execute(
            "INSERT INTO modules (path, source, js, hash) VALUES (?1, ?2, ?3, ?4)",
            params![m.path, m.source, m.js, m.hash],
        )
        .map_err(err)?;
    }
    write_meta_key(conn, "functions", meta)
}

fn write_env(conn: &Connection, changes: &[(String, Option<String>)]) -> StoreResult<()> {
    for (name, value) in changes {
        match value {
            Some(v) => conn
                .execute(
                    "INSERT INTO env (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![name, v],
                )
                .map_err(err)?,
            None => conn
                .execute("DELETE FROM env WHERE name = ?1", [name])
                .map_err(err)?,
        };
    }
    Ok(())
}

fn read_index_defs(conn: &Connection) -> StoreResult<Vec<IndexDef>> {
    let mut st = conn
        .prepare_cached("SELECT name, table_name, fields FROM indexes ORDER BY name")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, table, fields) = row.map_err(err)?;
        out.push(IndexDef {
            name,
            table,
            fields: IndexDef::parse_fields(&fields)?,
        });
    }
    Ok(out)
}

fn put_entries(conn: &Connection, entries: &[(String, Vec<u8>)], id: &str) -> StoreResult<()> {
    let mut st = conn
        .prepare_cached("INSERT INTO index_entries (index_name, key, doc_id) VALUES (?1, ?2, ?3)")
        .map_err(err)?;
    for (name, key) in entries {
        st.execute(params![name, key, id]).map_err(err)?;
    }
    Ok(())
}

fn drop_entries(conn: &Connection, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
    let mut st = conn
        .prepare_cached("DELETE FROM index_entries WHERE index_name = ?1 AND key = ?2")
        .map_err(err)?;
    for (name, key) in entries {
        st.execute(params![name, key]).map_err(err)?;
    }
    Ok(())
}

/// Makes the stored indexes those of `wanted`, in `conn`'s transaction: entries of indexes that
/// are gone are deleted, new ones (and ones built ahead but not finished) are built from their
/// table's documents, and the indexes built ahead serve from now on.
fn sync_indexes(conn: &Connection, wanted: &[IndexDef]) -> StoreResult<IndexChanges> {
    let stored = read_index_defs(conn)?;
    let plan = index::plan_commit(&stored, &read_ahead(conn)?, wanted);
    for r in &plan.drop {
        clear_index(conn, &r.name)?;
        conn.execute("DELETE FROM indexes WHERE name = ?1", [&r.name])
            .map_err(err)?;
    }
    for a in &plan.build {
        register_index(conn, a)?;
        build_index(conn, a)?;
    }
    write_meta_key(conn, "ahead", None)?;
    conn.execute("DELETE FROM ahead_dirty", []).map_err(err)?;
    Ok(plan.changes)
}

/// The indexes the running code reads: those being built ahead of a push left out.
fn serving_indexes(conn: &Connection) -> StoreResult<Vec<IndexDef>> {
    let ahead = read_ahead(conn)?;
    let mut defs = read_index_defs(conn)?;
    defs.retain(|d| !ahead.holds(&d.name));
    Ok(defs)
}

fn read_ahead(conn: &Connection) -> StoreResult<index::Ahead> {
    index::Ahead::parse(read_meta_key(conn, "ahead")?.as_deref())
}

/// Deletes an index's entries (and what a build of it had marked).
fn clear_index(conn: &Connection, name: &str) -> StoreResult<()> {
    for sql in [
        "DELETE FROM index_entries WHERE index_name = ?1",
        "DELETE FROM ahead_dirty WHERE index_name = ?1",
    ] {
        conn.execute(sql, [name]).map_err(err)?;
    }
    Ok(())
}

fn register_index(conn: &Connection, def: &IndexDef) -> StoreResult<()> {
    conn.execute(
        "INSERT OR REPLACE INTO indexes (name, table_name, fields) VALUES (?1, ?2, ?3)",
        params![def.name, def.table, def.fields_json()],
    )
    .map(|_| ())
    .map_err(err)
}

/// Builds the entries of `def` from its table's documents, in `conn`'s transaction: sorted by
/// key a chunk at a time, so the inserts fill runs of the index instead of pages all over it.
fn build_index(conn: &Connection, def: &IndexDef) -> StoreResult<()> {
    let mut docs = conn
        .prepare_cached(
            "SELECT id, table_name, creation_time, value FROM documents WHERE table_name = ?1",
        )
        .map_err(err)?;
    let rows = docs.query_map([&def.table], doc).map_err(err)?;
    let mut put = conn
        .prepare_cached("INSERT INTO index_entries (index_name, key, doc_id) VALUES (?1, ?2, ?3)")
        .map_err(err)?;
    let mut chunk: Vec<(Vec<u8>, String)> = Vec::new();
    let mut flush = |chunk: &mut Vec<(Vec<u8>, String)>| -> StoreResult<()> {
        chunk.sort_unstable();
        for (key, id) in chunk.drain(..) {
            put.execute(params![def.name, key, id]).map_err(err)?;
        }
        Ok(())
    };
    for row in rows {
        let d = row.map_err(err)?;
        let key = index::entry_key(&def.fields, &index::decoded(&d)?, d.creation_time, &d.id);
        chunk.push((key, d.id));
        if chunk.len() == super::AHEAD_CHUNK as usize {
            flush(&mut chunk)?;
        }
    }
    flush(&mut chunk)
}

/// Prepares a copy made by [`SqliteDocStore::snapshot_into`] to become `to`'s next file: `to`'s
/// own code (and its own variables, unless the copy keeps the source's) replace the source's.
pub fn adopt_copy(copy: &Path, code: &CodeAndEnv, with_env: bool) -> StoreResult<()> {
    let env = (!with_env).then_some(code.env.as_slice());
    let mut c = Connection::open(copy).map_err(err)?;
    c.execute_batch(SCHEMA).map_err(err)?;
    let tx = c.transaction().map_err(err)?;
    write_code(&tx, &code.modules, code.meta.as_deref())?;
    write_meta_key(&tx, "schema", code.types.as_deref())?;
    // The target's own indexes: kept where the source had the same, built where not.
    sync_indexes(&tx, &code.indexes)?;
    if let Some(env) = env {
        tx.execute("DELETE FROM env", []).map_err(err)?;
        let changes: Vec<(String, Option<String>)> = env
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        write_env(&tx, &changes)?;
    }
    tx.commit().map_err(err)?;
    c.execute_batch("PRAGMA journal_mode = WAL;").map_err(err)?;
    drop(c);
    private_file(copy)
}

impl SqliteDocStore {
    /// Opens (creating) the deployment's file. Only the store calls this, for a deployment whose
    /// row it has just read.
    pub fn open(file: &Path) -> StoreResult<Self> {
        Self::open_announcing(file, 0, Default::default())
    }

    /// Opens deployment `deployment`'s file; its commits are announced on `commits`.
    pub fn open_announcing(
        file: &Path,
        deployment: i64,
        commits: Arc<super::commits::CommitHub>,
    ) -> StoreResult<Self> {
        Ok(Self {
            gate: Default::default(),
            inner: Mutex::new(Inner::open(file)?),
            deployment,
            commits,
        })
    }

    fn current(&self) -> Arc<Inner> {
        match self.inner.lock() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Enters the gate: waits while a swap holds the data, fails once the deployment is gone.
    fn enter(&self) -> StoreResult<(Ticket, Arc<Inner>)> {
        let (mut s, timed_out) = self
            .gate
            .wait_while(self.gate.lock()?, |s| s.closed && !s.dropped)?;
        if s.dropped {
            return Err(StoreError::Backend(
                "the deployment was deleted while this call was running".into(),
            ));
        }
        if timed_out {
            return Err(StoreError::Busy(
                "the deployment's data is being replaced (a reset); try again in a moment".into(),
            ));
        }
        s.inside += 1;
        drop(s);
        Ok((Ticket(self.gate.clone()), self.current()))
    }

    /// Closes the gate and waits until every transaction has left: the caller then holds the
    /// data alone until it drops the returned guard.
    pub fn exclusive(self: &Arc<Self>) -> StoreResult<Exclusive> {
        let (mut s, timed_out) = self.gate.wait_while(self.gate.lock()?, |s| s.closed)?;
        if timed_out {
            return Err(StoreError::Busy(
                "another reset of this deployment is under way; try again when it has finished"
                    .into(),
            ));
        }
        if s.dropped {
            return Err(StoreError::Backend("the deployment was deleted".into()));
        }
        s.closed = true;
        // The calls inside get as long to finish as a call waits at the gate.
        let (mut s, timed_out) = self.gate.wait_while(s, |s| s.inside > 0)?;
        if timed_out {
            s.closed = false;
            drop(s);
            self.gate.changed.notify_all();
            return Err(StoreError::Busy(
                "calls on the deployment did not finish within 30 s; try the reset again".into(),
            ));
        }
        drop(s);
        Ok(Exclusive {
            store: self.clone(),
        })
    }

    /// The deployment's code and variables, read while calls go on.
    pub fn code_and_env(&self) -> StoreResult<CodeAndEnv> {
        let (_ticket, inner) = self.enter()?;
        read_code_and_env(&inner)
    }

    /// Writes a consistent snapshot of this deployment's whole file to `to` (which must not
    /// exist), with SQLite's `VACUUM INTO`: a file-level copy, as fast as the disk.
    pub fn snapshot_into(&self, to: &Path) -> StoreResult<()> {
        let (_ticket, inner) = self.enter()?;
        let c = inner.connect()?;
        let done = c
            .execute("VACUUM INTO ?1", [to.to_string_lossy().as_ref()])
            .map(|_| ())
            .map_err(err);
        inner.give_back(c);
        done
    }

    /// Closes the deployment's data if nothing is inside (for the open-data cache, which calls it
    /// only on data nobody else holds); returns whether it did. Never waits.
    pub fn retire_if_idle(&self) -> bool {
        let Ok(mut s) = self.gate.lock() else {
            return false;
        };
        if s.inside > 0 || s.closed {
            return false;
        }
        s.dropped = true;
        drop(s);
        self.current().close();
        true
    }

    /// Shuts the deployment's data for good (it is being deleted): calls under way finish,
    /// new ones are refused, and idle connections are closed so the files can go.
    pub fn close_for_good(&self) {
        if let Ok(mut s) = self.gate.lock() {
            s.dropped = true;
            // Calls waiting at the gate leave at once; calls inside get their time to finish.
            self.gate.changed.notify_all();
            let _ = self.gate.wait_while(s, |s| s.inside > 0);
        }
        self.gate.changed.notify_all();
        self.current().close();
    }

    /// The file the deployment uses now.
    pub fn path(&self) -> PathBuf {
        self.current().path.clone()
    }

    /// Runs `f` in a write transaction of its own, committed when `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let (_ticket, inner) = self.enter()?;
        let mut conn = inner.connect()?;
        let out = (|| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            let out = f(&tx)?;
            tx.commit().map_err(err)?;
            Ok(out)
        })();
        inner.give_back(conn);
        out
    }
}

impl DocStore for SqliteDocStore {
    fn begin(&self, write: bool) -> StoreResult<Box<dyn DocTx>> {
        let (ticket, inner) = self.enter()?;
        let conn = inner.connect()?;
        conn.execute_batch(if write { "BEGIN IMMEDIATE" } else { "BEGIN" })
            .map_err(err)?;
        Ok(Box::new(SqliteDocTx {
            conn: Some(conn),
            inner,
            done: false,
            new_tables: HashMap::new(),
            defs: None,
            types: None,
            ahead: None,
            writes: Default::default(),
            announce: write.then(|| (self.deployment, self.commits.clone())),
            _ticket: ticket,
        }))
    }

    fn modules(&self) -> StoreResult<Vec<ModuleRecord>> {
        let (_ticket, inner) = self.enter()?;
        let conn = inner.connect()?;
        let out = read_modules(&conn)?;
        inner.give_back(conn);
        Ok(out)
    }

    fn replace_code(
        &self,
        modules: &[ModuleRecord],
        meta: &str,
        schema: &SchemaDef,
    ) -> StoreResult<IndexChanges> {
        self.write(|tx| {
            check_existing(tx, schema)?;
            write_code(tx, modules, Some(meta))?;
            write_meta_key(tx, "schema", Some(&schema.types_json()))?;
            sync_indexes(tx, &schema.indexes)
        })
    }

    fn begin_ahead(&self, wanted: &[IndexDef]) -> StoreResult<Vec<IndexDef>> {
        self.write(|tx| {
            let mut ahead = read_ahead(tx)?;
            let (register, fill) = index::plan_ahead(&read_index_defs(tx)?, &ahead, wanted);
            for r in &register {
                clear_index(tx, &r.name)?;
                register_index(tx, r)?;
                ahead.0.insert(r.name.clone(), false);
            }
            if !register.is_empty() {
                write_meta_key(tx, "ahead", ahead.json().as_deref())?;
            }
            Ok(fill)
        })
    }

    fn fill_ahead(
        &self,
        def: &IndexDef,
        entries: &[(Vec<u8>, String)],
        last: bool,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let mut ahead = read_ahead(tx)?;
            if !ahead.incomplete(&def.name) || !read_index_defs(tx)?.contains(def) {
                return Ok(false);
            }
            let mut changed = tx
                .prepare_cached("SELECT 1 FROM ahead_dirty WHERE index_name = ?1 AND doc_id = ?2")
                .map_err(err)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO index_entries (index_name, key, doc_id) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (key, id) in entries {
                if !changed.exists(params![def.name, id]).map_err(err)? {
                    put.execute(params![def.name, key, id]).map_err(err)?;
                }
            }
            if last {
                ahead.0.insert(def.name.clone(), true);
                write_meta_key(tx, "ahead", ahead.json().as_deref())?;
                tx.execute("DELETE FROM ahead_dirty WHERE index_name = ?1", [&def.name])
                    .map_err(err)?;
            }
            Ok(true)
        })
    }

    fn indexes(&self) -> StoreResult<Vec<IndexDef>> {
        let (_ticket, inner) = self.enter()?;
        let conn = inner.connect()?;
        let out = serving_indexes(&conn)?;
        inner.give_back(conn);
        Ok(out)
    }

    fn code_meta(&self) -> StoreResult<Option<String>> {
        let (_ticket, inner) = self.enter()?;
        let conn = inner.connect()?;
        let out = read_meta(&conn)?;
        inner.give_back(conn);
        Ok(out)
    }

    fn env(&self) -> StoreResult<Arc<std::collections::BTreeMap<String, String>>> {
        let (_ticket, inner) = self.enter()?;
        let version = match inner.memo.lock() {
            Ok(m) => match &m.env {
                Some(e) => return Ok(e.clone()),
                None => m.env_version,
            },
            Err(_) => u64::MAX,
        };
        let conn = inner.connect()?;
        let vars = read_env(&conn)?;
        inner.give_back(conn);
        let vars = Arc::new(vars);
        if let Ok(mut m) = inner.memo.lock()
            && m.env_version == version
        {
            m.env = Some(vars.clone());
        }
        Ok(vars)
    }

    fn update_env(&self, changes: &[(String, Option<String>)]) -> StoreResult<()> {
        self.write(|tx| write_env(tx, changes))?;
        if let Ok(mut m) = self.current().memo.lock() {
            m.env = None;
            m.env_version += 1;
        }
        Ok(())
    }
}

struct SqliteDocTx {
    conn: Option<Connection>,
    inner: Arc<Inner>,
    done: bool,
    /// Table numbers this transaction assigned or first read: remembered for good only once it
    /// commits, since a rollback takes the numbers back.
    new_tables: HashMap<String, u32>,
    /// The stored indexes, read once per transaction (a push changes them only in a
    /// transaction of its own).
    defs: Option<Arc<Vec<IndexDef>>>,
    /// The schema's document types, read once per transaction.
    types: Option<Arc<index::Types>>,
    /// The indexes being built ahead of a push, read once per transaction.
    ahead: Option<Arc<index::Ahead>>,
    /// What this transaction wrote, announced when it commits.
    writes: super::commits::WriteSet,
    /// Where a write transaction announces its commit: the deployment and the hub.
    announce: Option<(i64, Arc<super::commits::CommitHub>)>,
    /// Declared last: the transaction leaves the gate after its connection is back.
    _ticket: Ticket,
}

impl Drop for SqliteDocTx {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !self.done && c.execute_batch("ROLLBACK").is_err() {
                return; // a connection in an unknown state is not reused
            }
            self.inner.give_back(c);
        }
    }
}

fn doc(r: &rusqlite::Row<'_>) -> rusqlite::Result<Doc> {
    Ok(Doc {
        id: r.get(0)?,
        table: r.get(1)?,
        creation_time: r.get(2)?,
        json: r.get(3)?,
    })
}

impl SqliteDocTx {
    fn c(&self) -> StoreResult<&Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the transaction is finished".into()))
    }

    fn defs(&mut self) -> StoreResult<Arc<Vec<IndexDef>>> {
        if let Some(d) = &self.defs {
            return Ok(d.clone());
        }
        let defs = Arc::new(read_index_defs(self.c()?)?);
        self.defs = Some(defs.clone());
        Ok(defs)
    }

    fn types(&mut self) -> StoreResult<Arc<index::Types>> {
        if let Some(t) = &self.types {
            return Ok(t.clone());
        }
        let types = Arc::new(read_types(self.c()?)?);
        self.types = Some(types.clone());
        Ok(types)
    }

    fn ahead(&mut self) -> StoreResult<Arc<index::Ahead>> {
        if let Some(a) = &self.ahead {
            return Ok(a.clone());
        }
        let ahead = Arc::new(read_ahead(self.c()?)?);
        self.ahead = Some(ahead.clone());
        Ok(ahead)
    }

    /// Marks a changed or deleted document for the builds that must skip it
    /// ([`index::Ahead::to_mark`]).
    fn mark_changed(
        &mut self,
        defs: &[IndexDef],
        old: &Doc,
        put: Option<&[(String, Vec<u8>)]>,
    ) -> StoreResult<()> {
        let ahead = self.ahead()?;
        let c = self.c()?;
        for name in ahead.to_mark(defs, &old.table, put) {
            c.prepare_cached(
                "INSERT OR IGNORE INTO ahead_dirty (index_name, doc_id) VALUES (?1, ?2)",
            )
            .map_err(err)?
            .execute(params![name, old.id])
            .map_err(err)?;
        }
        Ok(())
    }

    /// The index entries of `d`, after checking it against the schema.
    fn prepare(&mut self, d: &Doc) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let (defs, types) = (self.defs()?, self.types()?);
        let c = self.c()?;
        index::prepare_write(&defs, &types, d, || read_table_names(c))
    }
}

impl DocTx for SqliteDocTx {
    fn get(&mut self, id: &str) -> StoreResult<Option<Doc>> {
        self.c()?
            .prepare_cached(
                "SELECT id, table_name, creation_time, value FROM documents WHERE id = ?1",
            )
            .map_err(err)?
            .query_row([id], doc)
            .optional()
            .map_err(err)
    }

    fn insert(&mut self, d: &Doc) -> StoreResult<()> {
        let entries = self.prepare(d)?;
        let c = self.c()?;
        c.prepare_cached(
            "INSERT INTO documents (id, table_name, creation_time, value) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(err)?
        .execute(params![d.id, d.table, d.creation_time, d.json])
        .map_err(err)?;
        put_entries(c, &entries, &d.id)?;
        self.writes.wrote(&d.table, &d.id, entries);
        Ok(())
    }

    fn replace(&mut self, id: &str, json: &str) -> StoreResult<bool> {
        let defs = self.defs()?;
        let typed = self.types()?.validation;
        let old = if defs.is_empty() && !typed {
            None
        } else {
            self.get(id)?
        };
        let moved = match &old {
            Some(old) => {
                let new = self.prepare(&Doc {
                    json: json.to_string(),
                    ..old.clone()
                })?;
                let moved = index::moved(index::entries(&defs, old)?, new);
                self.mark_changed(&defs, old, Some(&moved.1))?;
                Some(moved)
            }
            None => None,
        };
        let c = self.c()?;
        let n = c
            .prepare_cached("UPDATE documents SET value = ?1 WHERE id = ?2")
            .map_err(err)?
            .execute(params![json, id])
            .map_err(err)?;
        if let Some((stale, fresh)) = moved {
            drop_entries(c, &stale)?;
            put_entries(c, &fresh, id)?;
            if let Some(old) = &old {
                self.writes
                    .wrote(&old.table, id, stale.into_iter().chain(fresh));
            }
        } else if n > 0 {
            // No index nor schema: the table is known from the id's number.
            let table =
                berth_value::ids::table_number(id).and_then(|n| self.table_name(n).ok().flatten());
            if let Some(t) = table {
                self.writes.wrote(&t, id, []);
            }
        }
        Ok(n > 0)
    }

    fn delete(&mut self, id: &str) -> StoreResult<bool> {
        let defs = self.defs()?;
        let old = if defs.is_empty() { None } else { self.get(id)? };
        let c = self.c()?;
        let n = c
            .prepare_cached("DELETE FROM documents WHERE id = ?1")
            .map_err(err)?
            .execute([id])
            .map_err(err)?;
        if let Some(old) = old {
            let gone = index::entries(&defs, &old)?;
            drop_entries(c, &gone)?;
            self.mark_changed(&defs, &old, None)?;
            self.writes.wrote(&old.table, id, gone);
        } else if n > 0 {
            let table =
                berth_value::ids::table_number(id).and_then(|n| self.table_name(n).ok().flatten());
            if let Some(t) = table {
                self.writes.wrote(&t, id, []);
            }
        }
        Ok(n > 0)
    }

    fn has_index(&mut self, index: &str) -> StoreResult<bool> {
        Ok(self.defs()?.iter().any(|d| d.name == index) && !self.ahead()?.holds(index))
    }

    fn index_scan(
        &mut self,
        index: &str,
        lower: &[u8],
        upper: &[u8],
        order: Order,
        limit: u32,
    ) -> StoreResult<Vec<(Vec<u8>, Doc)>> {
        let c = self.c()?;
        let mut st = c
            .prepare_cached(if order == Order::Asc {
                "SELECT e.key, d.id, d.table_name, d.creation_time, d.value FROM index_entries e
                 JOIN documents d ON d.id = e.doc_id
                 WHERE e.index_name = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key ASC LIMIT ?4"
            } else {
                "SELECT e.key, d.id, d.table_name, d.creation_time, d.value FROM index_entries e
                 JOIN documents d ON d.id = e.doc_id
                 WHERE e.index_name = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key DESC LIMIT ?4"
            })
            .map_err(err)?;
        let rows = st
            .query_map(params![index, lower, upper, i64::from(limit)], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    Doc {
                        id: r.get(1)?,
                        table: r.get(2)?,
                        creation_time: r.get(3)?,
                        json: r.get(4)?,
                    },
                ))
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn scan(
        &mut self,
        table: &str,
        order: Order,
        lower: Bound,
        upper: Bound,
        after: Option<&Position>,
        limit: u32,
    ) -> StoreResult<Vec<Doc>> {
        let mut sql = String::from(
            "SELECT id, table_name, creation_time, value FROM documents WHERE table_name = ?1",
        );
        let lo = lower.map(|(v, _)| v).unwrap_or(f64::NEG_INFINITY);
        let hi = upper.map(|(v, _)| v).unwrap_or(f64::INFINITY);
        sql.push_str(match lower {
            Some((_, true)) => " AND creation_time >= ?2",
            Some((_, false)) => " AND creation_time > ?2",
            None => " AND ?2 IS NOT NULL",
        });
        sql.push_str(match upper {
            Some((_, true)) => " AND creation_time <= ?3",
            Some((_, false)) => " AND creation_time < ?3",
            None => " AND ?3 IS NOT NULL",
        });
        let (at, aid) = match after {
            Some((t, id)) => {
                sql.push_str(if order == Order::Asc {
                    " AND (creation_time, id) > (?4, ?5)"
                } else {
                    " AND (creation_time, id) < (?4, ?5)"
                });
                (*t, id.clone())
            }
            None => {
                sql.push_str(" AND ?4 IS NOT NULL AND ?5 IS NOT NULL");
                (0.0, String::new())
            }
        };
        sql.push_str(if order == Order::Asc {
            " ORDER BY creation_time ASC, id ASC LIMIT ?6"
        } else {
            " ORDER BY creation_time DESC, id DESC LIMIT ?6"
        });
        let c = self.c()?;
        let mut st = c.prepare_cached(&sql).map_err(err)?;
        let rows = st
            .query_map(params![table, lo, hi, at, aid, i64::from(limit)], doc)
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn request_answer(&mut self, session: &str, request: u64) -> StoreResult<Option<String>> {
        self.c()?
            .prepare_cached(
                "SELECT answer FROM request_answers WHERE session = ?1 AND request = ?2",
            )
            .map_err(err)?
            .query_row(rusqlite::params![session, request as i64], |r| r.get(0))
            .optional()
            .map_err(err)
    }

    fn record_answer(
        &mut self,
        session: &str,
        request: u64,
        answer: &str,
        now: f64,
    ) -> StoreResult<()> {
        let c = self.c()?;
        c.prepare_cached("DELETE FROM request_answers WHERE at < ?1")
            .map_err(err)?
            .execute([now - super::REQUEST_ANSWERS_KEPT])
            .map_err(err)?;
        c.prepare_cached(
            "INSERT OR REPLACE INTO request_answers (session, request, answer, at) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(err)?
        .execute(rusqlite::params![session, request as i64, answer, now])
        .map_err(err)?;
        Ok(())
    }

    fn creation_time(&mut self, table: &str, now: f64) -> StoreResult<f64> {
        let known = self
            .inner
            .memo
            .lock()
            .ok()
            .and_then(|m| m.last_creation.get(table).copied());
        let last = match known {
            Some(l) => l,
            None => self
                .c()?
                .prepare_cached("SELECT max(creation_time) FROM documents WHERE table_name = ?1")
                .map_err(err)?
                .query_row([table], |r| r.get::<_, Option<f64>>(0))
                .map_err(err)?
                .unwrap_or(0.0),
        };
        let t = if now > last { now } else { last + 0.001 };
        if let Ok(mut m) = self.inner.memo.lock() {
            let e = m.last_creation.entry(table.to_string()).or_insert(t);
            *e = e.max(t);
        }
        Ok(t)
    }

    fn table_number(&mut self, table: &str, create: bool) -> StoreResult<Option<u32>> {
        if let Some(n) = self.new_tables.get(table).copied().or_else(|| {
            self.inner
                .memo
                .lock()
                .ok()
                .and_then(|m| m.tables.get(table).copied())
        }) {
            return Ok(Some(n));
        }
        let found: Option<i64> = self
            .c()?
            .prepare_cached("SELECT number FROM tables WHERE name = ?1")
            .map_err(err)?
            .query_row([table], |r| r.get(0))
            .optional()
            .map_err(err)?;
        if let Some(n) = found.and_then(|n| u32::try_from(n).ok()) {
            self.new_tables.insert(table.to_string(), n);
            return Ok(Some(n));
        }
        if !create {
            return Ok(None);
        }
        let n: i64 = self
            .c()?
            .prepare_cached("INSERT INTO tables (name) VALUES (?1) RETURNING number")
            .map_err(err)?
            .query_row([table], |r| r.get(0))
            .map_err(err)?;
        let n = u32::try_from(n).ok();
        if let Some(n) = n {
            self.new_tables.insert(table.to_string(), n);
        }
        Ok(n)
    }

    fn table_name(&mut self, number: u32) -> StoreResult<Option<String>> {
        self.c()?
            .prepare_cached("SELECT name FROM tables WHERE number = ?1")
            .map_err(err)?
            .query_row([i64::from(number)], |r| r.get(0))
            .optional()
            .map_err(err)
    }

    fn tables(&mut self) -> StoreResult<Vec<TableInfo>> {
        let c = self.c()?;
        let mut st = c
            .prepare_cached(
                "SELECT t.name, t.number, (SELECT count(*) FROM documents d WHERE d.table_name = t.name)
                 FROM tables t ORDER BY t.name",
            )
            .map_err(err)?;
        let rows = st
            .query_map([], |r| {
                Ok(TableInfo {
                    name: r.get(0)?,
                    number: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    documents: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn commit(mut self: Box<Self>) -> StoreResult<Option<u64>> {
        let c = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Backend("the transaction is finished".into()))?;
        // Taken while the write lock is held: timestamps follow commit order.
        let ts = match &self.announce {
            Some((id, hub)) if !self.writes.is_empty() => Some(hub.next_ts(*id)),
            _ => None,
        };
        let result = c.execute_batch("COMMIT").map_err(err);
        self.done = true;
        match result {
            Ok(()) => {
                if !self.new_tables.is_empty()
                    && let Ok(mut m) = self.inner.memo.lock()
                {
                    m.tables.extend(self.new_tables.drain());
                }
                self.inner.give_back(c);
                if let (Some(ts), Some((id, hub))) = (ts, &self.announce) {
                    let writes = Arc::new(std::mem::take(&mut self.writes));
                    hub.publish(*id, super::commits::Commit { ts, writes });
                }
                Ok(ts)
            }
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
