//! Failed client authentications in the audit trail, aggregated: at most
//! one `client_auth_failed_summary` line per source address per window,
//! with counts and the claimed ids (bounded in number and length), so a
//! credential flood cannot push real events out of the audit files.
//!
//! A window opens at a source's first failure and is written once it is
//! `window` old: by the next failure of that source, by [`flush`] (called
//! every second by the application) or when the service is dropped.
//!
//! [`flush`]: FailureSummaries::flush

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::domain::TraceId;
use crate::ops::{audit, trace};

/// Sources tracked at once; failures from any further source are counted
/// under `"source": "other"`.
const MAX_SOURCES: usize = 10_000;
/// Claimed ids listed per line, and the characters kept of each.
const MAX_IDS: usize = 8;
const MAX_ID_CHARS: usize = 64;

/// Why an authentication failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Failure {
    /// The secret was checked and is wrong (or the id unknown).
    Checked,
    /// Refused before any check: the failure budget is spent (429).
    Throttled,
    /// Refused before any check: the hashing queue is full (503).
    Busy,
}

struct Window {
    opened: Instant,
    checked: u64,
    throttled: u64,
    busy: u64,
    ids: Vec<String>,
    ids_dropped: u64,
    request_id: String,
    trace_id: Option<TraceId>,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            opened: now,
            checked: 0,
            throttled: 0,
            busy: 0,
            ids: Vec::new(),
            ids_dropped: 0,
            request_id: String::new(),
            trace_id: None,
        }
    }
}

pub(super) struct FailureSummaries {
    window: Duration,
    open: Mutex<HashMap<Option<IpAddr>, Window>>,
}

impl FailureSummaries {
    pub(super) fn new(window: Duration) -> Self {
        FailureSummaries {
            window,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one failure of `source` claiming `id`.
    pub(super) fn record(&self, source: IpAddr, id: &str, failure: Failure, request_id: &str) {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if open.len() < MAX_SOURCES || open.contains_key(&Some(source)) {
            Some(source)
        } else {
            None
        };
        let window = open.entry(key).or_insert_with(|| Window::new(now));
        if now.duration_since(window.opened) >= self.window {
            let closed = std::mem::replace(window, Window::new(now));
            self.write(key, &closed);
        }
        match failure {
            Failure::Checked => window.checked += 1,
            Failure::Throttled => window.throttled += 1,
            Failure::Busy => window.busy += 1,
        }
        let id: String = id
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_ID_CHARS)
            .collect();
        if !window.ids.contains(&id) {
            if window.ids.len() < MAX_IDS {
                window.ids.push(id);
            } else {
                window.ids_dropped += 1;
            }
        }
        request_id.clone_into(&mut window.request_id);
        window.trace_id = trace::current();
    }

    /// Writes every window that is `window` old (all of them if `all`).
    pub(super) fn flush(&self, all: bool) {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|key, w| {
            let due = all || now.duration_since(w.opened) >= self.window;
            if due {
                self.write(*key, w);
            }
            !due
        });
    }

    fn write(&self, source: Option<IpAddr>, w: &Window) {
        let source = source.map_or_else(|| "other".to_owned(), |ip| ip.to_string());
        audit::warn_event_of(
            "client_auth_failed_summary",
            &w.request_id,
            w.trace_id,
            json!({
                "source": source,
                "count": w.checked + w.throttled + w.busy,
                "window_secs": self.window.as_secs(),
                "checked": w.checked,
                "throttled": w.throttled,
                "busy": w.busy,
                "client_ids": w.ids,
                "client_ids_dropped": w.ids_dropped,
            }),
        );
    }
}

impl Drop for FailureSummaries {
    fn drop(&mut self) {
        self.flush(true);
    }
}
