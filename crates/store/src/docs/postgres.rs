//! A deployment's data in PostgreSQL, beside every other deployment's, keyed by deployment id.
//! The traits are blocking (called from the runtime's worker threads), so each operation runs
//! on the async pool through `Handle::block_on`. Write transactions take an advisory lock on the
//! deployment first: mutations on one deployment are serialized across every server. Read
//! transactions are `REPEATABLE READ`: one snapshot per query call.

use super::{
    Bound, Doc, DocStore, DocTx, IndexChanges, IndexDef, ModuleRecord, Order, Position, SchemaDef,
    TableInfo, index,
};
use crate::{StoreError, StoreResult, postgres::backend};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction, postgres::PgRow};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};
use tokio::runtime::Handle;

pub struct PgDocStore {
    pool: PgPool,
    deployment: i64,
    handle: Handle,
    /// Table numbers never change once committed; remembered after the first read.
    tables: Arc<Mutex<HashMap<String, u32>>>,
    announce: Announce,
}

/// Where commits are announced: this server's hub, and the channel other servers listen on
/// (tagged with this server's id, so it does not hear its own commits twice).
#[derive(Clone)]
pub struct Announce {
    pub hub: Arc<super::commits::CommitHub>,
    pub server: u64,
}

/// The channel on which every server announces its commits: `server:deployment:ts:tables`.
pub const COMMITS_CHANNEL: &str = "berth_commits";

/// The longest table list a commit's notice carries; past it, the notice says `*` (every table).
const NOTICE_TABLES: usize = 6000;

impl PgDocStore {
    pub fn new(pool: PgPool, deployment: i64, handle: Handle, announce: Announce) -> Self {
        Self {
            pool,
            deployment,
            handle,
            tables: Default::default(),
            announce,
        }
    }
}

/// Takes the deployment's next commit timestamp (in commit order on every server, under its
/// write lock when `c` is a write transaction) and announces it to the other servers with the
/// tables written (`*`: anything may have changed), in one round trip; within a transaction the
/// notice goes out when it commits.
pub(crate) async fn next_commit(
    c: &mut PgConn,
    deployment: i64,
    announce: &Announce,
    listed: &str,
) -> StoreResult<u64> {
    let now = announce.hub.next_ts(deployment);
    let ts: i64 = sqlx::query_scalar(
        "WITH c AS (
            INSERT INTO deployment_clock (deployment_id, ts) VALUES ($1, $2)
            ON CONFLICT (deployment_id) DO UPDATE SET ts = greatest(deployment_clock.ts + 1, excluded.ts)
            RETURNING ts)
         SELECT ts FROM c, pg_notify($3, $4 || ':' || $1 || ':' || c.ts || ':' || $5) AS n",
    )
    .bind(deployment)
    .bind(i64::try_from(now).unwrap_or(i64::MAX))
    .bind(COMMITS_CHANNEL)
    .bind(announce.server.to_string())
    .bind(listed)
    .fetch_one(&mut *c)
    .await
    .map_err(backend)?;
    Ok(ts as u64)
}

/// A commit another server announced: its deployment and timestamp, and the tables it wrote
/// (`None`: every table).
pub fn parse_notice(payload: &str, me: u64) -> Option<(i64, u64, Option<Vec<String>>)> {
    let mut parts = payload.splitn(4, ':');
    let server: u64 = parts.next()?.parse().ok()?;
    if server == me {
        return None;
    }
    let deployment = parts.next()?.parse().ok()?;
    let ts = parts.next()?.parse().ok()?;
    let tables = parts.next()?;
    let tables = (tables != "*").then(|| tables.split('\u{1f}').map(str::to_string).collect());
    Some((deployment, ts, tables))
}

fn doc(r: &PgRow) -> StoreResult<Doc> {
    Ok(Doc {
        id: r.try_get("id").map_err(backend)?,
        table: r.try_get("table_name").map_err(backend)?,
        creation_time: r.try_get("creation_time").map_err(backend)?,
        json: r.try_get("value").map_err(backend)?,
    })
}

type PgConn = sqlx::PgConnection;

