//! The three ways to reach Redis — one server, a Redis Cluster, or a
//! Sentinel-managed primary — behind one pool and one connection type, so
//! every store operation and Lua script in `redis.rs` runs unchanged on all
//! of them. Routing, slot maps and primary discovery are deadpool-redis's
//! own (`cluster` and `sentinel` features); this file only wraps them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_redis::cluster::ClusterConnection;
use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use deadpool_redis::redis::{
    self, Cmd, Pipeline, RedisFuture, RedisResult, ServerErrorKind, Value,
};
use deadpool_redis::{PoolConfig, Runtime, Status, Timeouts, cluster, sentinel};

use super::StoreError;

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

/// A connection pool of the configured kind.
#[derive(Clone)]
pub(super) enum Pools {
    Standalone(SharedStandalone),
    Cluster(SharedCluster),
    Sentinel(sentinel::Pool),
}

/// A cluster connection is multiplexed and follows the slot map by itself,
/// so one is shared by every request (a pooled checkout would PING every
/// primary first). It comes from deadpool's cluster pool and is replaced
/// by a fresh one when a request on it fails at the connection level.
#[derive(Clone)]
pub(super) struct SharedCluster {
    pool: cluster::Pool,
    current: Arc<Mutex<Option<(u64, ClusterConnection)>>>,
    generation: Arc<AtomicU64>,
}

impl SharedCluster {
    async fn get(&self) -> Result<(u64, ClusterConnection), StoreError> {
        if let Some((g, c)) = self.lock().as_ref() {
            return Ok((*g, c.clone()));
        }
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let conn = cluster::Connection::take(conn);
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let mut current = self.lock();
        match current.as_ref() {
            // Another request won the race: use its connection.
            Some((g, c)) => Ok((*g, c.clone())),
            None => {
                *current = Some((g, conn.clone()));
                Ok((g, conn))
            }
        }
    }

