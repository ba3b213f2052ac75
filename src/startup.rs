//! `Application::build` turns settings into a bound, ready server; tests
//! call the same function on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{App, HttpMessage, HttpServer, web};

use crate::auth::Clients;
use crate::config::{RedisMode, Settings};
use crate::error::ApiError;
use crate::routes::{self, AppState, RequestId};
use crate::service::Tokens;
use crate::store::redis_conn::Topology;
use crate::store::{MemoryStore, RedisStore, Store, redis::RedisOptions};
use crate::token::{KeySet, VerifiedCache};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Keys(#[from] crate::token::KeyError),
    #[error("clients: {0}")]
    Clients(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The store the settings ask for: Redis when a URL is set, else memory.
pub fn build_store(settings: &Settings) -> Result<Store, StartupError> {
    if settings.redis.mode != RedisMode::Standalone || settings.redis.wait_replicas > 0 {
        return build_redis_store(settings);
    }
    match settings.redis_url() {
        Some(url) => {
            let pool_size = match settings.redis.pool_size {
                0 => cores() * 4,
                n => n,
            };
            Ok(Store::Redis(RedisStore::connect(RedisOptions {
                url,
                key_prefix: &settings.redis.key_prefix,
                pool_size,
                timeout: Duration::from_millis(settings.redis.timeout_ms),
            })?))
        }
        None => {
            log::warn!(
                "no redis.url configured: using the in-memory store (dev only; tokens do not survive a restart)"
            );
            Ok(Store::Memory(MemoryStore::new()))
        }
    }
}

/// The Redis store in any `redis.mode`, with `redis.wait_replicas`.
fn build_redis_store(settings: &Settings) -> Result<Store, StartupError> {
    let urls = settings.redis_urls();
    let master_name = settings.redis.master_name.clone().unwrap_or_default();
    let topology = match settings.redis.mode {
        RedisMode::Sentinel => Topology::Sentinel {
            urls: &urls,
            master_name: &master_name,
        },
        RedisMode::Cluster => Topology::Cluster { urls: &urls },
        RedisMode::Standalone => Topology::Standalone {
            url: settings.redis_url().unwrap_or_default(),
        },
    };
    let pool_size = match settings.redis.pool_size {
        0 => cores() * 4,
        n => n,
    };
    let opts = RedisOptions {
        url: "",
        key_prefix: &settings.redis.key_prefix,
        pool_size,
        timeout: Duration::from_millis(settings.redis.timeout_ms),
    };
    Ok(Store::Redis(RedisStore::connect_to(
        topology,
        &opts,
        settings.redis.wait_replicas,
    )?))
}

impl Application {
    /// Builds the app with the store the settings name.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = build_store(&settings)?;
        Self::build_with_store(settings, store).await
    }

    /// Builds the app over a given store (tests share one between apps).
    pub async fn build_with_store(settings: Settings, store: Store) -> Result<Self, StartupError> {
        let keys = KeySet::from_settings(&settings)?;
        let clients = Clients::from_settings(&settings).map_err(StartupError::Clients)?;
        let metrics = crate::telemetry::Metrics::new();
        let tokens = Tokens {
            keys,
            store: store.with_metrics(&metrics),
            issuer: settings.issuer.clone(),
            leeway_secs: settings.tokens.leeway_secs,
            default_access_ttl: settings.tokens.access_ttl_secs,
            max_sessions: settings.tokens.max_sessions_per_user,
            metrics,
            verified: Arc::new(VerifiedCache::new(settings.verify.cache_entries)),
        };
        let state = web::Data::new(Arc::new(AppState {
            tokens,
            clients,
            issuer: settings.issuer.clone(),
            body_limit: settings.server.body_limit_bytes,
            require_client_auth_on_verify: settings.verify.require_client_auth,
            rate_limits: crate::rate_limit::RateLimits::from_settings(&settings.rate_limit),
        }));
        let addr = settings.server.listen.clone();
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let s = &settings.server;
        let workers = if s.workers == 0 { cores() } else { s.workers };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(request_context))
                .configure(routes::configure)
        })
        .workers(workers)
        .client_request_timeout(Duration::from_millis(s.client_request_timeout_ms))
        .client_disconnect_timeout(Duration::from_millis(1000))
        .keep_alive(Duration::from_secs(s.keep_alive_secs))
        .shutdown_timeout(s.shutdown_timeout_secs)
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.server.listen.clone(),
            source,
        })?
        .run();
        log::info!(
            "tessera listening on port {port} (env {}, store {})",
            settings.env,
            store.kind()
        );
        Ok(Application {
            port,
            server,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A handle to stop the server (graceful by default).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT: stop accepting, let in-flight
    /// requests finish within `server.shutdown_timeout_secs`), then closes
    /// the store's connection pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.store.close();
        result
    }
}

/// A request id that is safe to echo and log: 1-128 of `[A-Za-z0-9._-]`.
fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (echoed in `X-Request-Id`), logs one access
/// line, and logs the cause of an error once: server faults at ERROR,
/// client mistakes at DEBUG.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let rid = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let metrics = req
        .app_data::<routes::State>()
        .map(|s| s.tokens.metrics.clone());
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let status = res.status().as_u16();
    let method = res.request().method().as_str();
    let path = res.request().path();
    if let Some(m) = metrics {
        // The matched pattern (`/users/{sub}/sessions`), never the raw path,
        // so the label set stays bounded.
        let route = res.request().match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        m.http_request(method, route, status, started.elapsed());
    }
    if let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        if err.is_server_fault() {
            log::error!("request_id={rid} {method} {path} -> {status}: {err}");
        } else {
            log::debug!("request_id={rid} {method} {path} -> {status}: {err}");
        }
    }
    log::info!(
        target: "tessera::access",
        "request_id={rid} {method} {path} {status} {}us",
        started.elapsed().as_micros()
    );
    Ok(res)
}
