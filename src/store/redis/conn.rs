//! One Redis connection of any topology, as redis-rs's `ConnectionLike`,
//! that knows when it must not be handed out again, and `WAIT` for
//! replicas on it (see `acked.rs`).

use std::time::Duration;

use deadpool_redis::cluster::ClusterConnection;
use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use deadpool_redis::redis::{
    self, Cmd, Pipeline, RedisFuture, RedisResult, ServerErrorKind, Value,
};

use super::connect::{ClusterConnector, StandaloneConnector};
use super::exclusive::Loan;
use super::sentinel::SentinelConn;
use super::shared::{Lease, Shared};

pub(super) enum Inner {
    Standalone {
        conn: MultiplexedConnection,
        lease: Lease,
        shared: Shared<StandaloneConnector>,
    },
    Cluster {
        conn: ClusterConnection,
        lease: Lease,
        shared: Shared<ClusterConnector>,
    },
    Sentinel(SentinelConn),
    StandaloneExclusive(Loan<StandaloneConnector>),
    ClusterExclusive(Loan<ClusterConnector>),
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

impl Conn {
    pub(super) fn new(inner: Inner) -> Self {
        Conn {
            inner,
            broken: false,
            pending: false,
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
            Inner::StandaloneExclusive(l) => match l.conn() {
                Some(c) => c.req_packed_command(cmd),
                None => return Box::pin(async { Err(gone()) }),
            },
            Inner::ClusterExclusive(l) => match l.conn() {
                Some(c) => c.req_packed_command(cmd),
                None => return Box::pin(async { Err(gone()) }),
            },
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
            Inner::StandaloneExclusive(l) => match l.conn() {
                Some(c) => c.req_packed_commands(cmd, offset, count),
                None => return Box::pin(async { Err(gone()) }),
            },
            Inner::ClusterExclusive(l) => match l.conn() {
                Some(c) => c.req_packed_commands(cmd, offset, count),
                None => return Box::pin(async { Err(gone()) }),
            },
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
            Inner::StandaloneExclusive(l) => l.conn_ref().map_or(0, ConnectionLike::get_db),
            Inner::ClusterExclusive(l) => l.conn_ref().map_or(0, ConnectionLike::get_db),
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
            Inner::Cluster { conn, .. } => wait_on_node(conn, key, cmd).await?,
            Inner::ClusterExclusive(loan) => match loan.conn() {
                Some(conn) => wait_on_node(conn, key, cmd).await?,
                None => return Err(gone()),
            },
            _ => cmd.query_async(self).await?,
        };
        Ok(redis::from_redis_value(acked)?)
    }
}

/// WAIT has no key; a cluster sends it to the primary of `key`'s slot.
async fn wait_on_node(conn: &mut ClusterConnection, key: &str, cmd: Cmd) -> RedisResult<Value> {
    let route = Route::with_key(key, SlotAddr::Master);
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
    conn.route_command(cmd, routing).await
}

impl Drop for Conn {
    fn drop(&mut self) {
        let abandoned = self.pending
            && matches!(
                self.inner,
                Inner::Standalone { .. } | Inner::StandaloneExclusive(_)
            );
        if !self.broken && !abandoned {
            return;
        }
        // Detach from the pool: the underlying connection just closes.
        match std::mem::replace(&mut self.inner, Inner::Gone) {
            Inner::Standalone { lease, shared, .. } => shared.discard(lease),
            Inner::Cluster { lease, shared, .. } => shared.discard(lease),
            Inner::Sentinel(c) => drop(SentinelConn::take(c)),
            Inner::StandaloneExclusive(mut loan) => loan.discard(),
            Inner::ClusterExclusive(mut loan) => loan.discard(),
            Inner::Gone => {}
        }
    }
}
