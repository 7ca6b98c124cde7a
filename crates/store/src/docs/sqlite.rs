//! A deployment's data in its own SQLite file (WAL). Write transactions use `BEGIN IMMEDIATE`,
//! so two mutations on one deployment never interleave; reads run in a deferred transaction and
//! see one snapshot.

use super::{Bound, Doc, DocStore, DocTx, ModuleRecord, Order, Position, TableInfo};
use crate::{StoreResult, sqlite::backend};
use async_trait::async_trait;
use sqlx::{
    QueryBuilder, Row, Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
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
CREATE TABLE IF NOT EXISTS modules (
    path   TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    js     TEXT NOT NULL,
    hash   TEXT NOT NULL
);
";

pub struct SqliteDocStore {
    pool: SqlitePool,
    memo: Arc<Mutex<Memo>>,
}

/// What this process (the only writer of the file) remembers between transactions: table
/// numbers once read, and the newest creation time handed out per table.
#[derive(Default)]
struct Memo {
    tables: HashMap<String, u32>,
    last_creation: HashMap<String, f64>,
}

impl SqliteDocStore {
    /// Opens (creating) the deployment's file.
    pub async fn open(file: &Path) -> StoreResult<Self> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::StoreError::Backend(format!("create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(backend)?;
        Ok(Self {
            pool,
            memo: Default::default(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl DocStore for SqliteDocStore {
    async fn begin(&self, write: bool) -> StoreResult<Box<dyn DocTx>> {
        let tx = if write {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        } else {
            self.pool.begin().await
        };
        Ok(Box::new(SqliteDocTx {
            tx: tx.map_err(backend)?,
            memo: self.memo.clone(),
        }))
    }

    async fn modules(&self) -> StoreResult<Vec<ModuleRecord>> {
        let rows = sqlx::query("SELECT path, source, js, hash FROM modules ORDER BY path")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(ModuleRecord {
                    path: r.try_get("path").map_err(backend)?,
                    source: r.try_get("source").map_err(backend)?,
                    js: r.try_get("js").map_err(backend)?,
                    hash: r.try_get("hash").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn replace_modules(&self, modules: &[ModuleRecord]) -> StoreResult<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM modules")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for m in modules {
            sqlx::query("INSERT INTO modules (path, source, js, hash) VALUES (?, ?, ?, ?)")
                .bind(&m.path)
                .bind(&m.source)
                .bind(&m.js)
                .bind(&m.hash)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

struct SqliteDocTx {
    tx: Transaction<'static, Sqlite>,
    memo: Arc<Mutex<Memo>>,
}

fn doc(r: &sqlx::sqlite::SqliteRow) -> StoreResult<Doc> {
    Ok(Doc {
        id: r.try_get("id").map_err(backend)?,
        table: r.try_get("table_name").map_err(backend)?,
        creation_time: r.try_get("creation_time").map_err(backend)?,
        json: r.try_get("value").map_err(backend)?,
    })
}

#[async_trait]
impl DocTx for SqliteDocTx {
    async fn get(&mut self, id: &str) -> StoreResult<Option<Doc>> {
        sqlx::query("SELECT id, table_name, creation_time, value FROM documents WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?
            .as_ref()
            .map(doc)
            .transpose()
    }

    async fn insert(&mut self, d: &Doc) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO documents (id, table_name, creation_time, value) VALUES (?, ?, ?, ?)",
        )
        .bind(&d.id)
        .bind(&d.table)
        .bind(d.creation_time)
        .bind(&d.json)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn replace(&mut self, id: &str, json: &str) -> StoreResult<bool> {
        let n = sqlx::query("UPDATE documents SET value = ? WHERE id = ?")
            .bind(json)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn delete(&mut self, id: &str) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM documents WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn scan(
        &mut self,
        table: &str,
        order: Order,
        lower: Bound,
        upper: Bound,
        after: Option<&Position>,
        limit: u32,
    ) -> StoreResult<Vec<Doc>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, table_name, creation_time, value FROM documents WHERE table_name = ",
        );
        q.push_bind(table.to_string());
        if let Some((v, inclusive)) = lower {
            q.push(if inclusive {
                " AND creation_time >= "
            } else {
                " AND creation_time > "
            })
            .push_bind(v);
        }
        if let Some((v, inclusive)) = upper {
            q.push(if inclusive {
                " AND creation_time <= "
            } else {
                " AND creation_time < "
            })
            .push_bind(v);
        }
        if let Some((t, id)) = after {
            let op = if order == Order::Asc { ">" } else { "<" };
            q.push(format!(" AND (creation_time, id) {op} ("))
                .push_bind(*t)
                .push(", ")
                .push_bind(id.clone())
                .push(")");
        }
        q.push(if order == Order::Asc {
            " ORDER BY creation_time ASC, id ASC LIMIT "
        } else {
            " ORDER BY creation_time DESC, id DESC LIMIT "
        });
        q.push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(backend)?;
        rows.iter().map(doc).collect()
    }

    async fn creation_time(&mut self, table: &str, now: f64) -> StoreResult<f64> {
        let known = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.last_creation.get(table).copied());
        let last = match known {
            Some(l) => l,
            None => sqlx::query_scalar::<_, Option<f64>>(
                "SELECT max(creation_time) FROM documents WHERE table_name = ?",
            )
            .bind(table)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(backend)?
            .unwrap_or(0.0),
        };
        let t = if now > last { now } else { last + 0.001 };
        if let Ok(mut m) = self.memo.lock() {
            let e = m.last_creation.entry(table.to_string()).or_insert(t);
            *e = e.max(t);
        }
        Ok(t)
    }

    async fn table_number(&mut self, table: &str, create: bool) -> StoreResult<Option<u32>> {
        if let Some(n) = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.tables.get(table).copied())
        {
            return Ok(Some(n));
        }
        let found: Option<i64> = sqlx::query_scalar("SELECT number FROM tables WHERE name = ?")
            .bind(table)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?;
        if let Some(n) = found.and_then(|n| u32::try_from(n).ok()) {
            if let Ok(mut m) = self.memo.lock() {
                m.tables.insert(table.to_string(), n);
            }
            return Ok(Some(n));
        }
        if !create {
            return Ok(None);
        }
        let n: i64 = sqlx::query_scalar("INSERT INTO tables (name) VALUES (?) RETURNING number")
            .bind(table)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(u32::try_from(n).ok())
    }

    async fn table_name(&mut self, number: u32) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT name FROM tables WHERE number = ?")
            .bind(i64::from(number))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)
    }

    async fn tables(&mut self) -> StoreResult<Vec<TableInfo>> {
        let rows = sqlx::query(
            "SELECT t.name, t.number, (SELECT count(*) FROM documents d WHERE d.table_name = t.name) AS n
             FROM tables t ORDER BY t.name",
        )
        .fetch_all(&mut *self.tx)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(TableInfo {
                    name: r.try_get("name").map_err(backend)?,
                    number: u32::try_from(r.try_get::<i64, _>("number").map_err(backend)?)
                        .unwrap_or(0),
                    documents: u64::try_from(r.try_get::<i64, _>("n").map_err(backend)?)
                        .unwrap_or(0),
                })
            })
            .collect()
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(backend)
    }
}
