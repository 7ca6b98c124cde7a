//! Queries from user code (PROTOCOL §5): a source (a full table scan, or a range of an index)
//! and operators (filters and limits) applied in order. Scans and the built-in indexes
//! (`by_creation_time`, `by_id`) read lazily from the deployment's transaction a page at a time.
//! An index the schema defines (`defineTable(...).index(name, fields)`) is stored (its entries
//! kept with every write, built at push): its range becomes a range of keys
//! (`berth_value::key`), read a page at a time, and a pagination cursor is the last key read, so
//! deleting the cursor's document does not matter. Code pushed before indexes were stored has no
//! entries until its next push: its ranges are answered by reading the table, keeping the
//! documents in range and sorting them by the index's fields (then `_creationTime`), which gives
//! the same documents in the same order, at the cost of a full read.

use base64::Engine;
use berth_store::docs::{Bound, Doc, DocTx, Order, Position};
use berth_value::{Value, compare, decode, key};
use serde_json::Value as Json;
use std::collections::{HashMap, VecDeque};

/// The indexes a deployment's schema defines: `table.index` → its fields.
pub type Indexes = HashMap<String, Vec<String>>;

/// One bound of a range over a schema index: `field <op> value`.
#[derive(Debug, Clone)]
struct RangeBound {
    op: String,
    field: String,
    value: Value,
}

/// A range over a schema-defined index.
#[derive(Debug, Clone)]
struct IndexRange {
    /// `table.index`.
    name: String,
    fields: Vec<String>,
    bounds: Vec<RangeBound>,
}

/// A range of keys of a stored index: `[lower, upper)`.
#[derive(Debug, Clone)]
struct KeyRange {
    lower: Vec<u8>,
    upper: Vec<u8>,
}

impl IndexRange {
    fn contains(&self, doc: &Value) -> bool {
        self.bounds.iter().all(|b| {
            let o = compare(doc.get_path(&b.field), Some(&b.value));
            match b.op.as_str() {
                "Eq" => o.is_eq(),
                "Gt" => o.is_gt(),
                "Gte" => o.is_ge(),
                "Lt" => o.is_lt(),
                _ => o.is_le(),
            }
        })
    }

    fn key(&self, doc: &Value) -> Vec<Option<Value>> {
        self.fields
            .iter()
            .map(|f| doc.get_path(f).cloned())
            .collect()
    }

    /// The keys of the range, when its bounds have the shape Convex's `withIndex` builds:
    /// equalities on a prefix of the index's fields (then `_creationTime`), then at most one
    /// lower and one upper bound on the next field.
    fn keys(&self) -> Option<KeyRange> {
        let mut fields = self
            .fields
            .iter()
            .map(String::as_str)
            .chain(["_creationTime"]);
        let mut prefix = Vec::new();
        let mut bounds = self.bounds.iter().peekable();
        let mut field = fields.next();
        while let Some(b) = bounds.peek() {
            if b.op != "Eq" {
                break;
            }
            if Some(b.field.as_str()) != field {
                return None;
            }
            key::push_component(&mut prefix, Some(&b.value));
            bounds.next();
            field = fields.next();
        }
        let (mut lower, mut upper) = (prefix.clone(), key::prefix_end(&prefix));
        for b in bounds {
            if Some(b.field.as_str()) != field {
                return None;
            }
            let mut at = prefix.clone();
            key::push_component(&mut at, Some(&b.value));
            match b.op.as_str() {
                "Gte" => lower = lower.max(at),
                "Gt" => lower = lower.max(key::prefix_end(&at)),
                "Lt" => upper = upper.min(at),
                "Lte" => upper = upper.min(key::prefix_end(&at)),
                _ => return None,
            }
        }
        Some(KeyRange { lower, upper })
    }
}

const PAGE: u32 = 128;

/// Where a page ends (inclusive): a key of a stored index, or a position in creation order.
#[derive(Debug, Clone)]
pub enum PageEnd {
    Key(Vec<u8>),
    Position(f64, String),
}

