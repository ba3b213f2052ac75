//! The revocation feed on Redis: one stream, `<prefix>{feed}:revocations`,
//! trimmed by id (`MINID`) to the retention. On one server or a Sentinel
//! primary the revoking scripts append to it themselves, in the same
//! atomic step. On a Cluster the stream lives in its own slot, which a
//! script on the user's slot may not touch: there the store appends right
//! after the script, on every call (so a retried revocation repairs an
//! event lost to a crash in between).

use std::time::Duration;

use deadpool_redis::redis::{self, ScriptInvocation};

use super::{RedisStore, classify};
use crate::domain::{FeedEvent, FeedId, Revocation};
use crate::store::feed::{FeedCursor, FeedPage, FeedRead, min_id};
use crate::store::{StoreError, now_ms};

/// A stream entry as redis-rs reads it: id and flat field/value pairs.
type Entry = (String, Vec<(String, String)>);

fn events(entries: Vec<Entry>) -> Result<Vec<FeedEvent>, StoreError> {
    entries
        .into_iter()
        .map(|(id, fields)| {
            let id = FeedId::parse(&id);
            let revocation = Revocation::from_fields(&fields);
            match (id, revocation) {
                (Some(id), Some(revocation)) => Ok(FeedEvent { id, revocation }),
                _ => Err(StoreError::Backend("corrupt revocation feed entry".into())),
            }
        })
        .collect()
}

impl RedisStore {
    /// The stream a script appends to (empty on a Cluster) and the oldest
    /// id to keep.
    pub(super) fn feed_target(&self) -> (&str, u64) {
        let key = if self.feed_in_script {
            &*self.feed_key
        } else {
            ""
        };
        (key, min_id(now_ms()))
    }

    /// The three feed arguments the family-revoking scripts take: the
    /// stream, the oldest id to keep, the user.
    pub(super) fn feed_args(&self, inv: &mut ScriptInvocation<'_>, sub: &str) {
        let (key, minid) = self.feed_target();
        inv.arg(key).arg(minid).arg(sub);
    }

    /// Appends `events` after a committed script (Cluster only; elsewhere
    /// the script did).
    pub(super) async fn publish_after(&self, events: &[Revocation]) -> Result<(), StoreError> {
        if self.feed_in_script || events.is_empty() {
            return Ok(());
        }
        let key = &*self.feed_key;
        let minid = min_id(now_ms());
        self.run(|mut c| async move {
            let mut pipe = redis::pipe();
            for event in events {
                let cmd = pipe.cmd("XADD").arg(key).arg("MINID").arg("~").arg(minid);
                cmd.arg("*");
                for (field, value) in event.to_fields() {
                    cmd.arg(field).arg(value);
                }
                cmd.ignore();
            }
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    pub(super) async fn read_feed_from(&self, read: FeedRead) -> Result<FeedPage, StoreError> {
        let (start, reset) = match read.from {
            FeedCursor::Start => ("-".to_owned(), false),
            FeedCursor::Latest => {
                return Ok(FeedPage {
                    newest: self.newest().await?,
                    ..FeedPage::default()
                });
            }
            FeedCursor::After(id) => {
                if id.ms < min_id(now_ms()) || self.newest().await?.is_none_or(|last| id > last) {
                    ("-".to_owned(), true)
                } else {
                    (format!("({id}"), false)
                }
            }
        };
        let key = &*self.feed_key;
        let count = read.count;
        let entries: Vec<Entry> = self
            .run(|mut c| async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(&start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let page = FeedPage {
            events: events(entries)?,
            reset,
            newest: None,
        };
        if !page.events.is_empty() || reset {
            return Ok(page);
        }
        let after = match read.from {
            FeedCursor::After(id) => id.to_string(),
            _ => "0-0".to_owned(),
        };
        self.block_for(read, after).await
    }

    /// The newest event's id, if any.
    async fn newest(&self) -> Result<Option<FeedId>, StoreError> {
        let key = &*self.feed_key;
        let last: Vec<Entry> = self
            .run(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(last.first().and_then(|(id, _)| FeedId::parse(id)))
    }

    /// `XREAD BLOCK` after `after`, on a connection of its own (a blocked
    /// client holds its connection: never one that verifies share).
    async fn block_for(&self, read: FeedRead, after: String) -> Result<FeedPage, StoreError> {
        let Some(block) = read.block else {
            return Ok(FeedPage::default());
        };
        let ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(read.count)
            .arg("BLOCK")
            .arg(ms)
            .arg("STREAMS")
            .arg(&*self.feed_key)
            .arg(after);
        let work = async {
            let mut conn = self.feed_pool.get().await?;
            let reply: Option<Vec<(String, Vec<Entry>)>> =
                cmd.query_async(&mut conn).await.map_err(classify)?;
            Ok::<_, StoreError>(reply)
        };
        let reply = tokio::time::timeout(block + self.timeout + Duration::from_millis(100), work)
            .await
            .map_err(|_| StoreError::Unavailable("Redis did not answer in time".into()))??;
        let entries = reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .collect();
        Ok(FeedPage {
            events: events(entries)?,
            ..FeedPage::default()
        })
    }
}
