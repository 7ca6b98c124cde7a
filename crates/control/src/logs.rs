//! Every deployment's log: the `console.*` lines and errors of its calls, each with time, level,
//! function and request id, kept in memory per deployment up to a bound (`--log-retention`).
//! Readers page through it by sequence number, or wait for new lines (`berth logs --follow`).

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
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<LogEntry>,
    next_seq: u64,
}

/// The logs of every deployment this server ran.
pub struct LogHub {
    retention: usize,
    rings: Mutex<HashMap<String, Ring>>,
    notify: Notify,
}

impl LogHub {
    pub fn new(retention: usize) -> Self {
        LogHub {
            retention: retention.max(1),
            rings: Mutex::new(HashMap::new()),
            notify: Notify::new(),
        }
    }

    /// Appends lines (without `seq`; it is assigned here) and wakes followers.
    pub fn append(&self, deployment: &str, lines: impl IntoIterator<Item = LogEntry>) {
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
    pub fn read(&self, deployment: &str, cursor: Option<u64>, limit: usize) -> Vec<LogEntry> {
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

    /// The last sequence number handed out.
    pub fn last_seq(&self, deployment: &str) -> u64 {
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
            let got = self.read(deployment, Some(cursor), limit);
            if !got.is_empty() {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
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
        }
    }

    #[tokio::test]
    async fn keeps_the_newest_lines_and_wakes_followers() {
        let hub = std::sync::Arc::new(LogHub::new(3));
        hub.append("d", ["a", "b", "c", "d"].map(line));
        let all: Vec<String> = hub
            .read("d", None, 10)
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(all, ["b", "c", "d"], "bounded retention");
        assert_eq!(hub.read("d", Some(3), 10).len(), 1);
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
        assert!(hub.read("d", None, 10).is_empty());
    }
}
