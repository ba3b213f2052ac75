//! The sentinel pool's manager: like deadpool-redis's own, it asks the
//! sentinels for the primary whenever it makes a connection and PINGs a
//! connection before handing it out again; unlike it, it carries TLS
//! certificates to the sentinels and the data nodes, and the data nodes'
//! credentials (read anew for each connection). The sentinels' own user and
//! password come from their URLs (the first that has them).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use deadpool_redis::redis::{
    self, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, RedisResult, TlsMode,
};

use super::connect::RedisAccess;
use super::tls;
use crate::store::StoreError;

/// A checked-out sentinel-pool connection.
pub(super) type SentinelConn = managed::Object<SentinelManager>;
/// The sentinel pool.
pub(super) type SentinelPool = managed::Pool<SentinelManager>;

pub(super) struct SentinelManager {
    sentinels: Vec<ConnectionInfo>,
    master_name: String,
    access: Arc<RedisAccess>,
    ping_number: AtomicUsize,
}

impl SentinelManager {
    pub(super) fn new(
        urls: &[String],
        master_name: &str,
        access: Arc<RedisAccess>,
    ) -> RedisResult<Self> {
        let sentinels = urls
            .iter()
            .map(|u| u.as_str().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()?;
        let manager = SentinelManager {
            sentinels,
            master_name: master_name.to_owned(),
            access,
            ping_number: AtomicUsize::new(0),
        };
        // Fail at start-up, not on the first request, on a bad combination.
        manager.client()?;
        Ok(manager)
    }

    fn client(&self) -> RedisResult<redis::sentinel::SentinelClient> {
        let addrs = self.sentinels.iter().map(|s| s.addr().clone());
        let mut b =
            SentinelClientBuilder::new(addrs, &self.master_name, SentinelServerType::Master)?;
        if let Some(s) = self
            .sentinels
            .iter()
            .map(ConnectionInfo::redis_settings)
            .find(|s| s.password().is_some() || s.username().is_some())
        {
            if let Some(user) = s.username() {
                b = b.set_client_to_sentinel_username(user);
            }
            if let Some(password) = s.password() {
                b = b.set_client_to_sentinel_password(password);
            }
        }
        let (user, password) = self.access.credentials().current()?;
        if let Some(user) = user {
            b = b.set_client_to_redis_username(user);
        }
        if let Some(password) = password {
            b = b.set_client_to_redis_password(password);
        }
        // TLS to the sentinels means TLS to the data nodes too.
        let tls = self
            .sentinels
            .iter()
            .any(|s| matches!(s.addr(), ConnectionAddr::TcpTls { .. }));
        if tls {
            b = b.set_client_to_redis_tls_mode(TlsMode::Secure);
            if let Some(certs) = self.access.certificates() {
                b = b
                    .set_client_to_sentinel_certificates(certs.clone())
                    .set_client_to_redis_certificates(certs.clone());
            }
        }
        b.build()
    }
}

impl managed::Manager for SentinelManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client()?.get_async_connection().await
    }

    async fn recycle(
        &self,
        conn: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        let n = self.ping_number.fetch_add(1, Ordering::Relaxed).to_string();
        let answer: String = redis::cmd("PING").arg(&n).query_async(conn).await?;
        if answer == n {
            Ok(())
        } else {
            Err(RecycleError::message("Invalid PING response"))
        }
    }
}

/// A failed checkout as a store error (a TLS refusal says which check).
pub(super) fn checkout_error(e: managed::PoolError<RedisError>) -> StoreError {
    match e {
        managed::PoolError::Backend(e) => tls::connect_error(e),
        other => StoreError::unavailable(other),
    }
}
