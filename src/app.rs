//! The composition root: `Application::build` turns settings into a
//! bound, ready server (store, keys, service, HTTP edge); `cli` and the
//! tests call the same function, the tests on port 0.

mod reload;

pub use reload::{ConfigSource, ReloadError, hangups};

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use arc_swap::ArcSwap;

use crate::config::Settings;
use crate::domain::DomainError;
use crate::http::{self, AppState, Edge};
use crate::service::TokenService;
use crate::store::{Store, StoreError};
use crate::token::{KeyError, KeySet};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("clients")]
    Clients(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    /// The admin listener (`server.admin_listen`) when set: its port, its
    /// handle, and the task serving it.
    admin: Option<AdminListener>,
    store: Store,
    state: Arc<AppState>,
    /// The settings it started with (a reload names the changes to the
    /// ones that need a restart).
    settings: Settings,
}

/// How often the housekeeping tick runs.
const HOUSEKEEPING_TICK: Duration = Duration::from_secs(1);

/// While the app lives, every second: writes the audit summaries of each
/// ended window (a window with no later failure would otherwise wait for
/// one), and folds the metrics' pending histogram samples into their
/// buckets (without a scrape they would pile up: `Metrics::upkeep`).
fn spawn_housekeeping(state: &Arc<AppState>) {
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HOUSEKEEPING_TICK).await;
            match state.upgrade() {
                Some(state) => {
                    state.service.flush_audit_summaries(false);
                    state.service.metrics().upkeep();
                }
                None => break,
            }
        }
    });
}

/// Follows the store's revocation feed for this instance's subscribers,
/// and ends the feed when a stop signal arrives (its responses are long
/// lived: the graceful stop must not wait for them).
fn spawn_feed(state: &Arc<AppState>) {
    let tail = state.clone();
    tokio::spawn(async move { tail.service.tail_feed().await });
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if let Some(state) = weak.upgrade() {
            state.service.close_feed();
        }
    });
}

fn bind_error(addr: &str) -> impl Fn(std::io::Error) -> StartupError + '_ {
    move |source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    }
}

/// Binds `addr`; the listener and the port it got.
fn bind(addr: &str) -> Result<(TcpListener, u16), StartupError> {
    let listener = TcpListener::bind(addr).map_err(bind_error(addr))?;
    let port = listener.local_addr().map_err(bind_error(addr))?.port();
    Ok((listener, port))
}

struct AdminListener {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The admin listener: one worker serving health and metrics (probes and
/// scrapes are few), with the same graceful shutdown as the public one.
fn admin_server(
    addr: &str,
    state: &web::Data<Arc<AppState>>,
    shutdown_timeout_secs: u64,
) -> Result<AdminListener, StartupError> {
    let (listener, port) = bind(addr)?;
    let state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::from_fn(http::request_context))
            .configure(http::configure_admin)
    })
    .workers(1)
    .shutdown_timeout(shutdown_timeout_secs)
    .listen(listener)
    .map_err(bind_error(addr))?
    .run();
    // An actix server serves only while polled: its own task.
    Ok(AdminListener {
        port,
        handle: server.handle(),
        task: tokio::spawn(server),
    })
}

impl Application {
    /// Builds the app with the store the settings name.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = Store::from_settings(&settings.redis)?;
        Self::build_with_store(settings, store).await
    }

    /// Builds the app over a given store (tests share one between apps).
    /// Async although nothing here awaits: the server must be started from
    /// inside the runtime that will drive it.
    #[allow(clippy::unused_async)]
    pub async fn build_with_store(settings: Settings, store: Store) -> Result<Self, StartupError> {
        let keys = KeySet::from_settings(&settings)?;
        let service = TokenService::new(&settings, keys, &store)?;
        let shared = Arc::new(AppState {
            service,
            body_limit: settings.server.body_limit_bytes,
            edge: ArcSwap::from_pointee(Edge::from_settings(&settings, None)),
        });
        spawn_housekeeping(&shared);
        spawn_feed(&shared);
        let state = web::Data::new(shared.clone());
        let s = &settings.server;
        let (listener, port) = bind(&s.listen)?;
        let workers = match s.workers {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            n => n,
        };
        let admin = match &s.admin_listen {
            Some(addr) => Some(admin_server(addr, &state, s.shutdown_timeout_secs)?),
            None => None,
        };
        let public_routes = if admin.is_some() {
            http::configure_without_metrics
        } else {
            http::configure
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(http::request_context))
                .configure(public_routes)
        })
        .workers(workers)
        .client_request_timeout(Duration::from_millis(s.client_request_timeout_ms))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(s.keep_alive_secs))
        .shutdown_timeout(s.shutdown_timeout_secs)
        .listen(listener)
        .map_err(bind_error(&s.listen))?
        .run();
        if let Some(admin) = &admin {
            log::info!(
                "tessera admin listener (metrics, health) on port {}",
                admin.port
            );
        }
        log::info!(
            "tessera listening on port {port} (env {}, store {})",
            settings.env,
            store.kind()
        );
        Ok(Application {
            port,
            server,
            admin,
            store,
            state: shared,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port, when `server.admin_listen` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|a| a.port)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reloads the configuration from `source` on every signal `hangups`
    /// delivers (from [`hangups`], taken before the app was built).
    pub fn reload_on(&self, hangups: tokio::signal::unix::Signal, source: ConfigSource) {
        reload::spawn(hangups, source, self.settings.clone(), self.state.clone());
    }

    /// A handle to stop the server (graceful by default).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT: stop accepting, let in-flight
    /// requests finish within `server.shutdown_timeout_secs`), then writes
    /// the pending audit summaries and closes the store's connection pool.
    /// The admin listener gets the same signals and drains alongside; when
    /// the public server stops otherwise (its handle), it is stopped too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(admin) = self.admin {
            admin.handle.stop(true).await;
            admin.task.await.map_err(std::io::Error::other)??;
        }
        self.state.service.close_feed();
        self.state.service.flush_audit_summaries(true);
        self.store.close();
        result
    }
}
