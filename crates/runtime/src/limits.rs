//! Convex's limits on what one function's transaction may read and write, charged as the store
//! answers: a transaction that reads more documents or bytes, or writes more, than its limits is
//! stopped with the limit's name and a hint, before it can hold a snapshot for long or load the
//! whole table into memory.

use berth_store::{
    StoreError, StoreResult,
    docs::{Bound, Doc, DocTx, Order, Position, TableInfo, commits::ReadSet},
};
use std::sync::{Arc, Mutex};

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

/// A transaction that counts what it reads and writes against its limits, and checks the
/// call's deadline as the store answers (a scan in Rust does not reach the JavaScript
/// interrupt that enforces it otherwise).
pub struct Metered {
    inner: Box<dyn DocTx>,
    limits: TxLimits,
    deadline: Option<std::time::Instant>,
    rows_read: u64,
    bytes_read: u64,
    writes: u64,
    bytes_written: u64,
    /// Where what it reads is recorded (a query's, for live queries), when asked.
    reads: Option<Arc<Mutex<ReadSet>>>,
}

impl Metered {
    /// Records what the transaction reads into `reads`.
    pub fn recording(mut self, reads: Option<Arc<Mutex<ReadSet>>>) -> Self {
        self.reads = reads;
        self
    }

    fn note(&self, f: impl FnOnce(&mut ReadSet)) {
        if let Some(r) = &self.reads
            && let Ok(mut r) = r.lock()
        {
            f(&mut r);
        }
    }

    pub fn new(
        inner: Box<dyn DocTx>,
        limits: TxLimits,
        deadline: Option<std::time::Instant>,
    ) -> Self {
        Metered {
            inner,
            limits,
            deadline,
            rows_read: 0,
            bytes_read: 0,
            writes: 0,
            bytes_written: 0,
            reads: None,
        }
    }

    fn read<'a>(&mut self, docs: impl IntoIterator<Item = &'a Doc>) -> StoreResult<()> {
        if self.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(StoreError::LimitExceeded(
                "Function execution timed out while reading the database: the call ran longer than its limit. Read less per call (an index range, a smaller page)".into(),
            ));
        }
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
        self.note(|r| {
            r.ids.insert(id.to_string());
        });
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
        // Noted before it is charged: a read that passes a limit still counts as read.
        self.note(|r| {
            // The documents returned: a write that changes one of them in place (its keys
            // unchanged) must touch this read too.
            r.ids.extend(page.iter().map(|(_, d)| d.id.clone()));
            // A full page read only up to its last key: what lies beyond was not seen.
            let (mut lo, mut hi) = (lower.to_vec(), upper.to_vec());
            if let Some((last, _)) = page
                .last()
                .filter(|_| page.len() as u64 >= u64::from(limit))
            {
                match order {
                    Order::Asc => hi = berth_value::key::successor(last),
                    Order::Desc => lo = last.clone(),
                }
            }
            r.ranges.push((index.to_string(), lo, hi));
        });
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
        self.note(|r| {
            if !r.tables.contains(table) {
                r.tables.insert(table.to_string());
            }
        });
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
        self.note(|r| r.everything = true);
        self.inner.tables()
    }

    fn request_answer(&mut self, session: &str, request: u64) -> StoreResult<Option<String>> {
        self.inner.request_answer(session, request)
    }

    fn record_answer(
        &mut self,
        session: &str,
        request: u64,
        answer: &str,
        now: f64,
    ) -> StoreResult<()> {
        self.inner.record_answer(session, request, answer, now)
    }

    fn commit(self: Box<Self>) -> StoreResult<Option<u64>> {
        self.inner.commit()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use berth_store::docs::{DocStore, sqlite::SqliteDocStore};

    fn doc(i: u32, bytes: usize) -> Doc {
        Doc {
            id: format!("d{i:04}"),
            table: "t".into(),
            creation_time: f64::from(i),
            json: format!("{{\"pad\":\"{}\"}}", "x".repeat(bytes)),
        }
    }

    #[test]
    fn reads_writes_and_the_deadline_are_charged_as_the_store_answers() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteDocStore::open(&dir.path().join("d.sqlite3")).unwrap();
        let limits = TxLimits {
            rows_read: 5,
            bytes_read: 1 << 20,
            writes: 8,
            bytes_written: 1 << 20,
        };
        let mut tx = Metered::new(store.begin(true).unwrap(), limits, None);
        for i in 0..8 {
            tx.insert(&doc(i, 10)).unwrap();
        }
        let e = tx.insert(&doc(8, 10)).unwrap_err().to_string();
        assert!(
            e.contains("Too many writes") && e.contains("limit: 8"),
            "{e}"
        );
        Box::new(tx).commit().unwrap();

        let mut tx = Metered::new(store.begin(false).unwrap(), limits, None);
        assert_eq!(
            tx.scan("t", Order::Asc, None, None, None, 5).unwrap().len(),
            5
        );
        let e = tx.get("d0007").unwrap_err().to_string();
        assert!(
            e.contains("Too many documents read") && e.contains("limit: 5"),
            "{e}"
        );

        // A call past its deadline is stopped at its next read, however short.
        let past = std::time::Instant::now() - std::time::Duration::from_millis(1);
        let mut tx = Metered::new(store.begin(false).unwrap(), limits, Some(past));
        let e = tx.get("d0001").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
    }
}
