//! Convex's limits on what one function's transaction may read and write, charged as the store
//! answers: a transaction that reads more documents or bytes, or writes more, than its limits is
//! stopped with the limit's name and a hint, before it can hold a snapshot for long or load the
//! whole table into memory.

use berth_store::{
    StoreError, StoreResult,
    docs::{Bound, Doc, DocTx, Order, Position, TableInfo},
};

/// What one transaction may read and write (Convex's defaults, `crates/common/src/knobs.rs`).
#[derive(Debug, Clone, Copy)]
pub struct TxLimits {
    pub rows_read: u64,
    pub bytes_read: u64,
    pub writes: u64,
    pub bytes_written: u64,
}

impl Default for TxLimits {
    fn default() -> Self {
        TxLimits {
            rows_read: 32_000,
            bytes_read: 16 << 20,
            writes: 16_000,
            bytes_written: 16 << 20,
        }
    }
}

const READ_HINT: &str = "Consider using smaller limits in your queries, paginating your queries, or using indexed queries with a selective index range expressions.";

/// A transaction that counts what it reads and writes against its limits.
pub struct Metered {
    inner: Box<dyn DocTx>,
    limits: TxLimits,
    rows_read: u64,
    bytes_read: u64,
    writes: u64,
    bytes_written: u64,
}

impl Metered {
    pub fn new(inner: Box<dyn DocTx>, limits: TxLimits) -> Self {
        Metered {
            inner,
            limits,
            rows_read: 0,
            bytes_read: 0,
            writes: 0,
            bytes_written: 0,
        }
    }

    fn read<'a>(&mut self, docs: impl IntoIterator<Item = &'a Doc>) -> StoreResult<()> {
        for d in docs {
            self.rows_read += 1;
            self.bytes_read += d.json.len() as u64;
        }
        if self.rows_read > self.limits.rows_read {
            return Err(StoreError::LimitExceeded(format!(
                "Too many documents read in a single function execution (limit: {}). {READ_HINT}",
                self.limits.rows_read
            )));
        }
        if self.bytes_read > self.limits.bytes_read {
            return Err(StoreError::LimitExceeded(format!(
                "Too many bytes read in a single function execution (limit: {} bytes). {READ_HINT}",
                self.limits.bytes_read
            )));
        }
        Ok(())
    }

    fn wrote(&mut self, bytes: usize) -> StoreResult<()> {
        self.writes += 1;
        self.bytes_written += bytes as u64;
        if self.writes > self.limits.writes {
            return Err(StoreError::LimitExceeded(format!(
                "Too many writes in a single function execution (limit: {}). Consider splitting the work into several mutations, for example with ctx.scheduler or from an action.",
                self.limits.writes
            )));
        }
        if self.bytes_written > self.limits.bytes_written {
            return Err(StoreError::LimitExceeded(format!(
                "Too many bytes written in a single function execution (limit: {} bytes). Consider splitting the work into several mutations.",
                self.limits.bytes_written
            )));
        }
        Ok(())
    }
}

impl DocTx for Metered {
    fn get(&mut self, id: &str) -> StoreResult<Option<Doc>> {
        let found = self.inner.get(id)?;
        self.read(found.iter())?;
        Ok(found)
    }

    fn insert(&mut self, doc: &Doc) -> StoreResult<()> {
        self.wrote(doc.json.len())?;
        self.inner.insert(doc)
    }

    fn replace(&mut self, id: &str, json: &str) -> StoreResult<bool> {
        self.wrote(json.len())?;
        self.inner.replace(id, json)
    }

    fn delete(&mut self, id: &str) -> StoreResult<bool> {
        self.wrote(0)?;
        self.inner.delete(id)
    }

    fn has_index(&mut self, index: &str) -> StoreResult<bool> {
        self.inner.has_index(index)
    }

    fn index_scan(
        &mut self,
        index: &str,
        lower: &[u8],
        upper: &[u8],
        order: Order,
        limit: u32,
    ) -> StoreResult<Vec<(Vec<u8>, Doc)>> {
        let page = self.inner.index_scan(index, lower, upper, order, limit)?;
        self.read(page.iter().map(|(_, d)| d))?;
        Ok(page)
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
        let page = self.inner.scan(table, order, lower, upper, after, limit)?;
        self.read(page.iter())?;
        Ok(page)
    }

    fn creation_time(&mut self, table: &str, now: f64) -> StoreResult<f64> {
        self.inner.creation_time(table, now)
    }

    fn table_number(&mut self, table: &str, create: bool) -> StoreResult<Option<u32>> {
        self.inner.table_number(table, create)
    }

    fn table_name(&mut self, number: u32) -> StoreResult<Option<String>> {
        self.inner.table_name(number)
    }

    fn tables(&mut self) -> StoreResult<Vec<TableInfo>> {
        self.inner.tables()
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        self.inner.commit()
    }
}
