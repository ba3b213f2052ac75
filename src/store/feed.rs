//! The revocation feed as the store keeps it: every revocation decision,
//! appended in the same atomic step that revokes (the Lua scripts on one
//! server or a Sentinel primary; the memory store's lock), kept for
//! [`FEED_RETENTION_MS`], read by position.

use std::time::Duration;

use crate::domain::{FeedEvent, FeedId};

/// How long events are kept: the longest access-token life (24 h, see
/// `tokens.access_ttl_secs`) plus an hour of slack. A subscriber that
/// was away longer gets a reset.
pub const FEED_RETENTION_MS: u64 = 25 * 3600 * 1000;

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedCursor {
    /// Every retained event.
    Start,
    /// Events after this one.
    After(FeedId),
    /// No events: only the newest id ([`FeedPage::newest`]), where a
    /// tailer starts.
    Latest,
}

/// Events in order, and whether the cursor could not be honoured (older
/// than the retention, or newer than anything the store holds, as after a
/// Redis that lost its data): then `events` start from the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    pub reset: bool,
    /// The newest id the store holds (set by [`FeedCursor::Latest`] reads).
    pub newest: Option<FeedId>,
}

/// One read: up to `count` events from `from`; with `block`, waits that
/// long for the first one if there is none yet.
#[derive(Debug, Clone, Copy)]
pub struct FeedRead {
    pub from: FeedCursor,
    pub count: usize,
    pub block: Option<Duration>,
}

/// The oldest id still retained at `now_ms`.
pub(crate) fn min_id(now_ms: i64) -> u64 {
    u64::try_from(now_ms)
        .unwrap_or_default()
        .saturating_sub(FEED_RETENTION_MS)
}
