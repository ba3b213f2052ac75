//! The `tessera` command line: `serve` (default), `hash-secret`, `keygen`,
//! `check-config`, `healthcheck`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::{Application, ConfigSource, hangups};
use crate::config::{Environment, Settings};
use crate::domain::{KeyAlg, SecretHash};
use crate::ops::{healthcheck, logging, with_causes};
use crate::token::{KeySet, write_new_key};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "A standalone token service: issue, verify, revoke."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (also TESSERA_CONFIG). TESSERA_ENV=dev|prod picks
    /// its environment section; TESSERA__SECTION__KEY overrides any key.
    #[arg(
        long,
        global = true,
        env = "TESSERA_CONFIG",
        default_value = "config.yaml"
    )]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Read a client secret on stdin and print its Argon2id PHC hash for `clients[].secret_hash`.
    HashSecret,
    /// Write a new private signing key (PKCS#8 PEM, mode 0600); never overwrites.
    Keygen {
        /// Signature algorithm of the key.
        #[arg(long, default_value = "EdDSA", value_parser = parse_alg)]
        alg: KeyAlg,
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load and validate the configuration, print it with secrets masked,
    /// and exit non-zero naming the bad key if it is invalid.
    CheckConfig,
    /// Exit 0 when a running Tessera answers 200 on /readyz (/healthz with
    /// --live), non-zero with a one-line reason otherwise: the container
    /// HEALTHCHECK and exec probes, with no curl in the image.
    Healthcheck {
        /// The service's base URL; default: `server.listen` of the
        /// configuration, on loopback when it listens on every address.
        #[arg(long)]
        url: Option<String>,
        /// Liveness (/healthz: the process serves) instead of readiness
        /// (/readyz: the store answers too).
        #[arg(long)]
        live: bool,
        /// Seconds to wait for the connection and the answer.
        #[arg(long, default_value_t = 2)]
        timeout: u64,
    },
}

fn parse_alg(s: &str) -> Result<KeyAlg, String> {
    KeyAlg::parse(s).ok_or_else(|| format!("`{s}` is not one of EdDSA, ES256, RS256"))
}

/// `TESSERA_ENV`, and whether it was set (unset means dev).
fn environment() -> Result<(Environment, bool), String> {
    match std::env::var("TESSERA_ENV") {
        Ok(v) => Environment::parse(&v)
            .map(|env| (env, true))
            .map_err(|e| e.to_string()),
        Err(_) => Ok((Environment::Dev, false)),
    }
}

/// The settings, validated; dev by default only on loopback.
fn load_settings(path: &Path) -> Result<Settings, String> {
    let (env, explicit) = environment()?;
    load_settings_for(path, env, explicit)
}

fn load_settings_for(path: &Path, env: Environment, explicit: bool) -> Result<Settings, String> {
    let settings = Settings::load(path, env).map_err(|e| format!("configuration error: {e}"))?;
    if !explicit {
        settings
            .refuse_implicit_dev_exposure()
            .map_err(|e| format!("configuration error: {e}"))?;
    }
    Ok(settings)
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Docker reads 1 as unhealthy and reserves 2.
    let failure = if matches!(command, Command::Healthcheck { .. }) {
        1
    } else {
        2
    };
    let result = match command {
        Command::Serve => serve(&cli.config),
        Command::HashSecret => hash_secret(),
        Command::Keygen { alg, out } => write_new_key(&out, alg)
            .map(|()| println!("wrote a new {} key to {}", alg.as_str(), out.display()))
            .map_err(|e| e.to_string()),
        Command::CheckConfig => check_config(&cli.config),
        Command::Healthcheck { url, live, timeout } => {
            let url = match url {
                Some(url) => Ok(url),
                None => {
                    load_settings(&cli.config).map(|s| healthcheck::local_url(&s.server.listen))
                }
            };
            let path = if live { "/healthz" } else { "/readyz" };
            url.and_then(|url| healthcheck::probe(&url, path, Duration::from_secs(timeout)))
                .map(|line| println!("healthy: {line}"))
                .map_err(|reason| format!("unhealthy: {reason}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("tessera: {}", crate::config::mask_url_passwords(&msg));
            ExitCode::from(failure)
        }
    }
}

fn hash_secret() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let secret = input.trim_end_matches(['\r', '\n']);
    if secret.len() < 16 {
        return Err("the secret must be at least 16 characters".into());
    }
    let hash = SecretHash::generate(secret).map_err(|e| e.to_string())?;
    println!("{}", hash.expose());
    Ok(())
}

fn check_config(path: &Path) -> Result<(), String> {
    let settings = load_settings(path)?;
    logging::load(&settings.logging.config, settings.env).map_err(|e| e.to_string())?;
    for warning in &settings.warnings {
        eprintln!("tessera: warning: {warning}");
    }
    if !settings.keys.is_empty() {
        KeySet::from_settings(&settings).map_err(|e| with_causes(&e))?;
    }
    println!("{}", settings.masked_json());
    eprintln!("configuration OK (env {})", settings.env);
    Ok(())
}

fn serve(path: &Path) -> Result<(), String> {
    let (env, explicit_env) = environment()?;
    let settings = load_settings_for(path, env, explicit_env)?;
    logging::init(&settings.logging.config, settings.env).map_err(|e| e.to_string())?;
    for warning in &settings.warnings {
        log::warn!("configuration: {warning}");
    }
    let source = ConfigSource {
        path: path.to_owned(),
        env,
        explicit_env,
    };
    let served = actix_web::rt::System::new().block_on(async move {
        // Before the listener opens: SIGHUP's default action ends the process.
        let hangups = hangups().map_err(|e| format!("cannot catch SIGHUP: {e}"))?;
        let app = Application::build(settings)
            .await
            .map_err(|e| format!("start-up failed: {}", with_causes(&e)))?;
        app.reload_on(hangups, source);
        app.run_until_stopped()
            .await
            .map_err(|e| format!("server error: {e}"))?;
        log::info!("tessera stopped");
        Ok(())
    });
    // Buffered appenders hold lines in memory: write them all before the
    // process ends (a stop signal included: it ends `run_until_stopped`).
    log::logger().flush();
    served
}
