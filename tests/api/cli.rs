//! The command line as an operator uses it: `--help` documents every
//! subcommand and flag (the list comes from the clap definition itself),
//! and `check-config` prints the effective config with secrets masked.

use clap::CommandFactory;

use crate::binary::run;

fn help_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), args, &[]);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_every_subcommand_and_flag() {
    let cli = tessera::cli::Cli::command();
    let top = help_of(&["--help"]);
    let flags = |cmd: &clap::Command| -> Vec<String> {
        cmd.get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    };
    for flag in flags(&cli) {
        assert!(top.contains(&flag), "`tessera --help` lacks {flag}:\n{top}");
    }
    let subcommands: Vec<&clap::Command> = cli.get_subcommands().collect();
    for name in [
        "serve",
        "hash-secret",
        "keygen",
        "check-config",
        "healthcheck",
    ] {
        assert!(
            subcommands.iter().any(|s| s.get_name() == name),
            "no {name}"
        );
    }
    for sub in subcommands {
        let name = sub.get_name();
        assert!(top.contains(name), "`tessera --help` lacks {name}:\n{top}");
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        assert!(!about.is_empty(), "{name} has no description");
        let help = help_of(&[name, "--help"]);
        for flag in flags(sub) {
            assert!(
                help.contains(&flag),
                "`tessera {name} --help` lacks {flag}:\n{help}"
            );
        }
    }
    let keygen = help_of(&["keygen", "--help"]);
    assert!(
        keygen.contains("--alg") && keygen.contains("--out"),
        "{keygen}"
    );
}

const REDIS_PASSWORD: &str = "s3cr3t-redis-pass";

#[test]
fn check_config_prints_the_effective_config_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let hash = crate::helpers::secret_hash();
    with_shipped_log4rs(&dir);
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            r#"server: {{ listen: "127.0.0.1:9999" }}
issuer: "http://tessera.test"
redis: {{ url: "redis://:{REDIS_PASSWORD}@127.0.0.1:1/0" }}
clients:
  - {{ id: "app", secret_hash: "{hash}", grants: [issue] }}
"#
        ),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["check-config", "--config", "config.yaml"],
        &[("TESSERA__TOKENS__ACCESS_TTL_SECS", "600")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON config");
    assert_eq!(printed["server"]["listen"], "127.0.0.1:9999", "file value");
    assert_eq!(
        printed["tokens"]["access_ttl_secs"], 600,
        "variable override"
    );
    assert_eq!(printed["clients"][0]["id"], "app");
    for secret in [hash, "$argon2id", REDIS_PASSWORD] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "leaked {secret}"
        );
    }
}

/// An environment section's list replaces the base list (figment does not
/// merge lists): `check-config` still accepts it but warns, naming the key.
#[test]
fn check_config_warns_when_a_section_replaces_a_base_list() {
    let dir = tempfile::tempdir().unwrap();
    let hash = crate::helpers::secret_hash();
    with_shipped_log4rs(&dir);
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            r#"issuer: "http://tessera.test"
clients:
  - {{ id: "app", secret_hash: "{hash}", grants: [issue] }}
environments:
  dev:
    clients: []
"#
        ),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["check-config", "--config", "config.yaml"],
        &[("TESSERA_ENV", "dev")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: `environments.dev.clients` replaces the base `clients` list"),
        "{stderr}"
    );
}

/// `serve` loads the same settings and logs the same warning at start-up.
#[test]
fn serve_logs_a_warning_when_a_section_replaces_a_base_list() {
    let tessera = crate::binary::Tessera::start(
        |port| {
            format!(
                "{}environments:\n  dev:\n    clients: []\n",
                crate::binary::dev_config(port)
            )
        },
        &crate::binary::log4rs_yaml("info"),
        &[("TESSERA_ENV", "dev")],
    );
    let line = tessera.wait_for_line("logs/tessera.log", "the warning", |l| {
        l.contains("`environments.dev.clients` replaces the base `clients` list")
    });
    assert!(crate::binary::has_level(&line, "WARN"), "{line}");
}

#[test]
fn check_config_names_the_bad_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    with_shipped_log4rs(&dir);
    for (why, yaml, key) in [
        (
            "unknown key",
            "server: { listn: \"127.0.0.1:1\" }\n",
            "listn",
        ),
        (
            "bad value",
            "tokens: { access_ttl_secs: \"soon\" }\n",
            "access_ttl_secs",
        ),
    ] {
        std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
        let out = run(
            dir.path(),
            &["check-config", "--config", "config.yaml"],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{why}: accepted");
        assert!(
            stderr.contains(key),
            "{why}: does not name `{key}`: {stderr}"
        );
    }
}

