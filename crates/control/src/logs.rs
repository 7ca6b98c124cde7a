//! Every deployment's log: the `console.*` lines and errors of its calls, each with time, level,
//! function and request id, up to a bound per deployment (`--log-retention`). With the embedded
//! store they are kept in this server's memory; with a store shared by several servers
//! (PostgreSQL) they are kept there, so every server sees every line. Readers page through it by
//! sequence number, or wait for new lines (`berth logs --follow`).

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};
use tokio::sync::Notify;

/// One log line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Increases by one per line of the deployment; pass the last one seen as `cursor`.
    pub seq: u64,
    /// Unix milliseconds.
    pub time: i64,
    /// LOG, INFO, WARN, ERROR or DEBUG.
    pub level: String,
    /// The function that logged it (`messages.js:send`).
    pub function: String,
    pub request_id: String,
    pub text: String,
    /// `Query`, `Mutation` or `Action`, when this server ran the call (logs read back from a
    /// shared store do not keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udf_type: Option<String>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<LogEntry>,
    next_seq: u64,
}

/// The logs of every deployment.
pub struct LogHub {
    retention: usize,
    rings: Mutex<HashMap<String, Ring>>,
    notify: Notify,
    /// The shared store that keeps logs, when there is one.
    shared: Option<std::sync::Arc<dyn berth_store::Store>>,
}

fn record(e: &LogEntry) -> berth_store::LogRecord {
    berth_store::LogRecord {
        seq: e.seq,
        time: e.time,
        level: e.level.clone(),
        function: e.function.clone(),
        request_id: e.request_id.clone(),
        text: e.text.clone(),
    }
}

fn entry(r: berth_store::LogRecord) -> LogEntry {
    LogEntry {
        seq: r.seq,
        time: r.time,
        level: r.level,
        function: r.function,
        request_id: r.request_id,
        text: r.text,
        udf_type: None,
    }
}

impl LogHub {
    pub fn new(retention: usize) -> Self {
        LogHub {
            retention: retention.max(1),
            rings: Mutex::new(HashMap::new()),
            notify: Notify::new(),
            shared: None,
        }
    }

    /// A hub that keeps logs in `store` when the store keeps logs (shared by servers).
    pub fn with_store(retention: usize, store: std::sync::Arc<dyn berth_store::Store>) -> Self {
        let mut hub = Self::new(retention);
        if store.keeps_logs() {
            hub.shared = Some(store);
        }
        hub
    }

    /// Appends lines (without `seq`; it is assigned here) and wakes followers.
    pub fn append(&self, deployment: &str, lines: impl IntoIterator<Item = LogEntry>) {
        if let Some(store) = &self.shared {
            let records: Vec<berth_store::LogRecord> =
                lines.into_iter().map(|l| record(&l)).collect();
            if records.is_empty() {
                return;
            }
            let (store, deployment, retention) =
                (store.clone(), deployment.to_string(), self.retention);
            tokio::spawn(async move {
                if let Err(e) = store.append_logs(&deployment, &records, retention).await {
                    tracing::warn!(deployment = %deployment, error = %e, "could not keep log lines");
                }
            });
            self.notify.notify_waiters();
            return;
        }
        let Ok(mut rings) = self.rings.lock() else {
            return;
        };
        let ring = rings.entry(deployment.to_string()).or_default();
        for mut line in lines {
            ring.next_seq += 1;
            line.seq = ring.next_seq;
            ring.entries.push_back(line);
            while ring.entries.len() > self.retention {
                ring.entries.pop_front();
            }
        }
        drop(rings);
        self.notify.notify_waiters();
    }

    /// Lines after `cursor` (at most `limit`), or the newest `limit` lines without a cursor.
    pub async fn read(&self, deployment: &str, cursor: Option<u64>, limit: usize) -> Vec<LogEntry> {
        if let Some(store) = &self.shared {
            return match store.read_logs(deployment, cursor, limit).await {
                Ok(rows) => rows.into_iter().map(entry).collect(),
                Err(e) => {
                    tracing::warn!(deployment = %deployment, error = %e, "could not read log lines");
                    Vec::new()
                }
            };
        }
        self.read_local(deployment, cursor, limit)
    }

    fn read_local(&self, deployment: &str, cursor: Option<u64>, limit: usize) -> Vec<LogEntry> {
        let Ok(rings) = self.rings.lock() else {
            return Vec::new();
        };
        let Some(ring) = rings.get(deployment) else {
            return Vec::new();
        };
        match cursor {
            Some(c) => ring
                .entries
                .iter()
                .filter(|e| e.seq > c)
                .take(limit)
                .cloned()
                .collect(),
            None => {
                let skip = ring.entries.len().saturating_sub(limit);
                ring.entries.iter().skip(skip).cloned().collect()
            }
        }
    }

    /// The last sequence number of the deployment's log.
    pub async fn last_seq(&self, deployment: &str) -> u64 {
        if self.shared.is_some() {
            return self
                .read(deployment, None, 1)
                .await
                .last()
                .map_or(0, |e| e.seq);
        }
        self.rings
            .lock()
            .ok()
            .and_then(|r| r.get(deployment).map(|r| r.next_seq))
            .unwrap_or(0)
    }

    /// Like [`read`](Self::read) with a cursor, waiting up to `wait` for a line to arrive.
    pub async fn follow(
        &self,
        deployment: &str,
        cursor: u64,
        limit: usize,
        wait: Duration,
    ) -> Vec<LogEntry> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let got = self.read(deployment, Some(cursor), limit).await;
            if !got.is_empty() {
                return got;
            }
            if tokio::time::Instant::now() >= deadline {
                return Vec::new();
            }
            // Lines written by other servers arrive without a local wake-up: look again soon.
            let next = if self.shared.is_some() {
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(250))
            } else {
                deadline
            };
            let _ = tokio::time::timeout_at(next, notified).await;
        }
    }

    /// Drops a deleted deployment's lines.
    pub fn forget(&self, deployment: &str) {
        if let Ok(mut rings) = self.rings.lock() {
            rings.remove(deployment);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogEntry {
        LogEntry {
            seq: 0,
            time: 1,
            level: "LOG".into(),
            function: "f.js:g".into(),
            request_id: "r".into(),
            text: text.into(),
            udf_type: None,
        }
    }

    #[tokio::test]
    async fn keeps_the_newest_lines_and_wakes_followers() {
        let hub = std::sync::Arc::new(LogHub::new(3));
        hub.append("d", ["a", "b", "c", "d"].map(line));
        let all: Vec<String> = hub
            .read("d", None, 10)
            .await
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(all, ["b", "c", "d"], "bounded retention");
        assert_eq!(hub.read("d", Some(3), 10).await.len(), 1);
        let h = hub.clone();
        let waiter =
            tokio::spawn(async move { h.follow("d", 4, 10, Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        hub.append("d", [line("e")]);
        let got = waiter.await.unwrap();
        assert_eq!(got[0].text, "e");
        assert_eq!(got[0].seq, 5);
        assert!(
            hub.follow("d", 5, 10, Duration::from_millis(10))
                .await
                .is_empty()
        );
        hub.forget("d");
        assert!(hub.read("d", None, 10).await.is_empty());
    }
}
