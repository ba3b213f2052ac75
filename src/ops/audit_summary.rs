//! Counts of frequent, low-value failures (failed verifies) per source
//! address and reason, handed out at most once per window so the audit
//! trail holds a few summary lines instead of one line per request: a flood
//! of garbage cannot roll the real events (logout, reuse, revoke) away.
//!
//! Memory is bounded: at most [`MAX_KEYS`] (source, reason) pairs per
//! window; failures past that are still counted, per reason, under the
//! source `other`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// (source, reason) pairs remembered per window. At most this many summary
/// lines (plus one per reason for the overflow) are written per window.
pub const MAX_KEYS: usize = 256;

/// One summary line: `count` failures of `reason` from `source` since
/// `since` (`None`: the source was not known or the key cap was reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub source: Option<IpAddr>,
    pub reason: &'static str,
    pub count: u64,
    /// Whether this line gathers the sources past [`MAX_KEYS`].
    pub overflow: bool,
    pub since: DateTime<Utc>,
}

impl Summary {
    /// The audit fields of this line (`event` and `ts` are added by
    /// `audit::summary_event`).
    pub fn fields(&self, window_secs: u64) -> Value {
        let source = match (self.overflow, self.source) {
            (true, _) => "other".to_owned(),
            (false, Some(ip)) => ip.to_string(),
            (false, None) => "unknown".to_owned(),
        };
        let mut fields = json!({
            "source": source,
            "reason": self.reason,
            "count": self.count,
            "window_secs": window_secs,
            "since": self.since.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if self.overflow
            && let Some(map) = fields.as_object_mut()
        {
            map.insert("overflow".into(), Value::Bool(true));
        }
        fields
    }
}

struct Window {
    started: Instant,
    since: DateTime<Utc>,
    counts: HashMap<(Option<IpAddr>, &'static str), u64>,
    overflow: HashMap<&'static str, u64>,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            since: Utc::now(),
            counts: HashMap::new(),
            overflow: HashMap::new(),
        }
    }

    fn into_summaries(self) -> Vec<Summary> {
        let since = self.since;
        let mut out: Vec<Summary> = self
            .counts
            .into_iter()
            .map(|((source, reason), count)| Summary {
                source,
                reason,
                count,
                overflow: false,
                since,
            })
            .chain(self.overflow.into_iter().map(|(reason, count)| Summary {
                source: None,
                reason,
                count,
                overflow: true,
                since,
            }))
            .collect();
        out.sort_by(|a, b| (a.overflow, a.source, a.reason).cmp(&(b.overflow, b.source, b.reason)));
        out
    }
}

/// Failure counts of the current window.
pub struct FailureSummary {
    window: Duration,
    state: Mutex<Window>,
}

impl FailureSummary {
    pub fn new(window: Duration) -> Self {
        FailureSummary {
            window,
            state: Mutex::new(Window::new(Instant::now())),
        }
    }

    pub fn window_secs(&self) -> u64 {
        self.window.as_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one failure at `now`. When the window had ended, returns its
    /// summaries (to be written) and starts a new one with this failure.
    pub fn record(
        &self,
        source: Option<IpAddr>,
        reason: &'static str,
        now: Instant,
    ) -> Vec<Summary> {
        let mut w = self.lock();
        let ended = if now.saturating_duration_since(w.started) >= self.window {
            std::mem::replace(&mut *w, Window::new(now)).into_summaries()
        } else {
            Vec::new()
        };
        let key = (source, reason);
        if let Some(n) = w.counts.get_mut(&key) {
            *n += 1;
        } else if w.counts.len() < MAX_KEYS {
            w.counts.insert(key, 1);
        } else {
            *w.overflow.entry(reason).or_insert(0) += 1;
        }
        ended
    }

    /// The summaries of the current window if it has ended at `now` (or at
    /// once with `force`, on shutdown); a new window starts. Nothing when
    /// no failure was counted.
    pub fn take_due(&self, now: Instant, force: bool) -> Vec<Summary> {
        let mut w = self.lock();
        if w.counts.is_empty() && w.overflow.is_empty() {
            return Vec::new();
        }
        if force || now.saturating_duration_since(w.started) >= self.window {
            std::mem::replace(&mut *w, Window::new(now)).into_summaries()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn failures_are_counted_per_source_and_reason_and_handed_out_once_per_window() {
        let s = FailureSummary::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(s.record(Some(ip(1)), "malformed", t0).is_empty());
        }
        assert!(s.record(Some(ip(2)), "malformed", t0).is_empty());
        assert!(s.record(Some(ip(1)), "expired", t0).is_empty());
        assert!(s.take_due(t0 + Duration::from_secs(59), false).is_empty());
        let out = s.record(Some(ip(1)), "malformed", t0 + Duration::from_secs(60));
        let counts: Vec<_> = out.iter().map(|x| (x.source, x.reason, x.count)).collect();
        assert_eq!(
            counts,
            [
                (Some(ip(1)), "expired", 1),
                (Some(ip(1)), "malformed", 1000),
                (Some(ip(2)), "malformed", 1)
            ]
        );
        // The failure that closed the window opens the next one.
        let next = s.take_due(t0 + Duration::from_secs(200), false);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].count, 1);
        assert!(s.take_due(t0 + Duration::from_secs(400), true).is_empty());
    }

    #[test]
    fn sources_past_the_cap_are_counted_together_and_memory_stays_bounded() {
        let s = FailureSummary::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let source = Some(IpAddr::from(i.to_be_bytes()));
            s.record(source, "malformed", t0);
        }
        assert_eq!(s.lock().counts.len(), MAX_KEYS);
        let out = s.take_due(t0, true);
        assert_eq!(out.len(), MAX_KEYS + 1);
        let other = out.last().unwrap();
        assert!(other.overflow);
        assert_eq!(other.count, 10_000 - MAX_KEYS as u64);
        let fields = other.fields(60);
        assert_eq!(fields["source"], "other");
        assert_eq!(fields["count"], 10_000 - MAX_KEYS as u64);
        assert_eq!(fields["window_secs"], 60);
    }
}
