//! A deployment's data in its own SQLite file (WAL, `synchronous=NORMAL`), through `rusqlite` on
//! the calling thread. Write transactions use `BEGIN IMMEDIATE`, so two mutations on one
//! deployment never interleave; reads run in a deferred transaction and see one snapshot.

use super::{Bound, Doc, DocStore, DocTx, ModuleRecord, Order, Position, TableInfo};
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
";

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
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;",
        )
        .map_err(err)?;
        Ok(c)
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(c);
        }
    }
}

pub struct SqliteDocStore {
    inner: Arc<Inner>,
}

impl SqliteDocStore {
    /// Opens (creating) the deployment's file.
    pub fn open(file: &Path) -> StoreResult<Self> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
        }
        let inner = Arc::new(Inner {
            path: file.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            memo: Default::default(),
        });
        let c = inner.connect()?;
        c.execute_batch(SCHEMA).map_err(err)?;
        inner.give_back(c);
        Ok(Self { inner })
    }

    /// Writes a consistent snapshot of this deployment's whole file to `to` (which must not
    /// exist), with SQLite's `VACUUM INTO`: a file-level copy, as fast as the disk.
    pub fn snapshot_into(&self, to: &Path) -> StoreResult<()> {
        let c = self.inner.connect()?;
        let done = c
            .execute("VACUUM INTO ?1", [to.to_string_lossy().as_ref()])
            .map(|_| ())
            .map_err(err);
        self.inner.give_back(c);
        done
    }

    /// Closes idle connections (before the file is deleted).
    pub fn close(&self) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.clear();
        }
    }
}

impl DocStore for SqliteDocStore {
    fn begin(&self, write: bool) -> StoreResult<Box<dyn DocTx>> {
        let conn = self.inner.connect()?;
        conn.execute_batch(if write { "BEGIN IMMEDIATE" } else { "BEGIN" })
            .map_err(err)?;
        Ok(Box::new(SqliteDocTx {
            conn: Some(conn),
            inner: self.inner.clone(),
            done: false,
        }))
    }

    fn modules(&self) -> StoreResult<Vec<ModuleRecord>> {
        let conn = self.inner.connect()?;
        let out = {
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
            rows.collect::<Result<Vec<_>, _>>().map_err(err)?
        };
        self.inner.give_back(conn);
        Ok(out)
    }

    fn replace_modules(&self, modules: &[ModuleRecord]) -> StoreResult<()> {
        let mut conn = self.inner.connect()?;
        {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            tx.execute("DELETE FROM modules", []).map_err(err)?;
            for m in modules {
                tx.execute(
                    "INSERT INTO modules (path, source, js, hash) VALUES (?1, ?2, ?3, ?4)",
                    params![m.path, m.source, m.js, m.hash],
                )
                .map_err(err)?;
            }
            tx.commit().map_err(err)?;
        }
        self.inner.give_back(conn);
        Ok(())
    }

    fn env(&self) -> StoreResult<Arc<std::collections::BTreeMap<String, String>>> {
        if let Some(e) = self.inner.memo.lock().ok().and_then(|m| m.env.clone()) {
            return Ok(e);
        }
        let conn = self.inner.connect()?;
        let vars = {
            let mut st = conn
                .prepare_cached("SELECT name, value FROM env")
                .map_err(err)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(err)?;
            rows.collect::<Result<std::collections::BTreeMap<_, _>, _>>()
                .map_err(err)?
        };
        self.inner.give_back(conn);
        let vars = Arc::new(vars);
        if let Ok(mut m) = self.inner.memo.lock() {
            m.env = Some(vars.clone());
        }
        Ok(vars)
    }

    fn update_env(&self, changes: &[(String, Option<String>)]) -> StoreResult<()> {
        let mut conn = self.inner.connect()?;
        {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            for (name, value) in changes {
                match value {
                    Some(v) => tx
                        .execute(
                            "INSERT INTO env (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                            params![name, v],
                        )
                        .map_err(err)?,
                    None => tx.execute("DELETE FROM env WHERE name = ?1", [name]).map_err(err)?,
                };
            }
            tx.commit().map_err(err)?;
        }
        self.inner.give_back(conn);
        if let Ok(mut m) = self.inner.memo.lock() {
            m.env = None;
        }
        Ok(())
    }
}

struct SqliteDocTx {
    conn: Option<Connection>,
    inner: Arc<Inner>,
    done: bool,
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
        self.c()?
            .prepare_cached("INSERT INTO documents (id, table_name, creation_time, value) VALUES (?1, ?2, ?3, ?4)")
            .map_err(err)?
            .execute(params![d.id, d.table, d.creation_time, d.json])
            .map_err(err)?;
        Ok(())
    }

    fn replace(&mut self, id: &str, json: &str) -> StoreResult<bool> {
        let n = self
            .c()?
            .prepare_cached("UPDATE documents SET value = ?1 WHERE id = ?2")
            .map_err(err)?
            .execute(params![json, id])
            .map_err(err)?;
        Ok(n > 0)
    }

    fn delete(&mut self, id: &str) -> StoreResult<bool> {
        let n = self
            .c()?
            .prepare_cached("DELETE FROM documents WHERE id = ?1")
            .map_err(err)?
            .execute([id])
            .map_err(err)?;
        Ok(n > 0)
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
        if let Some(n) = self
            .inner
            .memo
            .lock()
            .ok()
            .and_then(|m| m.tables.get(table).copied())
        {
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
            if let Ok(mut m) = self.inner.memo.lock() {
                m.tables.insert(table.to_string(), n);
            }
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
        Ok(u32::try_from(n).ok())
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

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let c = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Backend("the transaction is finished".into()))?;
        let result = c.execute_batch("COMMIT").map_err(err);
        self.done = true;
        match result {
            Ok(()) => {
                self.inner.give_back(c);
                Ok(())
            }
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