pub(crate) async fn read_index_defs(c: &mut PgConn, deployment: i64) -> StoreResult<Vec<IndexDef>> {
    let rows = sqlx::query(
        "SELECT name, table_name, fields FROM deployment_indexes WHERE deployment_id = $1 ORDER BY name",
    )
    .bind(deployment)
    .fetch_all(&mut *c)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(IndexDef {
                name: r.try_get("name").map_err(backend)?,
                table: r.try_get("table_name").map_err(backend)?,
                fields: IndexDef::parse_fields(
                    &r.try_get::<String, _>("fields").map_err(backend)?,
                )?,
            })
        })
        .collect()
}

/// Writes index entries; with `keep_existing`, an entry already there is left as it is (an
/// index being filled while writes keep it).
async fn put_entries(
    c: &mut PgConn,
    deployment: i64,
    entries: &[(String, Vec<u8>, String)],
    keep_existing: bool,
) -> StoreResult<()> {
    for chunk in entries.chunks(1000) {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO index_entries (deployment_id, index_name, key, doc_id) ",
        );
        q.push_values(chunk, |mut b, (name, key, id)| {
            b.push_bind(deployment)
                .push_bind(name)
                .push_bind(key)
                .push_bind(id);
        });
        if keep_existing {
            q.push(" ON CONFLICT DO NOTHING");
        }
        q.build().execute(&mut *c).await.map_err(backend)?;
    }
    Ok(())
}

async fn drop_entries(
    c: &mut PgConn,
    deployment: i64,
    entries: &[(String, Vec<u8>)],
) -> StoreResult<()> {
    for (name, key) in entries {
        sqlx::query(
            "DELETE FROM index_entries WHERE deployment_id = $1 AND index_name = $2 AND key = $3",
        )
        .bind(deployment)
        .bind(name)
        .bind(key)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Builds the entries of `def` from its table's documents, in `c`'s transaction, sorted by key a
/// chunk at a time.
pub(crate) async fn build_index(
    c: &mut PgConn,
    deployment: i64,
    def: &IndexDef,
) -> StoreResult<()> {
    let mut after: Option<Position> = None;
    loop {
        let rows = sqlx::query(
            "SELECT id, table_name, creation_time, value FROM documents
             WHERE deployment_id = $1 AND table_name = $2 AND (creation_time, id) > ($3, $4)
             ORDER BY creation_time, id LIMIT $5",
        )
        .bind(deployment)
        .bind(&def.table)
        .bind(after.as_ref().map_or(f64::NEG_INFINITY, |a| a.0))
        .bind(after.as_ref().map_or("", |a| a.1.as_str()))
        .bind(i64::from(super::AHEAD_CHUNK))
        .fetch_all(&mut *c)
        .await
        .map_err(backend)?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            let d = doc(r)?;
            let key = index::entry_key(&def.fields, &index::decoded(&d)?, d.creation_time, &d.id);
            after = Some((d.creation_time, d.id.clone()));
            entries.push((def.name.clone(), key, d.id));
        }
        entries.sort_unstable();
        put_entries(c, deployment, &entries, false).await?;
        if rows.len() < super::AHEAD_CHUNK as usize {
            return Ok(());
        }
    }
}

/// Marks every index being built ahead complete (a copy has just built them all).
pub(crate) async fn complete_ahead(c: &mut PgConn, deployment: i64) -> StoreResult<()> {
    let mut ahead = read_ahead(c, deployment).await?;
    if ahead.0.is_empty() {
        return Ok(());
    }
    ahead.0.values_mut().for_each(|done| *done = true);
    write_meta(c, deployment, "ahead", ahead.json().as_deref()).await
}

pub(crate) async fn read_ahead(c: &mut PgConn, deployment: i64) -> StoreResult<index::Ahead> {
    index::Ahead::parse(read_meta(c, deployment, "ahead").await?.as_deref())
}

async fn read_meta(c: &mut PgConn, deployment: i64, key: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM code_meta WHERE deployment_id = $1 AND key = $2")
        .bind(deployment)
        .bind(key)
        .fetch_optional(&mut *c)
        .await
        .map_err(backend)
}

async fn write_meta(
    c: &mut PgConn,
    deployment: i64,
    key: &str,
    value: Option<&str>,
) -> StoreResult<()> {
    let q = match value {
        Some(v) => sqlx::query(
            "INSERT INTO code_meta (deployment_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (deployment_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(deployment)
        .bind(key)
        .bind(v),
        None => sqlx::query("DELETE FROM code_meta WHERE deployment_id = $1 AND key = $2")
            .bind(deployment)
            .bind(key),
    };
    q.execute(&mut *c).await.map(|_| ()).map_err(backend)
}

/// Deletes an index, its entries and what a build of it had marked.
async fn clear_index(c: &mut PgConn, deployment: i64, name: &str) -> StoreResult<()> {
    for sql in [
        "DELETE FROM index_entries WHERE deployment_id = $1 AND index_name = $2",
        "DELETE FROM ahead_dirty WHERE deployment_id = $1 AND index_name = $2",
        "DELETE FROM deployment_indexes WHERE deployment_id = $1 AND name = $2",
    ] {
        sqlx::query(sql)
            .bind(deployment)
            .bind(name)
            .execute(&mut *c)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

async fn register_index(c: &mut PgConn, deployment: i64, def: &IndexDef) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO deployment_indexes (deployment_id, name, table_name, fields) VALUES ($1, $2, $3, $4)",
    )
    .bind(deployment)
    .bind(&def.name)
    .bind(&def.table)
    .bind(def.fields_json())
    .execute(&mut *c)
    .await
    .map(|_| ())
    .map_err(backend)
}

async fn read_types(c: &mut PgConn, deployment: i64) -> StoreResult<index::Types> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT value FROM code_meta WHERE deployment_id = $1 AND key = 'schema'",
    )
    .bind(deployment)
    .fetch_optional(&mut *c)
    .await
    .map_err(backend)?;
    let (validation, tables) = SchemaDef::types_from(text.as_deref())?;
    Ok(index::Types::new(validation, tables))
}

