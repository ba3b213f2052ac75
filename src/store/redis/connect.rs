//! How every connection of every pool is made: [`RedisAccess`] (TLS
//! certificates and credentials) turns a URL into redis-rs's
//! `ConnectionInfo` ([`RedisAccess::config_for`], the one function each
//! pool calls), and the connectors below open standalone and cluster
//! connections with it. Credentials are applied anew for each connection
//! (a `redis.password_file` is read then); certificates were read once.
//!
//! Why not deadpool-redis's managers: they take a URL or a TLS-less
//! `ConnectionInfo` copy, so a custom CA or client certificate cannot reach
//! cluster nodes or sentinel-discovered primaries, and a password is fixed
//! when the pool is built.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::cluster::{ClusterClientBuilder, ClusterConnection};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{
    Client, ConnectionInfo, IntoConnectionInfo, RedisResult, TlsCertificates,
};

use super::credentials::Credentials;
use super::shared::Connector;
use super::tls;
use crate::config::RedisSettings;
use crate::store::StoreError;

/// TLS certificates and credentials for every connection of one store.
/// The default is the URL alone: its user and password, and the system
/// roots for `rediss://`.
#[derive(Clone, Default)]
pub struct RedisAccess {
    credentials: Credentials,
    tls: Option<TlsCertificates>,
}

impl std::fmt::Debug for RedisAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAccess")
            .field("credentials", &self.credentials)
            .field("custom_tls", &self.tls.is_some())
            .finish()
    }
}

impl RedisAccess {
    /// The credentials and certificates `redis` names (files read now).
    pub fn from_settings(redis: &RedisSettings) -> Result<Self, StoreError> {
        Ok(RedisAccess {
            credentials: Credentials::from_settings(redis),
            tls: tls::certificates(redis.tls.as_ref())?,
        })
    }

    /// `url` as a data node's connection info: the configured certificates
    /// attached (a `rediss://` URL without them uses the system roots) and
    /// the credentials applied over the URL's.
    pub(super) fn config_for(&self, url: &str) -> RedisResult<ConnectionInfo> {
        let info = self.renew(url.into_connection_info()?)?;
        match &self.tls {
            Some(certs) => Ok(Client::build_with_tls(info, certs.clone())?
                .get_connection_info()
                .clone()),
            None => Ok(info),
        }
    }

    /// `info` with the credentials of this moment (a password file is read
    /// again).
    pub(super) fn renew(&self, info: ConnectionInfo) -> RedisResult<ConnectionInfo> {
        let redis = self.credentials.apply(info.redis_settings().clone())?;
        Ok(info.set_redis_settings(redis))
    }

    pub(super) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(super) fn certificates(&self) -> Option<&TlsCertificates> {
        self.tls.as_ref()
    }
}

/// What the standalone and cluster connectors share: the access, a bound
/// on making a connection, and whether the pool was closed.
#[derive(Clone)]
struct Making {
    access: Arc<RedisAccess>,
    timeout: Duration,
    closed: Arc<AtomicBool>,
}

impl Making {
    async fn within<C>(
        &self,
        connect: impl Future<Output = RedisResult<C>>,
    ) -> Result<C, StoreError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StoreError::unavailable("the Redis store is closed"));
        }
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(r) => r.map_err(tls::connect_error),
            Err(_) => Err(StoreError::unavailable(
                "Redis did not accept a connection in time",
            )),
        }
    }
}

/// Opens multiplexed connections to one server.
#[derive(Clone)]
pub(super) struct StandaloneConnector {
    info: Arc<ConnectionInfo>,
    making: Making,
}

impl StandaloneConnector {
    pub(super) fn new(url: &str, access: Arc<RedisAccess>, timeout: Duration) -> RedisResult<Self> {
        Ok(StandaloneConnector {
            info: Arc::new(access.config_for(url)?),
            making: Making {
                access,
                timeout,
                closed: Arc::new(AtomicBool::new(false)),
            },
        })
    }
}

impl Connector for StandaloneConnector {
    type Conn = MultiplexedConnection;

    async fn connect(&self) -> Result<MultiplexedConnection, StoreError> {
        let connect = async {
            let info = self.making.access.renew((*self.info).clone())?;
            Client::open(info)?.get_multiplexed_async_connection().await
        };
        self.making.within(connect).await
    }

    fn close(&self) {
        self.making.closed.store(true, Ordering::Relaxed);
    }
}

/// Opens cluster connections (which follow the slot map by themselves)
/// from the seed nodes.
#[derive(Clone)]
pub(super) struct ClusterConnector {
    seeds: Arc<[ConnectionInfo]>,
    making: Making,
}

impl ClusterConnector {
    pub(super) fn new(
        urls: &[String],
        access: Arc<RedisAccess>,
        timeout: Duration,
    ) -> RedisResult<Self> {
        let seeds = urls
            .iter()
            .map(|u| access.config_for(u))
            .collect::<RedisResult<Vec<_>>>()?;
        // Fail at start-up, not on the first request, if the seeds disagree.
        Self::builder(&access, seeds.clone()).build()?;
        Ok(ClusterConnector {
            seeds: seeds.into(),
            making: Making {
                access,
                timeout,
                closed: Arc::new(AtomicBool::new(false)),
            },
        })
    }

    /// Every node (seeds and discovered ones) is reached with the seeds'
    /// credentials and these certificates.
    fn builder(access: &RedisAccess, seeds: Vec<ConnectionInfo>) -> ClusterClientBuilder {
        let builder = ClusterClientBuilder::new(seeds);
        match access.certificates() {
            Some(certs) => builder.certs(certs.clone()),
            None => builder,
        }
    }
}

impl Connector for ClusterConnector {
    type Conn = ClusterConnection;

    async fn connect(&self) -> Result<ClusterConnection, StoreError> {
        let access = &self.making.access;
        let connect = async {
            let seeds = self
                .seeds
                .iter()
                .map(|s| access.renew(s.clone()))
                .collect::<RedisResult<Vec<_>>>()?;
            Self::builder(access, seeds)
                .build()?
                .get_async_connection()
                .await
        };
        self.making.within(connect).await
    }

    fn close(&self) {
        self.making.closed.store(true, Ordering::Relaxed);
    }
}