    /// Drops the shared connection if it is still generation `g`.
    fn discard(&self, g: u64) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(|(cg, _)| *cg == g) {
            *current = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, ClusterConnection)>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One server: a few multiplexed connections (one slot per core; a worker
/// thread keeps to its slot) shared by every request. Why not `pool.get()`
/// per request: deadpool-redis PINGs each connection it hands out, which
/// doubled every command's round trips (BENCHMARKS.md). The pool only makes
/// connections, with its create timeout. A slot's connection is dropped
/// when a request on it fails at the connection level or is abandoned
/// mid-command (a timeout), so the next request connects afresh.
/// A shared connection and its generation (to drop only the one that failed).
type Slot = Mutex<Option<(u64, MultiplexedConnection)>>;

#[derive(Clone)]
pub(super) struct SharedStandalone {
    pool: deadpool_redis::Pool,
    slots: Arc<[Slot]>,
    generation: Arc<AtomicU64>,
}

impl SharedStandalone {
    fn new(pool: deadpool_redis::Pool) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        SharedStandalone {
            pool,
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    fn slot(&self, i: usize) -> std::sync::MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
        // A poisoned slot only ever held a connection: keep using it.
        self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn get(&self) -> Result<(usize, u64, MultiplexedConnection), StoreError> {
        static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
        thread_local!(static THREAD: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        let i = THREAD.with(|t| *t) % self.slots.len();
        if let Some((g, c)) = self.slot(i).as_ref() {
            return Ok((i, *g, c.clone()));
        }
        let fresh = deadpool_redis::Connection::take(
            self.pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *self.slot(i) = Some((g, fresh.clone()));
        Ok((i, g, fresh))
    }

    /// Drops slot `i`'s connection if it is still generation `g`.
    fn discard(&self, i: usize, g: u64) {
        let mut slot = self.slot(i);
        if slot.as_ref().is_some_and(|(cg, _)| *cg == g) {
            *slot = None;
        }
    }

    fn close(&self) {
        for i in 0..self.slots.len() {
            *self.slot(i) = None;
        }
        self.pool.close();
    }
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

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("invalid Redis configuration: {e}"))
}

impl Pools {
    /// Builds the pool; connections are made lazily, so a Redis that is down
    /// at start-up only makes requests fail until it is back.
    pub(super) fn create(
        topology: Topology<'_>,
        size: usize,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = Some(pool_config(size, timeout));
        let rt = Some(Runtime::Tokio1);
        Ok(match topology {
            Topology::Standalone { url } => {
                let mut cfg = deadpool_redis::Config::from_url(url);
                cfg.pool = pool;
                Pools::Standalone(SharedStandalone::new(cfg.create_pool(rt).map_err(invalid)?))
            }
            Topology::Cluster { urls } => {
                let mut cfg = cluster::Config::from_urls(urls.to_vec());
                cfg.pool = pool;
                Pools::Cluster(SharedCluster {
                    pool: cfg.create_pool(rt).map_err(invalid)?,
                    current: Arc::new(Mutex::new(None)),
                    generation: Arc::new(AtomicU64::new(0)),
                })
            }
            Topology::Sentinel { urls, master_name } => {
                let mut cfg = sentinel::Config::from_urls(
                    urls.to_vec(),
                    master_name.to_owned(),
                    sentinel::SentinelServerType::Master,
                );
                cfg.pool = pool;
                Pools::Sentinel(cfg.create_pool(rt).map_err(invalid)?)
            }
        })
    }

    /// A pooled connection (the caller bounds the wait).
    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        let unavailable = |e: &dyn std::fmt::Display| StoreError::Unavailable(e.to_string());
        let inner = match self {
            Pools::Standalone(shared) => {
                let (slot, generation, conn) = shared.get().await?;
                Inner::Standalone {
                    conn,
                    slot,
                    generation,
                    shared: shared.clone(),
                }
            }
            Pools::Cluster(shared) => {
                let (generation, conn) = shared.get().await?;
                Inner::Cluster {
                    conn,
                    generation,
                    shared: shared.clone(),
                }
            }
            Pools::Sentinel(p) => Inner::Sentinel(p.get().await.map_err(|e| unavailable(&e))?),
        };
        Ok(Conn {
            inner,
            broken: false,
            pending: false,
        })
    }

    /// Closes the pool: idle connections are dropped, waiters fail at once.
    pub(super) fn close(&self) {
        match self {
            Pools::Standalone(shared) => shared.close(),
            Pools::Cluster(shared) => {
                *shared.lock() = None;
                shared.pool.close();
            }
            Pools::Sentinel(p) => p.close(),
        }
    }

    /// (open, available, waiting) connections. Shared multiplexed
    /// connections (standalone, cluster) are always available and never
    /// waited for; only the sentinel pool hands out connections one by one.
    pub(super) fn figures(&self) -> (usize, usize, usize) {
        match self {
            Pools::Standalone(shared) => {
                let open = (0..shared.slots.len())
                    .filter(|i| shared.slot(*i).is_some())
                    .count();
                (open, open, 0)
            }
            Pools::Cluster(shared) => {
                let open = usize::from(shared.lock().is_some());
                (open, open, 0)
            }
            Pools::Sentinel(p) => {
                let s: Status = p.status();
                (s.size, s.available, s.waiting)
            }
        }
    }
}

enum Inner {
    Standalone {
        conn: MultiplexedConnection,
        slot: usize,
        generation: u64,
        shared: SharedStandalone,
    },
    Cluster {
        conn: ClusterConnection,
        generation: u64,
        shared: SharedCluster,
    },
    Sentinel(sentinel::Connection),
    Gone,
}

/// One connection of any kind. A connection that answered `READONLY` (a
/// primary demoted by a failover) or failed at the connection level is not
/// handed out again: the next request asks the sentinels for the primary,
/// or builds a fresh cluster connection. A timeout alone does not count:
/// the cluster client re-routes by itself while a primary fails over (a
/// new connection would stall healthy slots too), and a pooled connection
/// whose reply was abandoned stays usable. A shared standalone connection
/// abandoned mid-command is replaced (it may sit on a half-open socket).
pub(super) struct Conn {
    inner: Inner,
    broken: bool,
    /// A command was sent and its answer not yet read.
    pending: bool,
}

fn is_broken(r: &RedisResult<impl Sized>) -> bool {
    match r {
        Ok(_) => false,
        Err(e) => {
            e.kind() == redis::ErrorKind::Server(ServerErrorKind::ReadOnly)
                || e.kind() == redis::ErrorKind::Io
                || e.kind() == redis::ErrorKind::ClusterConnectionNotFound
                || e.is_connection_dropped()
                || e.is_connection_refusal()
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let (broken, pending) = (&mut self.broken, &mut self.pending);
        let fut = match &mut self.inner {
            Inner::Standalone { conn, .. } => conn.req_packed_command(cmd),
            Inner::Cluster { conn, .. } => conn.req_packed_command(cmd),
            Inner::Sentinel(c) => c.req_packed_command(cmd),
            Inner::Gone => return Box::pin(async { Err(gone()) }),
        };
        Box::pin(async move {
            *pending = true;
            let r = fut.await;
            *pending = false;
            *broken |= is_broken(&r);
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let (broken, pending) = (&mut self.broken, &mut self.pending);
        let fut = match &mut self.inner {
            Inner::Standalone { conn, .. } => conn.req_packed_commands(cmd, offset, count),
            Inner::Cluster { conn, .. } => conn.req_packed_commands(cmd, offset, count),
            Inner::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
            Inner::Gone => return Box::pin(async { Err(gone()) }),
        };
        Box::pin(async move {
            *pending = true;
            let r = fut.await;
            *pending = false;
            *broken |= is_broken(&r);
            r
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Standalone { conn, .. } => conn.get_db(),
            Inner::Cluster { conn, .. } => conn.get_db(),
            Inner::Sentinel(c) => c.get_db(),
            Inner::Gone => 0,
        }
    }
}

fn gone() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, "connection already released"))
}

impl Conn {
    /// `WAIT replicas timeout` on the connection (and, in a cluster, the
    /// node) that just wrote `key`: how many replicas acknowledged every
    /// write this connection made so far.
    pub(super) async fn wait_replicas(
        &mut self,
        key: &str,
        replicas: usize,
        timeout: Duration,
    ) -> RedisResult<usize> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        let acked: Value = match &mut self.inner {
            Inner::Cluster { conn, .. } => {
                // WAIT has no key; send it to the primary of `key`'s slot.
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                conn.route_command(cmd, routing).await?
            }
            _ => cmd.query_async(self).await?,
        };
        Ok(redis::from_redis_value(acked)?)
    }

    /// After a revocation: with `replicas` > 0, fails unless that many
    /// replicas acknowledged it within `timeout` (so a failover cannot
    /// resurrect the token). The write itself stands either way.
    pub(super) async fn acknowledge(
        &mut self,
        key: &str,
        replicas: usize,
        timeout: Duration,
    ) -> RedisResult<()> {
        if replicas == 0 {
            return Ok(());
        }
        let acked = self.wait_replicas(key, replicas, timeout).await?;
        if acked >= replicas {
            return Ok(());
        }
        Err((
            redis::ErrorKind::Client,
            "revocation not acknowledged by enough replicas",
            format!("{acked} of {replicas} within {timeout:?}"),
        )
            .into())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let abandoned = self.pending && matches!(self.inner, Inner::Standalone { .. });
        if !self.broken && !abandoned {
            return;
        }
        // Detach from the pool: the underlying connection just closes.
        match std::mem::replace(&mut self.inner, Inner::Gone) {
            Inner::Standalone {
                slot,
                generation,
                shared,
                ..
            } => shared.discard(slot, generation),
            Inner::Cluster {
                generation, shared, ..
            } => shared.discard(generation),
            Inner::Sentinel(c) => drop(sentinel::Connection::take(c)),
            Inner::Gone => {}
        }
    }
}