async fn read_table_names(c: &mut PgConn, deployment: i64) -> StoreResult<HashMap<u32, String>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT number, name FROM deployment_tables WHERE deployment_id = $1")
            .bind(deployment)
            .fetch_all(&mut *c)
            .await
            .map_err(backend)?;
    Ok(rows
        .into_iter()
        .filter_map(|(n, name)| Some((u32::try_from(n).ok()?, name)))
        .collect())
}

/// Checks the documents of the tables whose type `schema` changes against it.
async fn check_existing(c: &mut PgConn, deployment: i64, schema: &SchemaDef) -> StoreResult<()> {
    if !schema.validation {
        return Ok(());
    }
    let before = read_types(c, deployment).await?;
    let names = read_table_names(c, deployment).await?;
    for (table, ty) in &schema.document_types {
        if before.validation && before.tables.get(table) == Some(ty) {
            continue;
        }
        let rows = sqlx::query(
            "SELECT id, table_name, creation_time, value FROM documents WHERE deployment_id = $1 AND table_name = $2",
        )
        .bind(deployment)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(backend)?;
        for r in &rows {
            let d = doc(r)?;
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

/// Replaces a deployment's code in `c`'s transaction: the data checked against the schema, the
/// modules and their metadata written, the indexes built and dropped. It takes the deployment's
/// write lock first, so no write is missed by the checks and the builds.
pub(crate) async fn replace_code_in(
    c: &mut PgConn,
    deployment: i64,
    modules: &[ModuleRecord],
    meta: &str,
    schema: &SchemaDef,
) -> StoreResult<IndexChanges> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(deployment)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    check_existing(c, deployment, schema).await?;
    write_meta(c, deployment, "functions", Some(meta)).await?;
    write_meta(c, deployment, "schema", Some(&schema.types_json())).await?;
    sqlx::query("DELETE FROM modules WHERE deployment_id = $1")
        .bind(deployment)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    for m in modules {
        sqlx::query(
            "INSERT INTO modules (deployment_id, path, source, js, hash) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(deployment)
        .bind(&m.path)
        .bind(&m.source)
        .bind(&m.js)
        .bind(&m.hash)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    }
    sync_indexes(c, deployment, &schema.indexes).await
}

/// Makes the deployment's stored indexes those of `wanted`, in `c`'s transaction: gone ones lose
/// their entries, new ones (and ones built ahead but not finished) are built, and those built
/// ahead serve from now on.
async fn sync_indexes(
    c: &mut PgConn,
    deployment: i64,
    wanted: &[IndexDef],
) -> StoreResult<IndexChanges> {
    let stored = read_index_defs(c, deployment).await?;
    let ahead = read_ahead(c, deployment).await?;
    let plan = index::plan_commit(&stored, &ahead, wanted);
    for r in &plan.drop {
        clear_index(c, deployment, &r.name).await?;
    }
    for a in &plan.build {
        register_index(c, deployment, a).await?;
        build_index(c, deployment, a).await?;
    }
    write_meta(c, deployment, "ahead", None).await?;
    sqlx::query("DELETE FROM ahead_dirty WHERE deployment_id = $1")
        .bind(deployment)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    Ok(plan.changes)
}

impl PgDocStore {
    /// A write transaction holding the deployment's write lock.
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(self.deployment)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        Ok(tx)
    }
}

impl DocStore for PgDocStore {
    fn begin(&self, write: bool) -> StoreResult<Box<dyn DocTx>> {
        let deployment = self.deployment;
        let tx = self.handle.block_on(async {
            if !write {
                // One round trip: a read sees one snapshot from its first statement on.
                return self
                    .pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .await
                    .map_err(backend);
            }
            self.write_tx().await
        })?;
        Ok(Box::new(PgDocTx {
            tx: Some(tx),
            deployment,
            handle: self.handle.clone(),
            tables: self.tables.clone(),
            new_tables: HashMap::new(),
            defs: None,
            types: None,
            ahead: None,
            writes: Default::default(),
            announce: self.announce.clone(),
        }))
    }

    fn modules(&self) -> StoreResult<Vec<ModuleRecord>> {
        let rows = self
            .handle
            .block_on(
                sqlx::query("SELECT path, source, js, hash FROM modules WHERE deployment_id = $1 ORDER BY path")
                    .bind(self.deployment)
                    .fetch_all(&self.pool),
            )
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

    fn begin_ahead(&self, wanted: &[IndexDef]) -> StoreResult<Vec<IndexDef>> {
        let d = self.deployment;
        self.handle.block_on(async {
            let mut c = self.write_tx().await?;
            let mut ahead = read_ahead(&mut c, d).await?;
            let stored = read_index_defs(&mut c, d).await?;
            let (register, fill) = index::plan_ahead(&stored, &ahead, wanted);
            for r in &register {
                clear_index(&mut c, d, &r.name).await?;
                register_index(&mut c, d, r).await?;
                ahead.0.insert(r.name.clone(), false);
            }
            if !register.is_empty() {
                write_meta(&mut c, d, "ahead", ahead.json().as_deref()).await?;
            }
            c.commit().await.map_err(backend)?;
            Ok(fill)
        })
    }

    fn fill_ahead(
        &self,
        def: &IndexDef,
        entries: &[(Vec<u8>, String)],
        last: bool,
    ) -> StoreResult<bool> {
        let d = self.deployment;
        self.handle.block_on(async {
            let mut c = self.write_tx().await?;
            let mut ahead = read_ahead(&mut c, d).await?;
            if !ahead.incomplete(&def.name) || !read_index_defs(&mut c, d).await?.contains(def) {
                return Ok(false);
            }
            let changed: std::collections::HashSet<String> = sqlx::query_scalar(
                "SELECT doc_id FROM ahead_dirty WHERE deployment_id = $1 AND index_name = $2",
            )
            .bind(d)
            .bind(&def.name)
            .fetch_all(&mut *c)
            .await
            .map_err(backend)?
            .into_iter()
            .collect();
            let kept: Vec<(String, Vec<u8>, String)> = entries
                .iter()
                .filter(|(_, id)| !changed.contains(id))
                .map(|(key, id)| (def.name.clone(), key.clone(), id.clone()))
                .collect();
            put_entries(&mut c, d, &kept, true).await?;
            if last {
                ahead.0.insert(def.name.clone(), true);
                write_meta(&mut c, d, "ahead", ahead.json().as_deref()).await?;
                sqlx::query("DELETE FROM ahead_dirty WHERE deployment_id = $1 AND index_name = $2")
                    .bind(d)
                    .bind(&def.name)
                    .execute(&mut *c)
                    .await
                    .map_err(backend)?;
            }
            c.commit().await.map_err(backend)?;
            Ok(true)
        })
    }

    fn indexes(&self) -> StoreResult<Vec<IndexDef>> {
        self.handle.block_on(async {
            let mut c = self.pool.acquire().await.map_err(backend)?;
            let ahead = read_ahead(&mut c, self.deployment).await?;
            let mut defs = read_index_defs(&mut c, self.deployment).await?;
            defs.retain(|d| !ahead.holds(&d.name));
            Ok(defs)
        })
    }

    fn code_meta(&self) -> StoreResult<Option<String>> {
        self.handle
            .block_on(
                sqlx::query_scalar(
                    "SELECT value FROM code_meta WHERE deployment_id = $1 AND key = 'functions'",
                )
                .bind(self.deployment)
                .fetch_optional(&self.pool),
            )
            .map_err(backend)
    }

    fn replace_code(
        &self,
        modules: &[ModuleRecord],
        meta: &str,
        schema: &SchemaDef,
    ) -> StoreResult<IndexChanges> {
        self.handle.block_on(async {
            let mut tx = self.pool.begin().await.map_err(backend)?;
            let changes = replace_code_in(&mut tx, self.deployment, modules, meta, schema).await?;
            tx.commit().await.map_err(backend)?;
            Ok(changes)
        })
    }

    fn env(&self) -> StoreResult<Arc<BTreeMap<String, String>>> {
        let rows = self
            .handle
            .block_on(
                sqlx::query("SELECT name, value FROM env WHERE deployment_id = $1")
                    .bind(self.deployment)
                    .fetch_all(&self.pool),
            )
            .map_err(backend)?;
        let mut out = BTreeMap::new();
        for r in &rows {
            out.insert(
                r.try_get("name").map_err(backend)?,
                r.try_get("value").map_err(backend)?,
            );
        }
        Ok(Arc::new(out))
    }

    fn update_env(&self, changes: &[(String, Option<String>)]) -> StoreResult<()> {
        self.handle.block_on(async {
            let mut tx = self.pool.begin().await.map_err(backend)?;
            for (name, value) in changes {
                match value {
                    Some(v) => sqlx::query(
                        "INSERT INTO env (deployment_id, name, value) VALUES ($1, $2, $3)
                         ON CONFLICT (deployment_id, name) DO UPDATE SET value = excluded.value",
                    )
                    .bind(self.deployment)
                    .bind(name)
                    .bind(v)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?,
                    None => sqlx::query("DELETE FROM env WHERE deployment_id = $1 AND name = $2")
                        .bind(self.deployment)
                        .bind(name)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?,
                };
            }
            tx.commit().await.map_err(backend)
        })
    }
}

struct PgDocTx {
    tx: Option<Transaction<'static, Postgres>>,
    deployment: i64,
    handle: Handle,
    tables: Arc<Mutex<HashMap<String, u32>>>,
    /// Table numbers this transaction assigned or first read, remembered only once it commits.
    new_tables: HashMap<String, u32>,
    /// The stored indexes, read once per transaction.
    defs: Option<Arc<Vec<IndexDef>>>,
    /// The schema's document types, read once per transaction.
    types: Option<Arc<index::Types>>,
    /// The indexes being built ahead of a push, read with `defs`.
    ahead: Option<Arc<index::Ahead>>,
    /// What this transaction wrote, announced when it commits.
    writes: super::commits::WriteSet,
    announce: Announce,
}

impl PgDocTx {
    fn types(&mut self) -> StoreResult<Arc<index::Types>> {
        if self.types.is_none() {
            self.load_schema()?;
        }
        self.types
            .clone()
            .ok_or_else(|| StoreError::Backend("schema not loaded".into()))
    }

    /// Reads the stored indexes and document types in one round trip, once per transaction.
    fn load_schema(&mut self) -> StoreResult<()> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let row: (String, Option<String>, Option<String>) = h
            .block_on(
                sqlx::query_as(
                    "SELECT
                       (SELECT coalesce(json_agg(json_build_array(name, table_name, fields) ORDER BY name), '[]'::json)::text
                          FROM deployment_indexes WHERE deployment_id = $1),
                       (SELECT value FROM code_meta WHERE deployment_id = $1 AND key = 'schema'),
                       (SELECT value FROM code_meta WHERE deployment_id = $1 AND key = 'ahead')",
                )
                .bind(d)
                .fetch_one(&mut **tx),
            )
            .map_err(backend)?;
        let listed: Vec<(String, String, String)> = serde_json::from_str(&row.0)
            .map_err(|e| StoreError::Backend(format!("stored indexes: {e}")))?;
        let mut defs = Vec::with_capacity(listed.len());
        for (name, table, fields) in listed {
            defs.push(IndexDef {
                name,
                table,
                fields: IndexDef::parse_fields(&fields)?,
            });
        }
        let (validation, tables) = SchemaDef::types_from(row.1.as_deref())?;
        self.defs = Some(Arc::new(defs));
        self.ahead = Some(Arc::new(index::Ahead::parse(row.2.as_deref())?));
        self.types = Some(Arc::new(index::Types::new(validation, tables)));
        Ok(())
    }

    /// Checks a document about to be written against its table's type in the schema.
    /// The index entries of `doc`, after checking it against the schema.
    fn prepare(&mut self, doc: &Doc) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let (defs, types) = (self.defs()?, self.types()?);
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        index::prepare_write(&defs, &types, doc, || h.block_on(read_table_names(tx, d)))
    }

    fn defs(&mut self) -> StoreResult<Arc<Vec<IndexDef>>> {
        if self.defs.is_none() {
            self.load_schema()?;
        }
        self.defs
            .clone()
            .ok_or_else(|| StoreError::Backend("indexes not loaded".into()))
    }

    /// Marks a changed or deleted document for the builds that must skip it
    /// ([`index::Ahead::to_mark`]).
    fn mark_changed(
        &mut self,
        defs: &[IndexDef],
        old: &Doc,
        put: Option<&[(String, Vec<u8>)]>,
    ) -> StoreResult<()> {
        let Some(ahead) = self.ahead.clone() else {
            return Ok(());
        };
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        for name in ahead.to_mark(defs, &old.table, put) {
            h.block_on(
                sqlx::query(
                    "INSERT INTO ahead_dirty (deployment_id, index_name, doc_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(d)
                .bind(name)
                .bind(&old.id)
                .execute(&mut **tx),
            )
            .map_err(backend)?;
        }
        Ok(())
    }

    fn tx(&mut self) -> StoreResult<&mut Transaction<'static, Postgres>> {
        self.tx
            .as_mut()
            .ok_or_else(|| StoreError::Backend("the transaction is finished".into()))
    }
}

impl DocTx for PgDocTx {
    fn get(&mut self, id: &str) -> StoreResult<Option<Doc>> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let row = h
            .block_on(
                sqlx::query("SELECT id, table_name, creation_time, value FROM documents WHERE deployment_id = $1 AND id = $2")
                    .bind(d)
                    .bind(id)
                    .fetch_optional(&mut **tx),
            )
            .map_err(backend)?;
        row.as_ref().map(doc).transpose()
    }

    fn insert(&mut self, doc: &Doc) -> StoreResult<()> {
        let entries: Vec<(String, Vec<u8>, String)> = self
            .prepare(doc)?
            .into_iter()
            .map(|(n, k)| (n, k, doc.id.clone()))
            .collect();
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        h.block_on(async {
            sqlx::query("INSERT INTO documents (deployment_id, id, table_name, creation_time, value) VALUES ($1, $2, $3, $4, $5)")
                .bind(d)
                .bind(&doc.id)
                .bind(&doc.table)
                .bind(doc.creation_time)
                .bind(&doc.json)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            put_entries(tx, d, &entries, false).await
        })?;
        self.writes.wrote(
            &doc.table,
            &doc.id,
            entries.into_iter().map(|(n, k, _)| (n, k)),
        );
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
        let (stale, fresh) = match &old {
            Some(old) => {
                let new = self.prepare(&Doc {
                    json: json.to_string(),
                    ..old.clone()
                })?;
                let (stale, fresh) = index::moved(index::entries(&defs, old)?, new);
                self.mark_changed(&defs, old, Some(&fresh))?;
                let fresh: Vec<_> = fresh
                    .into_iter()
                    .map(|(n, k)| (n, k, id.to_string()))
                    .collect();
                (stale, fresh)
            }
            None => (Vec::new(), Vec::new()),
        };
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let table: Option<String> = h.block_on(async {
            let table = sqlx::query_scalar(
                "UPDATE documents SET value = $1 WHERE deployment_id = $2 AND id = $3 RETURNING table_name",
            )
            .bind(json)
            .bind(d)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
            drop_entries(tx, d, &stale).await?;
            put_entries(tx, d, &fresh, false).await?;
            Ok::<_, StoreError>(table)
        })?;
        if let Some(t) = &table {
            let keys = stale
                .into_iter()
                .chain(fresh.into_iter().map(|(n, k, _)| (n, k)));
            self.writes.wrote(t, id, keys);
        }
        Ok(table.is_some())
    }

    fn delete(&mut self, id: &str) -> StoreResult<bool> {
        let defs = self.defs()?;
        let old = if defs.is_empty() { None } else { self.get(id)? };
        let gone = match &old {
            Some(old) => {
                self.mark_changed(&defs, old, None)?;
                index::entries(&defs, old)?
            }
            None => Vec::new(),
        };
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let table: Option<String> = h.block_on(async {
            let table = sqlx::query_scalar(
                "DELETE FROM documents WHERE deployment_id = $1 AND id = $2 RETURNING table_name",
            )
            .bind(d)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
            drop_entries(tx, d, &gone).await?;
            Ok::<_, StoreError>(table)
        })?;
        if let Some(t) = &table {
            self.writes.wrote(t, id, gone);
        }
        Ok(table.is_some())
    }

    fn has_index(&mut self, index: &str) -> StoreResult<bool> {
        let serves = self.defs()?.iter().any(|d| d.name == index);
        Ok(serves && !self.ahead.as_ref().is_some_and(|a| a.holds(index)))
    }

    fn index_scan(
        &mut self,
        index: &str,
        lower: &[u8],
        upper: &[u8],
        order: Order,
        limit: u32,
    ) -> StoreResult<Vec<(Vec<u8>, Doc)>> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let sql = if order == Order::Asc {
            "SELECT e.key, d.id, d.table_name, d.creation_time, d.value FROM index_entries e
             JOIN documents d ON d.deployment_id = e.deployment_id AND d.id = e.doc_id
             WHERE e.deployment_id = $1 AND e.index_name = $2 AND e.key >= $3 AND e.key < $4
             ORDER BY e.key ASC LIMIT $5"
        } else {
            "SELECT e.key, d.id, d.table_name, d.creation_time, d.value FROM index_entries e
             JOIN documents d ON d.deployment_id = e.deployment_id AND d.id = e.doc_id
             WHERE e.deployment_id = $1 AND e.index_name = $2 AND e.key >= $3 AND e.key < $4
             ORDER BY e.key DESC LIMIT $5"
        };
        let rows = h
            .block_on(
                sqlx::query(sql)
                    .bind(d)
                    .bind(index)
                    .bind(lower)
                    .bind(upper)
                    .bind(i64::from(limit))
                    .fetch_all(&mut **tx),
            )
            .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((r.try_get::<Vec<u8>, _>("key").map_err(backend)?, doc(r)?)))
            .collect()
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
        let (h, d) = (self.handle.clone(), self.deployment);
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, table_name, creation_time, value FROM documents WHERE deployment_id = ",
        );
        q.push_bind(d)
            .push(" AND table_name = ")
            .push_bind(table.to_string());
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
            q.push(if order == Order::Asc {
                " AND (creation_time, id) > ("
            } else {
                " AND (creation_time, id) < ("
            })
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
        let tx = self.tx()?;
        let rows = h
            .block_on(q.build().fetch_all(&mut **tx))
            .map_err(backend)?;
        rows.iter().map(doc).collect()
    }

    fn request_answer(&mut self, session: &str, request: u64) -> StoreResult<Option<String>> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        h.block_on(
            sqlx::query_scalar(
                "SELECT answer FROM request_answers WHERE deployment_id = $1 AND session = $2 AND request = $3",
            )
            .bind(d)
            .bind(session)
            .bind(request as i64)
            .fetch_optional(&mut **tx),
        )
        .map_err(backend)
    }

    fn record_answer(
        &mut self,
        session: &str,
        request: u64,
        answer: &str,
        now: f64,
    ) -> StoreResult<()> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        h.block_on(async {
            sqlx::query("DELETE FROM request_answers WHERE deployment_id = $1 AND at < $2")
                .bind(d)
                .bind(now - super::REQUEST_ANSWERS_KEPT)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO request_answers (deployment_id, session, request, answer, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (deployment_id, session, request) DO UPDATE SET answer = excluded.answer, at = excluded.at",
            )
            .bind(d)
            .bind(session)
            .bind(request as i64)
            .bind(answer)
            .bind(now)
            .execute(&mut **tx)
            .await
        })
        .map_err(backend)?;
        Ok(())
    }

    fn creation_time(&mut self, table: &str, now: f64) -> StoreResult<f64> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let last: Option<f64> = h
            .block_on(
                sqlx::query_scalar("SELECT max(creation_time) FROM documents WHERE deployment_id = $1 AND table_name = $2")
                    .bind(d)
                    .bind(table)
                    .fetch_one(&mut **tx),
            )
            .map_err(backend)?;
        let last = last.unwrap_or(0.0);
        Ok(if now > last { now } else { last + 0.001 })
    }

    fn table_number(&mut self, table: &str, create: bool) -> StoreResult<Option<u32>> {
        if let Some(n) = self
            .new_tables
            .get(table)
            .copied()
            .or_else(|| self.tables.lock().ok().and_then(|t| t.get(table).copied()))
        {
            return Ok(Some(n));
        }
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let found: Option<i64> = h
            .block_on(
                sqlx::query_scalar(
                    "SELECT number FROM deployment_tables WHERE deployment_id = $1 AND name = $2",
                )
                .bind(d)
                .bind(table)
                .fetch_optional(&mut **tx),
            )
            .map_err(backend)?;
        if let Some(n) = found.and_then(|n| u32::try_from(n).ok()) {
            self.new_tables.insert(table.to_string(), n);
            return Ok(Some(n));
        }
        if !create {
            return Ok(None);
        }
        // Only write transactions create tables, and they hold the deployment's lock.
        let n: i64 = h
            .block_on(
                sqlx::query_scalar(
                    "INSERT INTO deployment_tables (deployment_id, number, name)
                     SELECT $1, coalesce(max(number), 10000) + 1, $2 FROM deployment_tables WHERE deployment_id = $1
                     RETURNING number",
                )
                .bind(d)
                .bind(table)
                .fetch_one(&mut **tx),
            )
            .map_err(backend)?;
        let n = u32::try_from(n).ok();
        if let Some(n) = n {
            self.new_tables.insert(table.to_string(), n);
        }
        Ok(n)
    }

    fn table_name(&mut self, number: u32) -> StoreResult<Option<String>> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        h.block_on(
            sqlx::query_scalar(
                "SELECT name FROM deployment_tables WHERE deployment_id = $1 AND number = $2",
            )
            .bind(d)
            .bind(i64::from(number))
            .fetch_optional(&mut **tx),
        )
        .map_err(backend)
    }

    fn tables(&mut self) -> StoreResult<Vec<TableInfo>> {
        let (h, d) = (self.handle.clone(), self.deployment);
        let tx = self.tx()?;
        let rows = h
            .block_on(
                sqlx::query(
                    "SELECT t.name, t.number, (SELECT count(*) FROM documents x WHERE x.deployment_id = t.deployment_id AND x.table_name = t.name) AS n
                     FROM deployment_tables t WHERE t.deployment_id = $1 ORDER BY t.name",
                )
                .bind(d)
                .fetch_all(&mut **tx),
            )
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

    fn commit(mut self: Box<Self>) -> StoreResult<Option<u64>> {
        let mut tx = self
            .tx
            .take()
            .ok_or_else(|| StoreError::Backend("the transaction is finished".into()))?;
        let (d, announce) = (self.deployment, self.announce.clone());
        let writes = std::mem::take(&mut self.writes);
        let ts = self.handle.block_on(async {
            let ts = if writes.is_empty() {
                None
            } else {
                // The deployment's next timestamp (under its write lock, so in commit order on
                // every server) and the notice to the other servers, in one round trip; the
                // notice goes out when the transaction commits.
                let tables: Vec<&str> = writes.tables.iter().map(String::as_str).collect();
                let mut listed = tables.join("\u{1f}");
                if listed.len() > NOTICE_TABLES {
                    listed = "*".into();
                }
                Some(next_commit(&mut tx, d, &announce, &listed).await?)
            };
            tx.commit().await.map_err(backend)?;
            Ok::<_, StoreError>(ts)
        })?;
        if !self.new_tables.is_empty()
            && let Ok(mut t) = self.tables.lock()
        {
            t.extend(self.new_tables.drain());
        }
        if let Some(ts) = ts {
            announce.hub.publish(
                d,
                super::commits::Commit {
                    ts,
                    writes: Arc::new(writes),
                },
            );
        }
        Ok(ts)
    }
}

impl Drop for PgDocTx {
    fn drop(&mut self) {
        // Dropping a sqlx transaction rolls it back on the pool's runtime.
        let _ = self.tx.take();
    }
}
