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
    for name in ["serve", "hash-secret", "keygen", "check-config"] {
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
    std::fs::write(
        dir.path().join("log4rs.yaml"),
        crate::binary::shipped_log4rs(),
    )
    .unwrap();
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

#[test]
fn check_config_names_the_bad_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("log4rs.yaml"),
        crate::binary::shipped_log4rs(),
    )
    .unwrap();
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
