//! Configuration reload on SIGHUP, on the running process. The file is
//! read again with the same layering as at start-up (file → environment
//! section → `TESSERA__*`), the same validation and prod safety rules, and
//! the same implicit-dev rule; then the signing keys are loaded and the
//! new client set built. Only when every step succeeded are the new
//! service policy and edge settings swapped in (each a whole snapshot, so
//! a request sees the old or the new one, never a mix of a half-applied
//! edit). A failure keeps the last good configuration entirely and logs an
//! ERROR with its cause chain. Keys that need a restart
//! (`Settings::restart_only_changes`) keep their running values and are
//! named in a WARN. Every reload counts in `tessera_config_reloads_total`
//! and writes a `config_reload` audit event (ids and key ids, no secret).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::{ConfigError, Environment, Settings};
use crate::domain::DomainError;
use crate::http::{AppState, Edge};
use crate::ops::{audit, with_causes};
use crate::service::{Policy, PolicyChanges};
use crate::token::{KeyError, KeySet};

/// Where the running configuration came from, to read it again.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub env: Environment,
    /// Whether `TESSERA_ENV` was set; unset means dev on loopback only,
    /// checked again on every reload as at start-up.
    pub explicit_env: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the configuration is invalid")]
    Settings(#[source] ConfigError),
    #[error("the signing keys cannot be loaded")]
    Keys(#[source] KeyError),
    #[error("the clients cannot be set up")]
    Clients(#[source] DomainError),
    #[error("the reload task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl ReloadError {
    /// The step that failed, for the audit event.
    fn stage(&self) -> &'static str {
        match self {
            ReloadError::Settings(_) => "settings",
            ReloadError::Keys(_) => "keys",
            ReloadError::Clients(_) => "clients",
            ReloadError::Task(_) => "task",
        }
    }
}

/// SIGHUP, caught from now on (its default action ends the process): take
/// it before the listener opens, then hand it to
/// [`super::Application::reload_on`]. A signal that arrives in between
/// waits in the stream.
pub fn hangups() -> std::io::Result<Signal> {
    signal(SignalKind::hangup())
}

/// A reload built in full, not yet in force.
struct Prepared {
    settings: Settings,
    policy: Policy,
    edge: Edge,
}

/// Everything a reload needs, built without changing anything (blocking:
/// file reads, maybe an Argon2id hash).
fn prepare(source: &ConfigSource, state: &AppState) -> Result<Prepared, ReloadError> {
    let settings = Settings::load(&source.path, source.env).map_err(ReloadError::Settings)?;
    if !source.explicit_env {
        settings
            .refuse_implicit_dev_exposure()
            .map_err(ReloadError::Settings)?;
    }
    let keys = KeySet::from_settings(&settings).map_err(ReloadError::Keys)?;
    let policy = state
        .service
        .prepare_policy(&settings, keys)
        .map_err(ReloadError::Clients)?;
    let edge = Edge::from_settings(&settings, Some(&state.edge()));
    Ok(Prepared {
        settings,
        policy,
        edge,
    })
}

/// Reloads on every SIGHUP, one at a time, while the process runs.
pub(super) fn spawn(
    mut hangups: Signal,
    source: ConfigSource,
    running: Settings,
    state: Arc<AppState>,
) {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload(&source, &running, &state).await;
        }
    });
}

/// One reload: applied in full, or nothing changes.
async fn reload(source: &ConfigSource, running: &Settings, state: &Arc<AppState>) {
    let path = source.path.display();
    log::info!("SIGHUP: reloading the configuration from {path}");
    let task = {
        let (source, state) = (source.clone(), state.clone());
        tokio::task::spawn_blocking(move || prepare(&source, &state))
    };
    let prepared = match task.await {
        Ok(result) => result,
        Err(e) => Err(ReloadError::Task(e)),
    };
    let metrics = state.service.metrics();
    match prepared {
        Ok(new) => {
            for warning in &new.settings.warnings {
                log::warn!("configuration: {warning}");
            }
            let restart = running.restart_only_changes(&new.settings);
            let changes = state.service.install_policy(new.policy);
            state.edge.store(Arc::new(new.edge));
            metrics.config_reload("ok");
            log::info!("configuration reloaded from {path}: {}", describe(&changes));
            if !restart.is_empty() {
                log::warn!(
                    "configuration reload: {} changed but take effect only after a restart; the running values stay",
                    restart.join(", ")
                );
            }
            let c = &changes.clients;
            audit::summary_event(
                "config_reload",
                json!({"outcome": "ok", "clients_added": c.added, "clients_removed": c.removed,
                       "clients_changed": c.changed, "active_kid": changes.active_kid,
                       "verifying_kids": changes.verifying_kids, "restart_needed": restart}),
            );
        }
        Err(e) => {
            metrics.config_reload("error");
            // One line: parser messages may span several.
            let why: Vec<String> = with_causes(&e)
                .lines()
                .map(|l| l.trim().to_owned())
                .collect();
            log::error!(
                "configuration reload from {path} failed, keeping the last good configuration: {}",
                why.join(" ")
            );
            audit::summary_event(
                "config_reload",
                json!({"outcome": "error", "stage": e.stage()}),
            );
        }
    }
}

/// `clients +a -b ~c; signing key k2; verifying k1, k2`.
fn describe(changes: &PolicyChanges) -> String {
    let c = &changes.clients;
    let list = |sign: &str, ids: &[String]| {
        ids.iter()
            .map(|id| format!("{sign}{id}"))
            .collect::<Vec<_>>()
    };
    let mut clients = list("+", &c.added);
    clients.extend(list("-", &c.removed));
    clients.extend(list("~", &c.changed));
    let clients = if clients.is_empty() {
        "clients unchanged".to_owned()
    } else {
        format!("clients {}", clients.join(" "))
    };
    format!(
        "{clients}; signing key {}; verifying {}",
        changes.active_kid,
        changes.verifying_kids.join(", ")
    )
}