/// A cursor made by another way of reading the same query (before or after a push that stored
/// or dropped its index): it cannot say where to go on.
const STALE_CURSOR: &str = "the pagination cursor was made for another version of this query (a push changed its indexes); start again from the beginning (cursor: null)";

#[derive(Debug, Clone)]
enum Op {
    Filter(Json),
    Limit { max: usize, seen: usize },
}

/// A parsed query and where its reading stands.
#[derive(Debug, Clone)]
pub struct Stream {
    table: String,
    order: Order,
    lower: Bound,
    upper: Bound,
    by_id: Option<String>,
    index: Option<IndexRange>,
    /// Reading a stored index: the range left to read.
    keys: Option<KeyRange>,
    ops: Vec<Op>,
    position: Option<Position>,
    /// The last key read from a stored index.
    last_key: Option<Vec<u8>>,
    buffer: VecDeque<Doc>,
    /// The keys of the buffered documents, when they come from a stored index.
    buffer_keys: VecDeque<Vec<u8>>,
    exhausted: bool,
    /// How many documents a page of a stored index reads: a query that takes `n` (with no
    /// filter before) reads `n + 1`, not a whole page.
    page: u32,
    /// An error met while a batch was being read after some documents: raised on the next read.
    pub(crate) failed: Option<String>,
}

fn number(v: &Json) -> Result<f64, String> {
    match decode(v).map_err(|e| e.0)? {
        Value::Float64(f) => Ok(f),
        Value::Int64(i) => Ok(i as f64),
        other => Err(format!(
            "_creationTime is a number; a range cannot compare it with a {}",
            other.type_name()
        )),
    }
}

