//! The three ways to reach Redis — one server, a Redis Cluster, or a
//! Sentinel-managed primary — behind one type, so every store operation
//! and Lua script in `mod.rs` runs unchanged on all of them. Routing, slot
//! maps and primary discovery are redis-rs's own (`cluster` and `sentinel`
//! features); this file only chooses and wraps them. Every connection's TLS
//! certificates and credentials come from one [`RedisAccess`]: through
//! `RedisAccess::config_for` for standalone and cluster URLs (`connect.rs`),
//! through the sentinel client's builder for sentinels and the primary
//! (`sentinel.rs`).

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{PoolConfig, Runtime, Status, Timeouts};

use super::conn::{Conn, Inner};
use super::connect::{ClusterConnector, RedisAccess, StandaloneConnector};
use super::exclusive::Exclusive;
use super::sentinel::{SentinelManager, SentinelPool, checkout_error};
use super::shared::Shared;
use crate::store::StoreError;

/// Where Redis is, per `redis.mode`.
#[derive(Debug, Clone, Copy)]
pub enum Topology<'a> {
    /// One server (or a proxy) at `url`.
    Standalone { url: &'a str },
    /// A Redis Cluster; `urls` are seed nodes, the slot map is discovered.
    Cluster { urls: &'a [String] },
    /// A primary found through the sentinels in `urls` under `master_name`.
    Sentinel {
        urls: &'a [String],
        master_name: &'a str,
    },
}

/// The connections of the configured kind. Standalone and cluster
/// connections are multiplexed and shared (`shared.rs`); a sentinel
/// connection is checked out of the pool per request. The `Exclusive`
/// kinds lend each connection to one caller at a time: writes that `WAIT`
/// for replicas use them, so a `WAIT` never holds up a verify queued
/// behind it on a shared connection.
#[derive(Clone)]
pub(super) enum Pools {
    Standalone(Shared<StandaloneConnector>),
    Cluster(Shared<ClusterConnector>),
    Sentinel(SentinelPool),
    StandaloneExclusive(Exclusive<StandaloneConnector>),
    ClusterExclusive(Exclusive<ClusterConnector>),
}

/// Whether a pool's connections are shared between callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sharing {
    Shared,
    Exclusive,
}

fn pool_config(size: usize, timeout: Duration) -> PoolConfig {
    let mut cfg = PoolConfig::new(size.max(1));
    cfg.timeouts = Timeouts {
        wait: Some(timeout),
        create: Some(timeout),
        recycle: Some(timeout),
    };
    cfg
}

fn figures(s: Status) -> (usize, usize, usize) {
    (s.size, s.available, s.waiting)
}

fn lent((open, idle): (usize, usize)) -> (usize, usize, usize) {
    (open, idle, 0)
}

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(format!("invalid Redis configuration: {e}").into())
}

impl Pools {
    /// Builds the pool; connections are made lazily, so a Redis that is down
    /// at start-up only makes requests fail until it is back.
    pub(super) fn create(
        topology: Topology<'_>,
        size: usize,
        timeout: Duration,
        access: &Arc<RedisAccess>,
        sharing: Sharing,
    ) -> Result<Self, StoreError> {
        let exclusive = sharing == Sharing::Exclusive;
        let access = access.clone();
        Ok(match topology {
            Topology::Standalone { url } => {
                let connector = StandaloneConnector::new(url, access, timeout).map_err(invalid)?;
                if exclusive {
                    return Ok(Pools::StandaloneExclusive(Exclusive::new(connector, size)));
                }
                let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
                Pools::Standalone(Shared::new(connector, cores))
            }
            Topology::Cluster { urls } => {
                let connector = ClusterConnector::new(urls, access, timeout).map_err(invalid)?;
                if exclusive {
                    return Ok(Pools::ClusterExclusive(Exclusive::new(connector, size)));
                }
                Pools::Cluster(Shared::new(connector, 1))
            }
            Topology::Sentinel { urls, master_name } => {
                let manager = SentinelManager::new(urls, master_name, access).map_err(invalid)?;
                let pool = SentinelPool::builder(manager)
                    .config(pool_config(size, timeout))
                    .runtime(Runtime::Tokio1)
                    .build()
                    .map_err(invalid)?;
                Pools::Sentinel(pool)
            }
        })
    }

    /// A connection (the caller bounds the wait).
    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        let inner = match self {
            Pools::Standalone(shared) => {
                let (lease, conn) = shared.get().await?;
                Inner::Standalone {
                    conn,
                    lease,
                    shared: shared.clone(),
                }
            }
            Pools::Cluster(shared) => {
                let (lease, conn) = shared.get().await?;
                Inner::Cluster {
                    conn,
                    lease,
                    shared: shared.clone(),
                }
            }
            Pools::Sentinel(p) => Inner::Sentinel(p.get().await.map_err(checkout_error)?),
            Pools::StandaloneExclusive(p) => Inner::StandaloneExclusive(p.get().await?),
            Pools::ClusterExclusive(p) => Inner::ClusterExclusive(p.get().await?),
        };
        Ok(Conn::new(inner))
    }

    /// Closes the pool: idle connections are dropped, waiters fail at once.
    pub(super) fn close(&self) {
        match self {
            Pools::Standalone(shared) => shared.close(),
            Pools::Cluster(shared) => shared.close(),
            Pools::Sentinel(p) => p.close(),
            Pools::StandaloneExclusive(p) => p.close(),
            Pools::ClusterExclusive(p) => p.close(),
        }
    }

    /// (open, available, waiting) connections. Shared multiplexed
    /// connections (standalone, cluster) are always available and never
    /// waited for; only the sentinel pool hands out connections one by one.
    pub(super) fn figures(&self) -> (usize, usize, usize) {
        match self {
            Pools::Standalone(shared) => (shared.open(), shared.open(), 0),
            Pools::Cluster(shared) => (shared.open(), shared.open(), 0),
            Pools::Sentinel(p) => figures(p.status()),
            Pools::StandaloneExclusive(p) => lent(p.figures()),
            Pools::ClusterExclusive(p) => lent(p.figures()),
        }
    }
}
