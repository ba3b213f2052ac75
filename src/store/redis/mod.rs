//! The Redis store. Keys of one user share the hash tag `{sub}`:
//!
//! | key                               | type   | TTL                     |
//! |-----------------------------------|--------|-------------------------|
//! | `<prefix>{<sub>}:at:<key22>`      | string | the access token's life |
//! | `<prefix>{<sub>}:fam:<sid>`       | hash   | the session's life      |
//! | `<prefix>{<sub>}:sessions`        | zset   | latest session expiry   |
//! | `<prefix>{<sub>}:ats`             | zset   | latest stand-alone token|
//! | `<prefix>{<sub>}:gen`             | string | its oldest record's end |
//!
//! `layout.rs` names them. Every access record and session holds the
//! user's generation when it was written (`gen`, absent = 1); a record
//! below the current generation is dead. Logout everywhere raises the
//! generation and unlinks the two indexes: O(1) on Redis's thread, whatever
//! the number of tokens; the dead records expire with their tokens.
//!
//! `<key22>` is the access token's `domain::TokenKey`: the first 16 bytes
//! of the SHA-256 of the compact token, base64url, so the record binds the
//! exact token bytes.
//!
//! Every multi-key change is one Lua script (`lua/*.lua`), so it is atomic
//! and runs unchanged on Redis Cluster.
//!
//! `operations.rs` implements the store trait with them, `scripts.rs` loads
//! them; `pools.rs`, `shared.rs` and `conn.rs` reach Redis in each `redis.mode`;
//! `connect.rs`, `sentinel.rs`, `credentials.rs` and `tls.rs` make each
//! connection (TLS, ACL user, password); `acked.rs` runs the writes replicas
//! must confirm; `feed.rs` keeps the revocation feed
//! (`<prefix>{feed}:revocations`, a stream).

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::{self, ErrorKind, ServerErrorKind};

mod acked;
mod conn;
mod connect;
mod credentials;
mod exclusive;
mod feed;
mod layout;
mod operations;
mod pools;
mod scripts;
mod sentinel;
mod shared;
mod tls;

pub use connect::RedisAccess;
pub use layout::Layout;
pub use pools::Topology;

use conn::Conn;
use pools::{Pools, Sharing};
use scripts::Scripts;

use super::StoreError;
use crate::config::{RedisMode, RedisSettings};
use crate::ops::Metrics;

#[derive(Clone)]
pub struct RedisStore {
    pool: Pools,
    /// Connections lent to one write at a time, for writes that `WAIT`
    /// (`acked.rs`); only when `wait_replicas` > 0.
    acked: Option<Arc<Pools>>,
    /// Connections lent to the feed's blocking reads (`feed.rs`).
    feed_pool: Arc<Pools>,
    /// `<prefix>{feed}:revocations`.
    feed_key: Arc<str>,
    /// Whether the revoking scripts append to the feed themselves (not on
    /// a Cluster: the stream is in another slot).
    feed_in_script: bool,
    layout: Arc<Layout>,
    timeout: Duration,
    scripts: Arc<Scripts>,
    /// Replicas that must acknowledge a revocation or rotation (`WAIT`); 0 = off.
    wait_replicas: usize,
    /// Where each call's latency goes (the owning app's metrics), if set.
    latency: Option<metrics::Histogram>,
}

/// How [`RedisStore::connect`] uses whichever topology it is given.
#[derive(Debug, Clone)]
pub struct RedisOptions<'a> {
    pub key_prefix: &'a str,
    /// Connections of the sentinel pool (standalone and cluster share
    /// multiplexed connections, one per core or one).
    pub pool_size: usize,
    /// Bound on each call, connection wait included; past it: unavailable.
    pub timeout: Duration,
    /// Replicas that must acknowledge a revocation (`WAIT`); 0 = off.
    pub wait_replicas: usize,
}

fn classify(e: redis::RedisError) -> StoreError {
    match e.kind() {
        ErrorKind::Parse
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::CrossSlot) => {
            StoreError::Backend(e.into())
        }
        _ => StoreError::Unavailable(e.into()),
    }
}

impl RedisStore {
    /// Closes the pool: idle connections are dropped, waiters fail at once.
    pub fn close(&self) {
        self.pool.close();
        self.feed_pool.close();
        if let Some(acked) = &self.acked {
            acked.close();
        }
    }

    /// The store `redis` describes, in any `redis.mode`.
    pub fn from_settings(redis: &RedisSettings) -> Result<Self, StoreError> {
        let urls = redis.urls_exposed();
        let topology = match redis.mode {
            RedisMode::Sentinel => Topology::Sentinel {
                urls: &urls,
                master_name: redis.master_name.as_deref().unwrap_or_default(),
            },
            RedisMode::Cluster => Topology::Cluster { urls: &urls },
            RedisMode::Standalone => Topology::Standalone {
                url: redis.url_exposed().unwrap_or_default(),
            },
        };
        let pool_size = match redis.pool_size {
            0 => 4 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            n => n,
        };
        Self::connect_with(
            topology,
            &RedisAccess::from_settings(redis)?,
            &RedisOptions {
                key_prefix: &redis.key_prefix,
                pool_size,
                timeout: Duration::from_millis(redis.timeout_ms),
                wait_replicas: redis.wait_replicas,
            },
        )
    }

    /// Builds the pool for `topology`; connections are made lazily, so a
    /// Redis that is down at start-up only makes requests fail until it is
    /// back.
    pub fn connect(topology: Topology<'_>, opts: &RedisOptions<'_>) -> Result<Self, StoreError> {
        Self::connect_with(topology, &RedisAccess::default(), opts)
    }

    /// [`RedisStore::connect`] with TLS certificates and credentials.
    pub fn connect_with(
        topology: Topology<'_>,
        access: &RedisAccess,
        opts: &RedisOptions<'_>,
    ) -> Result<Self, StoreError> {
        let access = Arc::new(access.clone());
        let pools = |size, sharing| Pools::create(topology, size, opts.timeout, &access, sharing);
        let acked = (opts.wait_replicas > 0)
            .then(|| pools(opts.pool_size, Sharing::Exclusive))
            .transpose()?
            .map(Arc::new);
        Ok(RedisStore {
            pool: pools(opts.pool_size, Sharing::Shared)?,
            acked,
            feed_pool: Arc::new(pools(2, Sharing::Exclusive)?),
            feed_key: format!("{}{{feed}}:revocations", opts.key_prefix).into(),
            feed_in_script: !matches!(topology, Topology::Cluster { .. }),
            layout: Arc::new(Layout::new(opts.key_prefix)),
            timeout: opts.timeout,
            scripts: Arc::new(Scripts::new()),
            wait_replicas: opts.wait_replicas,
            latency: None,
        })
    }

    /// `<prefix>{<sub>}:`, the start of every key of one user.
    fn base(&self, sub: &str) -> String {
        self.layout.base(sub)
    }

    /// Runs `f` with a pooled connection, bounded by the configured timeout.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = self.pool.get().await?;
            f(conn).await.map_err(classify)
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, work).await;
        if let Some(h) = &self.latency {
            h.record(started.elapsed().as_secs_f64());
        }
        result.map_err(|_| StoreError::Unavailable("Redis did not answer in time".into()))?
    }

    /// This store, recording call latencies into `metrics`.
    pub fn with_metrics(&self, metrics: &Metrics) -> Self {
        RedisStore {
            latency: Some(metrics.redis_latency()),
            ..self.clone()
        }
    }

    /// Pool figures for metrics: (size, available, waiting).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        self.pool.figures()
    }
}