impl Stream {
    pub fn parse(query: &Json, indexes: &Indexes) -> Result<Stream, String> {
        let source = query.get("source").ok_or("the query has no source")?;
        let order = match source.get("order").and_then(Json::as_str) {
            Some("desc") => Order::Desc,
            _ => Order::Asc,
        };
        let mut s = Stream {
            table: String::new(),
            order,
            lower: None,
            upper: None,
            by_id: None,
            index: None,
            keys: None,
            ops: Vec::new(),
            position: None,
            last_key: None,
            buffer: VecDeque::new(),
            buffer_keys: VecDeque::new(),
            exhausted: false,
            page: PAGE,
            failed: None,
        };
        match source.get("type").and_then(Json::as_str) {
            Some("FullTableScan") => {
                s.table = source
                    .get("tableName")
                    .and_then(Json::as_str)
                    .ok_or("the scan names no table")?
                    .to_string();
            }
            Some("IndexRange") => {
                let index = source
                    .get("indexName")
                    .and_then(Json::as_str)
                    .ok_or("the range names no index")?;
                let (table, name) = index
                    .rsplit_once('.')
                    .ok_or_else(|| format!("index name '{index}' is not table.index"))?;
                s.table = table.to_string();
                let range = source
                    .get("range")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                match name {
                    "by_creation_time" => {
                        for r in &range {
                            let field = r
                                .get("fieldPath")
                                .and_then(Json::as_str)
                                .unwrap_or_default();
                            if field != "_creationTime" {
                                return Err(format!(
                                    "the index by_creation_time ranges over _creationTime, not '{field}'"
                                ));
                            }
                            let v = number(r.get("value").unwrap_or(&Json::Null))?;
                            match r.get("type").and_then(Json::as_str) {
                                Some("Eq") => {
                                    s.lower = Some((v, true));
                                    s.upper = Some((v, true));
                                }
                                Some("Gt") => s.lower = Some((v, false)),
                                Some("Gte") => s.lower = Some((v, true)),
                                Some("Lt") => s.upper = Some((v, false)),
                                Some("Lte") => s.upper = Some((v, true)),
                                other => return Err(format!("unknown range bound {other:?}")),
                            }
                        }
                    }
                    "by_id" => {
                        for r in &range {
                            match (
                                r.get("type").and_then(Json::as_str),
                                r.get("value").and_then(Json::as_str),
                            ) {
                                (Some("Eq"), Some(id)) => s.by_id = Some(id.to_string()),
                                _ => {
                                    return Err(
                                        "berth supports only eq(\"_id\", id) on the index by_id"
                                            .into(),
                                    );
                                }
                            }
                        }
                    }
                    other => {
                        let fields = indexes.get(index).ok_or_else(|| {
                            format!(
                                "table '{table}' has no index '{other}': define it in convex/schema.ts with defineTable(...).index(\"{other}\", [fields]) and push again"
                            )
                        })?;
                        let mut bounds = Vec::new();
                        for r in &range {
                            let op = r.get("type").and_then(Json::as_str).unwrap_or_default();
                            if !matches!(op, "Eq" | "Gt" | "Gte" | "Lt" | "Lte") {
                                return Err(format!("unknown range bound {op:?}"));
                            }
                            let field = r
                                .get("fieldPath")
                                .and_then(Json::as_str)
                                .unwrap_or_default()
                                .to_string();
                            if !fields.contains(&field) && field != "_creationTime" {
                                return Err(format!(
                                    "index '{other}' of table '{table}' is on {fields:?}; it cannot range over '{field}'"
                                ));
                            }
                            let value =
                                decode(r.get("value").unwrap_or(&Json::Null)).map_err(|e| e.0)?;
                            bounds.push(RangeBound {
                                op: op.to_string(),
                                field,
                                value,
                            });
                        }
                        let range = IndexRange {
                            name: index.to_string(),
                            fields: fields.clone(),
                            bounds,
                        };
                        if range.keys().is_none() {
                            return Err(format!(
                                "the range given to withIndex(\"{other}\") of table '{table}' does not follow the index's fields {fields:?} in order: it must be zero or more .eq() on the first fields, then at most one lower bound (.gt/.gte) and one upper bound (.lt/.lte) on the next field; put other conditions in .filter()"
                            ));
                        }
                        s.index = Some(range);
                    }
                }
            }
            other => return Err(format!("unknown query source {other:?}")),
        }
        for op in query
            .get("operators")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(f) = op.get("filter") {
                s.ops.push(Op::Filter(f.clone()));
            } else if let Some(n) = op.get("limit").and_then(Json::as_f64) {
                s.ops.push(Op::Limit {
                    max: n.max(0.0) as usize,
                    seen: 0,
                });
            } else {
                return Err(format!("unknown query operator {op}"));
            }
        }
        if let Some(Op::Limit { max, .. }) = s.ops.first() {
            s.page = u32::try_from(*max + 1).unwrap_or(PAGE).clamp(1, PAGE);
        }
        Ok(s)
    }

    /// Reads at most `n + 1` documents per page (`paginate` asks for `n`).
    pub fn read_ahead(&mut self, n: usize) {
        self.page = u32::try_from(n + 1).unwrap_or(PAGE).clamp(1, PAGE);
    }

    /// Reads at most `n` documents in the next page from storage when no filter may drop some:
    /// the caller wants no more (`take(10)` reads 10 index entries and documents, not a page of
    /// 128).
    pub fn at_most(&mut self, n: usize) {
        // A filter may drop what is read: pages stay whole.
        if self.ops.iter().any(|op| matches!(op, Op::Filter(_))) {
            return;
        }
        self.page = self
            .page
            .min(u32::try_from(n).unwrap_or(PAGE))
            .clamp(1, PAGE);
    }

    /// Continues after a pagination cursor.
    pub fn resume(&mut self, cursor: &str) -> Result<(), String> {
        if let Some(k) = cursor.strip_prefix("k:") {
            if self.index.is_none() {
                return Err(STALE_CURSOR.into());
            }
            let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k)
                .map_err(|_| "the pagination cursor is not one berth made".to_string())?;
            self.last_key = Some(k);
            return Ok(());
        }
        let (t, id) = cursor
            .split_once('~')
            .ok_or("the pagination cursor is not one berth made")?;
        let t: f64 = t
            .parse()
            .map_err(|_| "the pagination cursor is not one berth made".to_string())?;
        self.position = Some((t, id.to_string()));
        Ok(())
    }

    /// Where a page that ends at `cursor` (inclusive) stops; `None` when this stream cannot
    /// tell (a range of an index that is not stored, read in its fields' order: the page then
    /// reads its number of documents, as before end cursors).
    pub fn end_of(&self, cursor: &str) -> Result<Option<PageEnd>, String> {
        if let Some(k) = cursor.strip_prefix("k:") {
            if self.index.is_none() {
                return Err(STALE_CURSOR.into());
            }
            return base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k)
                .map(|k| Some(PageEnd::Key(k)))
                .map_err(|_| "the end cursor is not one berth made".to_string());
        }
        if self.index.is_some() {
            return Ok(None);
        }
        let (t, id) = cursor
            .split_once('~')
            .ok_or("the end cursor is not one berth made")?;
        let t: f64 = t
            .parse()
            .map_err(|_| "the end cursor is not one berth made".to_string())?;
        Ok(Some(PageEnd::Position(t, id.to_string())))
    }

    /// Whether the document just read lies past `end` in the scan's direction.
    pub fn beyond(&self, end: &PageEnd) -> bool {
        let order = match end {
            PageEnd::Key(k) => match &self.last_key {
                Some(last) => last.as_slice().cmp(k.as_slice()),
                None => return false,
            },
            PageEnd::Position(t, id) => match &self.position {
                Some((pt, pid)) => pt.total_cmp(t).then_with(|| pid.as_str().cmp(id)),
                None => return false,
            },
        };
        match self.order {
            Order::Asc => order.is_gt(),
            Order::Desc => order.is_lt(),
        }
    }

    /// Where reading stands, as a pagination cursor.
    pub fn cursor(&self) -> String {
        if let (Some(k), Some(_)) = (&self.last_key, &self.keys) {
            return format!(
                "k:{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)
            );
        }
        match &self.position {
            Some((t, id)) => format!("{t:?}~{id}"),
            None => String::new(),
        }
    }

    /// The next document (its stored JSON text), or `None` at the end.
    pub fn next(&mut self, tx: &mut dyn DocTx) -> Result<Option<String>, String> {
        loop {
            let Some(doc) = self.buffer.pop_front() else {
                if self.exhausted {
                    return Ok(None);
                }
                self.fill(tx)?;
                continue;
            };
            self.position = Some((doc.creation_time, doc.id.clone()));
            if let Some(k) = self.buffer_keys.pop_front() {
                self.last_key = Some(k);
            }
            // Decoded only when a filter needs the value.
            let mut value = None;
            let mut keep = true;
            for op in &mut self.ops {
                match op {
                    Op::Filter(e) if keep => {
                        if value.is_none() {
                            value = Some(
                                decode(
                                    &serde_json::from_str(&doc.json).map_err(|e| e.to_string())?,
                                )
                                .map_err(|e| e.0)?,
                            );
                        }
                        let v = value.as_ref().ok_or("no value")?;
                        keep = matches!(eval(e, v)?, Some(Value::Boolean(true)))
                    }
                    Op::Limit { max, seen } if keep => {
                        if *seen >= *max {
                            self.exhausted = true;
                            self.buffer.clear();
                            self.buffer_keys.clear();
                            return Ok(None);
                        }
                        *seen += 1;
                    }
                    _ => {}
                }
            }
            if keep {
                return Ok(Some(doc.json));
            }
        }
    }

    /// Reads the whole table for a schema index: the documents in range, in index order,
    /// after the pagination position when there is one.
    fn fill_index(&mut self, tx: &mut dyn DocTx, range: &IndexRange) -> Result<(), String> {
        let mut found: Vec<(Vec<Option<Value>>, Doc)> = Vec::new();
        let mut after: Option<Position> = None;
        loop {
            let page = tx
                .scan(&self.table, Order::Asc, None, None, after.as_ref(), 1024)
                .map_err(|e| e.to_string())?;
            let n = page.len();
            if let Some(last) = page.last() {
                after = Some((last.creation_time, last.id.clone()));
            }
            for d in page {
                let v = decode(&serde_json::from_str(&d.json).map_err(|e| e.to_string())?)
                    .map_err(|e| e.0)?;
                if range.contains(&v) {
                    found.push((range.key(&v), d));
                }
            }
            if n < 1024 {
                break;
            }
        }
        found.sort_by(|(ka, a), (kb, b)| {
            ka.iter()
                .zip(kb)
                .map(|(x, y)| compare(x.as_ref(), y.as_ref()))
                .find(|o| !o.is_eq())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.creation_time.total_cmp(&b.creation_time))
                .then(a.id.cmp(&b.id))
        });
        if self.order == Order::Desc {
            found.reverse();
        }
        let mut docs: Vec<Doc> = found.into_iter().map(|(_, d)| d).collect();
        if let Some((_, id)) = &self.position
            && let Some(i) = docs.iter().position(|d| &d.id == id)
        {
            docs.drain(..=i);
        }
        self.buffer.extend(docs);
        self.exhausted = true;
        Ok(())
    }

    fn fill(&mut self, tx: &mut dyn DocTx) -> Result<(), String> {
        if self.keys.is_none()
            && let Some(range) = self.index.take()
        {
            // Every range has that shape (`parse` refuses others); the index may not be stored
            // yet (code pushed before berth stored indexes).
            let stored = match range.keys() {
                Some(keys) if tx.has_index(&range.name).map_err(|e| e.to_string())? => keys,
                _ if self.last_key.is_some() => return Err(STALE_CURSOR.into()),
                _ => return self.fill_index(tx, &range),
            };
            if self.position.is_some() {
                return Err(STALE_CURSOR.into());
            }
            // Resuming after a key: only what lies beyond it in the scan's direction.
            let mut keys = stored;
            if let Some(last) = &self.last_key {
                match self.order {
                    Order::Asc => keys.lower = keys.lower.max(key::successor(last)),
                    Order::Desc => keys.upper = keys.upper.min(last.clone()),
                }
            }
            self.keys = Some(keys);
            self.index = Some(range);
        }
        if let (Some(range), Some(keys)) = (&self.index, &mut self.keys) {
            if keys.lower >= keys.upper {
                self.exhausted = true;
                return Ok(());
            }
            let page = tx
                .index_scan(&range.name, &keys.lower, &keys.upper, self.order, self.page)
                .map_err(|e| e.to_string())?;
            if page.len() < self.page as usize {
                self.exhausted = true;
            }
            // Past the first page the query wants more than it said: full pages from here.
            self.page = PAGE;
            if let Some((last, _)) = page.last() {
                match self.order {
                    Order::Asc => keys.lower = key::successor(last),
                    Order::Desc => keys.upper = last.clone(),
                }
            }
            for (k, d) in page {
                self.buffer_keys.push_back(k);
                self.buffer.push_back(d);
            }
            return Ok(());
        }
        if let Some(id) = self.by_id.take() {
            self.exhausted = true;
            if let Some(d) = tx.get(&id).map_err(|e| e.to_string())?
                && d.table == self.table
            {
                self.buffer.push_back(d);
            }
            return Ok(());
        }
        let page = tx
            .scan(
                &self.table,
                self.order,
                self.lower,
                self.upper,
                self.position.as_ref(),
                self.page,
            )
            .map_err(|e| e.to_string())?;
        if page.len() < self.page as usize {
            self.exhausted = true;
        }
        self.page = PAGE;
        self.buffer.extend(page);
        Ok(())
    }
}

