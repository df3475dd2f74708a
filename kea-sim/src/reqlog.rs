//! The request log: every request a listener received, with its timing and outcome. End-to-end
//! tests measure a client's retry schedule from the timestamps, so they are taken when the
//! request arrives (before any injected latency).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::element::Element;

/// One received request, as the library and the admin API report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceivedCommand {
    /// Sequence number within this server's log (starts at 1).
    pub seq: u64,
    /// Server that received it (`primary`, `secondary`).
    pub server: String,
    /// Arrival time, RFC 3339 with microseconds (UTC).
    pub time: String,
    /// Arrival time in microseconds since the Unix epoch.
    pub unix_micros: i64,
    /// The `command` member, when the body was a map with a string command.
    pub command: Option<String>,
    /// The `service` member, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<serde_json::Value>,
    /// The `arguments` member, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    /// HTTP status sent, `None` when no answer was sent (hang, reset, refused).
    pub http_status: Option<u16>,
    /// Kea result of the first answer element, when the answer was a Kea answer.
    pub result: Option<i64>,
    /// Kea text of the first answer element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The injected fault or mock that shaped the answer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Time from arrival to the answer, in microseconds (`None` when not answered).
    pub duration_micros: Option<u64>,
}

/// Internal entry (arguments kept as parsed; converted on read).
#[derive(Clone, Debug)]
pub struct Entry {
    /// Sequence.
    pub seq: u64,
    /// Arrival.
    pub at: SystemTime,
    /// Command name.
    pub command: Option<String>,
    /// Service member.
    pub service: Option<Element>,
    /// Arguments member.
    pub arguments: Option<Element>,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// Kea result.
    pub result: Option<i64>,
    /// Kea text.
    pub text: Option<String>,
    /// Fault label.
    pub fault: Option<String>,
    /// Duration.
    pub duration_micros: Option<u64>,
}

/// A bounded log (oldest entries are dropped first).
#[derive(Debug)]
pub struct RequestLog {
    entries: Mutex<VecDeque<Entry>>,
    seq: AtomicU64,
    capacity: usize,
}

impl RequestLog {
    /// A log keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            entries: Mutex::new(VecDeque::new()),
            seq: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Allocate the next sequence number.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Append an entry.
    pub fn push(&self, e: Entry) {
        let mut q = self.entries.lock();
        if q.len() >= self.capacity {
            q.pop_front();
        }
        q.push_back(e);
    }

    /// Entries with a sequence above `after`, converted for callers.
    pub fn snapshot(&self, server: &str, after: u64) -> Vec<ReceivedCommand> {
        let q = self.entries.lock();
        q.iter()
            .filter(|e| e.seq > after)
            .map(|e| convert(server, e))
            .collect()
    }

    /// Apply `f` to every entry (for expectation counting without conversion).
    pub fn count_matching(&self, after: u64, f: impl Fn(&Entry) -> bool) -> (u64, Vec<u64>) {
        let q = self.entries.lock();
        let hits: Vec<u64> = q
            .iter()
            .filter(|e| e.seq > after && f(e))
            .map(|e| e.seq)
            .collect();
        (hits.len() as u64, hits)
    }

    /// The latest sequence number handed out.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Forget every entry (sequence numbers keep growing).
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
}

/// Format a time as RFC 3339 with microseconds.
pub fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| String::new(), |ts| format!("{ts:.6}"))
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Convert an internal entry.
pub fn convert(server: &str, e: &Entry) -> ReceivedCommand {
    ReceivedCommand {
        seq: e.seq,
        server: server.to_string(),
        time: rfc3339(e.at),
        unix_micros: micros(e.at),
        command: e.command.clone(),
        service: e.service.as_ref().map(Element::to_json),
        arguments: e.arguments.as_ref().map(Element::to_json),
        http_status: e.http_status,
        result: e.result,
        text: e.text.clone(),
        fault: e.fault.clone(),
        duration_micros: e.duration_micros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            at: SystemTime::now(),
            command: Some("list-commands".into()),
            service: None,
            arguments: None,
            http_status: Some(200),
            result: Some(0),
            text: None,
            fault: None,
            duration_micros: Some(5),
        }
    }

    #[test]
    fn bounded_and_ordered() {
        let log = RequestLog::new(2);
        for _ in 0..3 {
            let s = log.next_seq();
            log.push(entry(s));
        }
        let snap = log.snapshot("primary", 0);
        assert_eq!(snap.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(log.snapshot("primary", 2).len(), 1);
        assert!(snap[0].time.ends_with('Z'), "{}", snap[0].time);
    }
}
