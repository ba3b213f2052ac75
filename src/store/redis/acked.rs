//! Writes that replicas must confirm (`redis.wait_replicas`): the script
//! runs on a connection lent to this one call, then `WAIT` on that same
//! connection. A shared multiplexed connection would queue every verify
//! behind the `WAIT` (Redis answers a client's commands in order, and
//! `WAIT` blocks the client until the replicas answer or it times out).
//!
//! The two steps have separate bounds, so a write that committed is never
//! reported as failed because `WAIT` was slow: its outcome comes back with
//! a [`Replication`] verdict, and the caller decides what a shortfall means.

use std::time::{Duration, Instant};

use deadpool_redis::redis::{FromRedisValue, ScriptInvocation};

use super::{RedisStore, classify};
use crate::store::{Replication, StoreError};

/// The longest `WAIT`: under redis-rs's 500 ms response timeout (with the
/// slack below), past which the client would drop the reply itself.
const WAIT_MAX: Duration = Duration::from_millis(300);

/// Extra time the client allows over `WAIT`'s own server-side timeout
/// before it gives up on the reply: Redis checks blocked clients'
/// timeouts on its cron tick (every 100 ms at the default `hz 10`).
const WAIT_SLACK: Duration = Duration::from_millis(150);

impl RedisStore {
    /// Runs `script` (its first key names the node to `WAIT` on); bounded
    /// by the store's timeout, then `WAIT` bounded by half of it (at most
    /// [`WAIT_MAX`]).
    pub(super) async fn run_acked<T: FromRedisValue>(
        &self,
        script: ScriptInvocation<'_>,
        key: &str,
    ) -> Result<(T, Replication), StoreError> {
        let pool = self.acked.as_deref().unwrap_or(&self.pool);
        let started = Instant::now();
        let written = tokio::time::timeout(self.timeout, async {
            let mut conn = pool.get().await?;
            let out: T = script.invoke_async(&mut conn).await.map_err(classify)?;
            Ok::<_, StoreError>((out, conn))
        })
        .await;
        if let Some(h) = &self.latency {
            h.record(started.elapsed().as_secs_f64());
        }
        let (out, mut conn) = written
            .map_err(|_| StoreError::Unavailable("Redis did not answer in time".into()))??;
        let wanted = self.wait_replicas;
        if wanted == 0 {
            return Ok((out, Replication::Confirmed));
        }
        let bound = (self.timeout / 2).min(WAIT_MAX);
        let verdict =
            match tokio::time::timeout(bound + WAIT_SLACK, conn.wait_replicas(key, wanted, bound))
                .await
            {
                Ok(Ok(acked)) if acked >= wanted => Replication::Confirmed,
                Ok(Ok(acked)) => Replication::Short(format!(
                    "{acked} of {wanted} replicas acknowledged within {bound:?}"
                )),
                Ok(Err(e)) => Replication::Short(format!("WAIT failed: {e}")),
                Err(_) => Replication::Short(format!("WAIT did not answer within {bound:?}")),
            };
        Ok((out, verdict))
    }
}
