//! The revocation feed, served: one tailer per instance follows the
//! store's feed (a blocking read on a connection of its own) and fans each
//! event out to this instance's subscribers; a subscriber first replays
//! what it missed from the store (from its `Last-Event-ID`, or everything
//! retained), then follows the fan-out, skipping what it already sent.
//! Heartbeats come from the tailer after each successful read, so a feed
//! whose store is down falls silent and clients notice.

use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast, mpsc};

use super::{ServiceError, TokenService};
use crate::config::VerifySettings;
use crate::domain::{FeedEvent, FeedId};
use crate::store::{FeedCursor, FeedRead, Store, TokenStore};

/// What a subscriber is sent.
#[derive(Debug, Clone)]
pub enum FeedMessage {
    Event(Arc<FeedEvent>),
    /// The position asked for is gone (older than the retention, or the
    /// store lost its data): drop what was learnt from the feed; the full
    /// retained history follows.
    Reset,
    /// The feed is live as of now.
    Heartbeat,
}

/// The fan-out and its bounds.
pub struct RevocationFeed {
    tx: broadcast::Sender<FeedMessage>,
    subscribers: Arc<Semaphore>,
    heartbeat: Duration,
    connection_limit: Duration,
    /// Set when the instance shuts down: the tailer stops, subscribers end.
    closed: AtomicBool,
    wake: Notify,
}

/// Events per store read (replay pages and tail reads).
const PAGE: usize = 256;
/// How long one tail read waits for news: below redis-rs's 500 ms response
/// timeout, so a quiet feed is not mistaken for a dead Redis.
const BLOCK: Duration = Duration::from_millis(400);
/// Messages a slow subscriber may fall behind before it is cut off (it
/// reconnects with its `Last-Event-ID` and replays from the store).
const LAG: usize = 1024;

impl RevocationFeed {
    pub fn new(settings: &VerifySettings) -> Self {
        RevocationFeed {
            tx: broadcast::channel(LAG).0,
            subscribers: Arc::new(Semaphore::new(settings.feed_max_subscribers)),
            heartbeat: Duration::from_secs(settings.feed_heartbeat_secs),
            connection_limit: Duration::from_secs(settings.feed_max_connection_secs),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Ends the tailer and every subscription (shutdown: long-lived feed
    /// responses must not hold up the graceful stop).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
        self.subscribers.close();
        let _ = self.tx.send(FeedMessage::Reset);
    }

    pub fn connection_limit(&self) -> Duration {
        self.connection_limit
    }

    /// Follows `store`'s feed until the process ends; on errors it retries
    /// with backoff and sends no heartbeat meanwhile.
    pub async fn tail(&self, store: Store) {
        let mut cursor = None;
        let mut backoff = Duration::from_millis(100);
        let mut last_beat = tokio::time::Instant::now();
        let closed = self.wake.notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        while !self.closed.load(Ordering::SeqCst) {
            let from = match cursor {
                Some(c) => c,
                None => match store.read_feed(latest()).await {
                    Ok(page) => page.newest.map_or(FeedCursor::Start, FeedCursor::After),
                    Err(e) => {
                        log::warn!("revocation feed: cannot read the store: {e}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                },
            };
            let read = FeedRead {
                from,
                count: PAGE,
                block: Some(BLOCK),
            };
            let result = tokio::select! {
                () = &mut closed => return,
                r = store.read_feed(read) => r,
            };
            match result {
                Ok(page) => {
                    backoff = Duration::from_millis(100);
                    if page.reset {
                        // Our own position is gone: subscribers replay.
                        let _ = self.tx.send(FeedMessage::Reset);
                        cursor = None;
                        continue;
                    }
                    for event in page.events {
                        cursor = Some(FeedCursor::After(event.id));
                        let _ = self.tx.send(FeedMessage::Event(Arc::new(event)));
                    }
                    cursor.get_or_insert(from);
                    if last_beat.elapsed() >= self.heartbeat {
                        last_beat = tokio::time::Instant::now();
                        let _ = self.tx.send(FeedMessage::Heartbeat);
                    }
                }
                Err(e) => {
                    log::warn!("revocation feed: cannot read the store: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

fn latest() -> FeedRead {
    FeedRead {
        from: FeedCursor::Latest,
        count: 0,
        block: None,
    }
}

/// A subscription: its messages arrive on `rx`; dropping it ends the task.
pub struct Subscription {
    pub rx: mpsc::Receiver<FeedMessage>,
}

impl TokenService {
    /// Subscribes to the feed from `after` (or from the start of what is
    /// retained). Refused when the instance has its maximum of subscribers.
    pub fn subscribe_feed(&self, after: Option<FeedId>) -> Result<Subscription, ServiceError> {
        let permit = self
            .feed
            .subscribers
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::FeedFull)?;
        // Follow the fan-out before replaying, so nothing falls between.
        let live = self.feed.tx.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let store = self.store.clone();
        self.metrics.feed_subscribers(1);
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            serve(store, after, live, tx, permit).await;
            metrics.feed_subscribers(-1);
        });
        Ok(Subscription { rx })
    }
}

/// Replays from the store, then forwards the fan-out, until the client
/// goes (the receiver is dropped), falls too far behind, or the feed ends.
async fn serve(
    store: Store,
    after: Option<FeedId>,
    mut live: broadcast::Receiver<FeedMessage>,
    tx: mpsc::Sender<FeedMessage>,
    _permit: OwnedSemaphorePermit,
) {
    let mut sent = after;
    let mut from = after.map_or(FeedCursor::Start, FeedCursor::After);
    loop {
        let read = FeedRead {
            from,
            count: PAGE,
            block: None,
        };
        let Ok(page) = store.read_feed(read).await else {
            return;
        };
        if page.reset && tx.send(FeedMessage::Reset).await.is_err() {
            return;
        }
        let full = page.events.len() == PAGE;
        for event in page.events {
            sent = Some(event.id);
            if tx.send(FeedMessage::Event(Arc::new(event))).await.is_err() {
                return;
            }
        }
        match (full, sent) {
            (true, Some(id)) => from = FeedCursor::After(id),
            _ => break,
        }
    }
    // Caught up: everything up to now has been sent.
    if tx.send(FeedMessage::Heartbeat).await.is_err() {
        return;
    }
    loop {
        let received = tokio::select! {
            () = tx.closed() => return,
            r = live.recv() => r,
        };
        let message = match received {
            Ok(FeedMessage::Event(e)) if sent.is_some_and(|s| e.id <= s) => continue,
            Ok(FeedMessage::Event(e)) => {
                sent = Some(e.id);
                FeedMessage::Event(e)
            }
            Ok(FeedMessage::Reset) | Err(_) => return,
            Ok(FeedMessage::Heartbeat) => FeedMessage::Heartbeat,
        };
        if tx.send(message).await.is_err() {
            return;
        }
    }
}
