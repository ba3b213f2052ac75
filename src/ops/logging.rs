//! log4rs set-up from `log4rs.yaml`. The file is plain log4rs YAML plus an
//! optional `environments:` block whose `dev`/`prod` section is merged over
//! the rest (so one file holds INFO for dev and ERROR for prod). The file
//! is re-read every `refresh_rate`; a broken edit keeps the last good
//! configuration and says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use log4rs::Handle;
use log4rs::config::{Config, Deserializers, RawConfig};
use serde_json::Value;

use super::buffered_log::BufferedAppenderDeserializer;
use crate::config::Environment;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot read logging config `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("logging config `{path}`: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// A parsed configuration and how often to look for edits.
pub struct Loaded {
    pub config: Config,
    pub refresh: Option<Duration>,
}

/// Deep-merges `over` into `base` (objects merge, everything else replaces).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Parses log4rs YAML text for `env`.
pub fn parse(text: &str, env: Environment) -> Result<Loaded, String> {
    let mut value: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let Value::Object(map) = &mut value else {
        return Err("the top level must be a mapping".into());
    };
    if let Some(envs) = map.remove("environments") {
        let Value::Object(mut envs) = envs else {
            return Err("`environments` must map `dev`/`prod` to overrides".into());
        };
        if let Some(section) = envs.remove(env.as_str()) {
            merge(&mut value, section);
        }
    }
    let raw: RawConfig =
        serde_json::from_value(value).map_err(|e| format!("invalid log4rs config: {e}"))?;
    let mut deserializers = Deserializers::default();
    deserializers.insert("buffered", BufferedAppenderDeserializer);
    let (appenders, errors) = raw.appenders_lossy(&deserializers);
    if !errors.is_empty() {
        return Err(format!("{errors}"));
    }
    let config = Config::builder()
        .appenders(appenders)
        .loggers(raw.loggers())
        .build(raw.root())
        .map_err(|e| format!("{e}"))?;
    Ok(Loaded {
        config,
        refresh: raw.refresh_rate(),
    })
}

/// Reads and parses the file at `path` for `env`.
pub fn load(path: &Path, env: Environment) -> Result<Loaded, LoggingError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoggingError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, env).map_err(|reason| LoggingError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Installs the logger and, when `refresh_rate` is set, a watcher thread.
pub fn init(path: &Path, env: Environment) -> Result<Handle, LoggingError> {
    let loaded = load(path, env)?;
    let handle = log4rs::init_config(loaded.config).map_err(|_| LoggingError::AlreadyInstalled)?;
    if let Some(every) = loaded.refresh {
        let watcher = handle.clone();
        let path = path.to_owned();
        let started = std::fs::read_to_string(&path).unwrap_or_default();
        std::thread::Builder::new()
            .name("log4rs-reload".into())
            .spawn(move || watch(&path, env, every, started, &watcher))
            .map_err(|e| LoggingError::Invalid {
                path: PathBuf::new(),
                reason: format!("cannot start the reload thread: {e}"),
            })?;
    }
    Ok(handle)
}

fn watch(path: &Path, env: Environment, every: Duration, mut last: String, handle: &Handle) {
    loop {
        std::thread::sleep(every);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                log::error!(
                    "cannot re-read {}: {e}; keeping the last good logging configuration",
                    path.display()
                );
                continue;
            }
        };
        if text == last {
            continue;
        }
        match parse(&text, env) {
            Ok(loaded) => {
                handle.set_config(loaded.config);
                log::warn!("logging configuration reloaded from {}", path.display());
            }
            Err(reason) => {
                // An editor may be half-way through writing the file: look
                // again before complaining, and parse the finished text
                // next round.
                std::thread::sleep(Duration::from_millis(200));
                if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                    continue;
                }
                // One line per event: parser messages span several lines.
                let reason: Vec<&str> = reason.lines().map(str::trim).collect();
                log::error!(
                    "logging configuration {} is invalid ({}); keeping the last good configuration",
                    path.display(),
                    reason.join(" ")
                );
            }
        }
        last = text;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r"
refresh_rate: 2 seconds
appenders:
  console:
    kind: console
root:
  level: info
  appenders: [console]
environments:
  prod:
    root:
      level: error
";

    #[test]
    fn the_environment_section_overrides_the_root_level() {
        let dev = parse(SAMPLE, Environment::Dev).unwrap();
        assert_eq!(dev.config.root().level(), log::LevelFilter::Info);
        let prod = parse(SAMPLE, Environment::Prod).unwrap();
        assert_eq!(prod.config.root().level(), log::LevelFilter::Error);
        assert_eq!(prod.refresh, Some(Duration::from_secs(2)));
    }

    #[test]
    fn both_shipped_profiles_parse_in_both_environments() {
        for text in [
            include_str!("../../log4rs.yaml"),
            include_str!("../../log4rs.container.yaml"),
        ] {
            let dev = parse(text, Environment::Dev).unwrap();
            assert_eq!(dev.config.root().level(), log::LevelFilter::Info);
            let prod = parse(text, Environment::Prod).unwrap();
            assert_eq!(prod.config.root().level(), log::LevelFilter::Error);
        }
        let prod = parse(
            include_str!("../../log4rs.container.yaml"),
            Environment::Prod,
        )
        .unwrap();
        let level = |name: &str| {
            let logger = prod.config.loggers().iter().find(|l| l.name() == name);
            logger.map(log4rs::config::Logger::level)
        };
        assert_eq!(level("audit"), Some(log::LevelFilter::Info));
        assert_eq!(level("tessera::access"), Some(log::LevelFilter::Info));
    }

    #[test]
    fn broken_configs_are_errors_that_say_why() {
        assert!(parse("root: [", Environment::Dev).is_err());
        let bad_kind = "appenders:\n  x:\n    kind: nope\nroot:\n  appenders: [x]\n";
        let Err(err) = parse(bad_kind, Environment::Dev) else {
            panic!("accepted an unknown appender kind");
        };
        assert!(err.contains("nope") || err.contains('x'), "{err}");
    }
}