fn arith(op: &str, l: Option<Value>, r: Option<Value>) -> Option<Value> {
    match (l?, r?) {
        (Value::Float64(a), Value::Float64(b)) => Some(Value::Float64(match op {
            "$add" => a + b,
            "$sub" => a - b,
            "$mul" => a * b,
            "$div" => a / b,
            _ => a % b,
        })),
        (Value::Int64(a), Value::Int64(b)) => Some(Value::Int64(match op {
            "$add" => a.wrapping_add(b),
            "$sub" => a.wrapping_sub(b),
            "$mul" => a.wrapping_mul(b),
            "$div" => a.checked_div(b)?,
            _ => a.checked_rem(b)?,
        })),
        _ => None,
    }
}

/// Evaluates a filter expression against a document; `None` is `undefined`.
pub fn eval(e: &Json, doc: &Value) -> Result<Option<Value>, String> {
    let obj = e
        .as_object()
        .ok_or_else(|| format!("invalid filter expression {e}"))?;
    let (op, arg) = obj.iter().next().ok_or("empty filter expression")?;
    let pair = |arg: &Json| -> Result<(Option<Value>, Option<Value>), String> {
        match arg.as_array().map(Vec::as_slice) {
            Some([l, r]) => Ok((eval(l, doc)?, eval(r, doc)?)),
            _ => Err(format!("{op} takes two operands")),
        }
    };
    Ok(match op.as_str() {
        "$field" => arg.as_str().and_then(|p| doc.get_path(p)).cloned(),
        "$literal" => Some(decode(arg).map_err(|e| e.0)?),
        "$eq" | "$neq" | "$lt" | "$lte" | "$gt" | "$gte" => {
            let (l, r) = pair(arg)?;
            let o = compare(l.as_ref(), r.as_ref());
            Some(Value::Boolean(match op.as_str() {
                "$eq" => o.is_eq(),
                "$neq" => !o.is_eq(),
                "$lt" => o.is_lt(),
                "$lte" => o.is_le(),
                "$gt" => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        "$add" | "$sub" | "$mul" | "$div" | "$mod" => {
            let (l, r) = pair(arg)?;
            arith(op, l, r)
        }
        "$neg" => match eval(arg, doc)? {
            Some(Value::Float64(f)) => Some(Value::Float64(-f)),
            Some(Value::Int64(i)) => Some(Value::Int64(i.wrapping_neg())),
            _ => None,
        },
        "$not" => Some(Value::Boolean(!matches!(
            eval(arg, doc)?,
            Some(Value::Boolean(true))
        ))),
        "$and" | "$or" => {
            let items = arg.as_array().ok_or_else(|| format!("{op} takes a list"))?;
            let mut acc = op == "$and";
            for i in items {
                let t = matches!(eval(i, doc)?, Some(Value::Boolean(true)));
                acc = if op == "$and" { acc && t } else { acc || t };
            }
            Some(Value::Boolean(acc))
        }
        other => return Err(format!("unknown filter operator {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_expressions() {
        let doc =
            decode(&json!({"a": 3, "b": {"c": "x"}, "n": {"$integer": "AgAAAAAAAAA="}})).unwrap();
        let t = |e: Json| eval(&e, &doc).unwrap();
        assert_eq!(
            t(json!({"$eq": [{"$field": "b.c"}, {"$literal": "x"}]})),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            t(json!({"$gt": [{"$field": "a"}, {"$literal": 2}]})),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            t(json!({"$eq": [{"$field": "missing"}, {"$literal": null}]})),
            Some(Value::Boolean(false))
        );
        assert_eq!(
            t(json!({"$lt": [{"$field": "missing"}, {"$literal": null}]})),
            Some(Value::Boolean(true)),
            "undefined < null"
        );
        assert_eq!(
            t(json!({"$add": [{"$field": "a"}, {"$literal": 1}]})),
            Some(Value::Float64(4.0))
        );
        assert_eq!(
            t(json!({"$and": [{"$literal": true}, {"$not": {"$literal": false}}]})),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            t(
                json!({"$or": [{"$literal": false}, {"$eq": [{"$field": "n"}, {"$literal": {"$integer": "AgAAAAAAAAA="}}]}]})
            ),
            Some(Value::Boolean(true))
        );
        assert!(eval(&json!({"$bogus": 1}), &doc).is_err());
    }

    #[test]
    fn sources() {
        let none = Indexes::new();
        let s = Stream::parse(&json!({"source": {"type": "IndexRange", "indexName": "m.by_creation_time", "range": [{"type": "Gt", "fieldPath": "_creationTime", "value": 5}], "order": "desc"}, "operators": [{"limit": 3}]}), &none).unwrap();
        assert_eq!((s.lower, s.order), (Some((5.0, false)), Order::Desc));
        let e = Stream::parse(&json!({"source": {"type": "IndexRange", "indexName": "m.by_author", "range": []}, "operators": []}), &none).unwrap_err();
        assert!(e.contains("has no index 'by_author'"), "{e}");
    }
}
