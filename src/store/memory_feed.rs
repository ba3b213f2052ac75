//! The memory store's revocation feed: an in-process log with the Redis
//! stream's semantics (ids `<ms>-<seq>`, trimmed to the retention).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::feed::{FeedCursor, FeedPage, FeedRead, min_id};
use super::{StoreError, now_ms};
use crate::domain::{FeedEvent, FeedId, Revocation};

#[derive(Default)]
pub(super) struct MemoryFeed {
    log: Mutex<Log>,
    appended: Notify,
}

#[derive(Default)]
struct Log {
    events: VecDeque<FeedEvent>,
    /// The newest id ever handed out (kept when trimming empties the log).
    last: Option<FeedId>,
}

impl Log {
    fn trim(&mut self, now: i64) {
        let min = min_id(now);
        while self.events.front().is_some_and(|e| e.id.ms < min) {
            self.events.pop_front();
        }
    }

    fn after(&self, id: Option<FeedId>, count: usize) -> Vec<FeedEvent> {
        self.events
            .iter()
            .filter(|e| id.is_none_or(|id| e.id > id))
            .take(count)
            .cloned()
            .collect()
    }
}

impl MemoryFeed {
    fn log(&self) -> Result<MutexGuard<'_, Log>, StoreError> {
        self.log
            .lock()
            .map_err(|_| StoreError::Backend("memory feed lock poisoned".into()))
    }

    /// Appends one event (called under the store's lock, so the event and
    /// the revocation are one step).
    pub(super) fn publish(&self, revocation: Revocation) -> Result<(), StoreError> {
        let now = now_ms();
        let mut log = self.log()?;
        log.trim(now);
        let ms = u64::try_from(now).unwrap_or_default();
        let id = match log.last {
            Some(last) if last.ms >= ms => FeedId {
                ms: last.ms,
                seq: last.seq + 1,
            },
            _ => FeedId { ms, seq: 0 },
        };
        log.last = Some(id);
        log.events.push_back(FeedEvent { id, revocation });
        drop(log);
        self.appended.notify_waiters();
        Ok(())
    }

    pub(super) async fn read(&self, read: FeedRead) -> Result<FeedPage, StoreError> {
        let notified = self.appended.notified();
        tokio::pin!(notified);
        // Register for the wake-up before looking, so an append between the
        // look and the wait is not missed.
        notified.as_mut().enable();
        let (page, latest) = {
            let mut log = self.log()?;
            log.trim(now_ms());
            let (from, reset) = match read.from {
                FeedCursor::Start => (None, false),
                FeedCursor::Latest => {
                    return Ok(FeedPage {
                        newest: log.last,
                        ..FeedPage::default()
                    });
                }
                FeedCursor::After(id) => {
                    let lost = id.ms < min_id(now_ms()) || log.last.is_none_or(|last| id > last);
                    if lost {
                        (None, true)
                    } else {
                        (Some(id), false)
                    }
                }
            };
            let events = log.after(from, read.count);
            let page = FeedPage {
                events,
                reset,
                newest: None,
            };
            (page, from)
        };
        if !page.events.is_empty() || page.reset {
            return Ok(page);
        }
        let Some(block) = read.block else {
            return Ok(page);
        };
        if tokio::time::timeout(block, notified).await.is_err() {
            return Ok(page);
        }
        let events = self.log()?.after(latest, read.count);
        Ok(FeedPage {
            events,
            ..FeedPage::default()
        })
    }
}