/// With `TESSERA_ENV` unset (dev by default), `serve` on a non-loopback
/// address refuses to start and says why, and so does `check-config` for
/// an address set by a variable; `TESSERA_ENV=dev` set explicitly passes
/// (checked with check-config, so nothing listens on 0.0.0.0 here).
#[test]
fn serve_without_tessera_env_refuses_a_non_loopback_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("log4rs.yaml"),
        crate::binary::log4rs_yaml("info"),
    )
    .unwrap();
    let port = crate::binary::free_port();
    std::fs::write(
        dir.path().join("config.yaml"),
        crate::binary::dev_config(port).replace("127.0.0.1:", "0.0.0.0:"),
    )
    .unwrap();
    let stderr = serve_until_exit(dir.path());
    for words in [
        "server.listen",
        &format!("0.0.0.0:{port}"),
        "TESSERA_ENV is not set",
        "loopback",
        "TESSERA_ENV=prod",
    ] {
        assert!(stderr.contains(words), "no `{words}` in: {stderr}");
    }
    // Any variable override counts too.
    std::fs::write(
        dir.path().join("config.yaml"),
        crate::binary::dev_config(port),
    )
    .unwrap();
    let listen = format!("[::]:{port}");
    let out = run(
        dir.path(),
        &["check-config", "--config", "config.yaml"],
        &[("TESSERA__SERVER__LISTEN", &listen)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check-config accepted {listen}");
    assert!(stderr.contains("TESSERA_ENV is not set"), "{stderr}");
    let out = run(
        dir.path(),
        &["check-config", "--config", "config.yaml"],
        &[("TESSERA__SERVER__LISTEN", &listen), ("TESSERA_ENV", "dev")],
    );
    assert!(out.status.success(), "explicit dev: {out:?}");
}

/// The shipped files, through the binary: `config.dev.yaml` (the README's
/// first command) passes check-config in dev; in prod its demo client is
/// refused by name even with an https issuer and Redis given.
#[test]
fn the_shipped_dev_file_checks_in_dev_and_is_refused_in_prod() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(repo, &["check-config", "--config", "config.dev.yaml"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON config");
    assert_eq!(printed["clients"][0]["id"], "demo-app");
    assert_eq!(
        printed["clients"][0]["grants"],
        serde_json::json!([
            "issue",
            "verify",
            "introspect",
            "revoke",
            "client_credentials",
            "token_exchange"
        ])
    );
    let out = run(
        repo,
        &["check-config", "--config", "config.dev.yaml"],
        &[
            ("TESSERA_ENV", "prod"),
            ("TESSERA__ISSUER", "https://auth.example.com"),
            ("TESSERA__REDIS__URL", "redis://127.0.0.1:1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "prod accepted the demo client");
    assert!(stderr.contains("clients[0].id"), "{stderr}");
    assert!(stderr.contains("demo"), "{stderr}");
}

/// Runs `tessera serve` in `dir` and returns its stderr once it exits,
/// which it must within 10 s; a server still running is killed and the
/// test fails (it started where it should have refused).
fn serve_until_exit(dir: &std::path::Path) -> String {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let stderr_path = dir.join("stderr.log");
    let mut child = crate::binary::command(dir)
        .args(["serve", "--config", "config.yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn tessera");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            crate::binary::stop(child);
            panic!(
                "tessera serve started on 0.0.0.0 without TESSERA_ENV: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "exited 0");
    std::fs::read_to_string(&stderr_path).unwrap()
}

/// Writes the shipped `log4rs.yaml` into `dir` (check-config loads it).
fn with_shipped_log4rs(dir: &tempfile::TempDir) {
    let path = dir.path().join("log4rs.yaml");
    std::fs::write(path, crate::binary::shipped_log4rs()).unwrap();
}

/// `tessera healthcheck`: 0 and a `healthy:` line while the service
/// answers, the port taken from the configuration it runs with; 1 (what
/// Docker reads as unhealthy) and a one-line reason when nothing answers.
#[test]
fn healthcheck_follows_the_configured_port_and_says_why_it_fails() {
    use crate::binary::{Tessera, dev_config, log4rs_yaml};

    let mut t = Tessera::start(dev_config, &log4rs_yaml("info"), &[]);
    let dir = t.path("");
    for args in [
        vec!["healthcheck", "--config", "config.yaml"],
        vec!["healthcheck", "--config", "config.yaml", "--live"],
    ] {
        let out = run(&dir, &args, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(
            stdout.starts_with("healthy: ") && stdout.contains(&format!(":{}/", t.port)),
            "{stdout}"
        );
    }
    t.terminate();
    t.wait_exit(std::time::Duration::from_secs(15))
        .expect("tessera exits on SIGTERM");
    let out = run(&dir, &["healthcheck", "--config", "config.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.starts_with("tessera: unhealthy: ") && stderr.contains("cannot connect"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
