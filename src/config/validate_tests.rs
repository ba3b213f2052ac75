//! `Settings::validate`'s rules, each refusal naming its key.
use super::super::{ConfigError, Environment, Settings};

fn load(yaml: &str) -> Result<Settings, ConfigError> {
    let base = format!("issuer: \"http://v.test\"\n{yaml}");
    Settings::from_yaml_with_env(&base, Environment::Dev, std::iter::empty())
}

#[test]
fn verify_headers_default_to_the_three_x_auth_headers_and_take_custom_claims() {
    let s = load("").unwrap();
    let pairs: Vec<_> = s.verify.headers.iter().collect();
    assert_eq!(
        format!("{pairs:?}"),
        r#"[("x-auth-client", "client_id"), ("x-auth-scope", "scope"), ("x-auth-subject", "sub")]"#
    );
    let s = load("verify: { headers: { X-Tenant: tenant, x-auth-subject: sub } }").unwrap();
    assert_eq!(s.verify.headers.len(), 2);
}

#[test]
fn bad_verify_settings_name_their_key() {
    for (yaml, key) in [
        (
            "verify: { headers: { \"x auth\": sub } }",
            "verify.headers.x auth",
        ),
        (
            "verify: { headers: { \"x-é\": sub } }",
            "verify.headers.x-é",
        ),
        ("verify: { headers: { \"\": sub } }", "verify.headers."),
        (
            "verify: { headers: { Content-Type: sub } }",
            "verify.headers.Content-Type",
        ),
        (
            "verify: { headers: { x-a: sub, X-A: aud } }",
            "verify.headers.x-a",
        ),
        ("verify: { headers: { x-a: \" \" } }", "verify.headers.x-a"),
        (
            "verify: { failure_summary_secs: 0 }",
            "verify.failure_summary_secs",
        ),
        (
            "verify: { failure_summary_secs: 3601 }",
            "verify.failure_summary_secs",
        ),
        (
            "verify: { dpop_iat_window_secs: 0 }",
            "verify.dpop_iat_window_secs",
        ),
        (
            "verify: { dpop_iat_window_secs: 601 }",
            "verify.dpop_iat_window_secs",
        ),
        (
            "verify: { dpop_nonce: { mode: required } }",
            "verify.dpop_nonce.secret_file",
        ),
        (
            "verify: { dpop_nonce: { mode: required, secret_file: /nonexistent/tessera-nonce } }",
            "verify.dpop_nonce.secret_file",
        ),
        (
            "verify: { dpop_nonce: { step_secs: 9 } }",
            "verify.dpop_nonce.step_secs",
        ),
    ] {
        match load(yaml) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => assert!(e.to_string().contains(&format!("`{key}`")), "{yaml}: {e}"),
        }
    }
}

#[test]
fn dpop_proof_urls_are_normalised_and_need_a_dpop_mode() {
    let hash = crate::domain::SecretHash::generate("a-client-secret-123").unwrap();
    let client = |extra: &str| {
        format!(
            "clients: [{{ id: web, secret_hash: \"{}\", grants: [issue]{extra} }}]",
            hash.expose()
        )
    };
    let s = load(&client(
        ", dpop: required, dpop_proof_urls: [\"HTTPS://Login.Example:443/token?x=1\"]",
    ))
    .unwrap();
    assert_eq!(
        s.clients[0].dpop_proof_urls,
        ["https://login.example/token"]
    );
    let e = load(&client(
        ", dpop_proof_urls: [\"https://login.example/token\"]",
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("`clients[0].dpop_proof_urls`"),
        "{e}"
    );
    assert!(load(&client(", dpop: allowed, dpop_proof_urls: [\"ftp://x/y\"]")).is_err());
    assert!(load(&client(", dpop: sometimes")).is_err());
}

#[test]
fn admin_listen_must_parse_and_not_overlap_listen() {
    for yaml in [
        "server: { listen: \"127.0.0.1:9000\", admin_listen: \"127.0.0.1:9000\" }",
        "server: { listen: \"0.0.0.0:9000\", admin_listen: \"127.0.0.1:9000\" }",
        "server: { listen: \"127.0.0.1:9000\", admin_listen: \"[::]:9000\" }",
        "server: { admin_listen: \"localhost-9090\" }",
        "server: { admin_listen: \"\" }",
    ] {
        match load(yaml) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => assert!(
                e.to_string().contains("`server.admin_listen`"),
                "{yaml}: {e}"
            ),
        }
    }
    for yaml in [
        "server: { listen: \"127.0.0.1:9000\", admin_listen: \"127.0.0.1:9090\" }",
        "server: { listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\" }",
        "server: { listen: \"127.0.0.1:9000\" }",
    ] {
        let s = load(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert!(s.server.admin_listen.is_some() || !yaml.contains("admin"));
    }
}

#[test]
fn the_nonce_secret_file_is_checked_and_never_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let yaml = |path: &str| {
        format!("verify: {{ dpop_nonce: {{ mode: required, secret_file: \"{path}\" }} }}")
    };
    let short = file("short", "too-short-secret\n");
    let too_many = file("five", &"0123456789abcdef0123456789abcdef\n".repeat(5));
    for (path, leaked) in [(short, "too-short-secret"), (too_many, "0123456789abcdef")] {
        let e = load(&yaml(&path)).expect_err("refused").to_string();
        assert!(e.contains("`verify.dpop_nonce.secret_file`"), "{e}");
        assert!(!e.contains(leaked), "the secret is quoted: {e}");
    }
    let good = file(
        "good",
        "new-secret-0123456789abcdef0123456789\n\nold-secret-0123456789abcdef0123456789\n",
    );
    let s = load(&yaml(&good)).expect("two secrets load");
    assert_eq!(s.verify.dpop_nonce.read_secrets().unwrap().len(), 2);
}
