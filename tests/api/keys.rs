//! Signing keys end to end: ES256 and RS256 keys sign and verify, the JWKS
//! publishes exactly the keys that verify now, a zero-downtime rotation over
//! one shared Redis, and `tessera keygen` + `tessera check-config`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::command;
use crate::helpers::{Backend, KeyAlg, TestApp, active_key, assert_error, retired_key};

fn header_of(token: &str) -> Value {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().expect("header"))
        .expect("base64");
    serde_json::from_slice(&raw).expect("header json")
}

async fn jwks(app: &TestApp) -> Vec<Value> {
    let res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("jwks json");
    v["keys"].as_array().expect("keys array").clone()
}

fn kids(keys: &[Value]) -> Vec<&str> {
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    kids.sort_unstable();
    kids
}

fn assert_public_jwk(key: &Value, alg: KeyAlg) {
    assert_eq!(key["alg"], alg.as_str(), "{key}");
    assert_eq!(key["use"], "sig", "{key}");
    match alg {
        KeyAlg::EdDSA => {
            assert_eq!(key["kty"], "OKP", "{key}");
            assert_eq!(key["crv"], "Ed25519", "{key}");
            assert!(key["x"].is_string(), "{key}");
        }
        KeyAlg::ES256 => {
            assert_eq!(key["kty"], "EC", "{key}");
            assert_eq!(key["crv"], "P-256", "{key}");
            assert!(key["x"].is_string() && key["y"].is_string(), "{key}");
        }
        KeyAlg::RS256 => {
            assert_eq!(key["kty"], "RSA", "{key}");
            assert_eq!(key["e"], "AQAB", "{key}");
            assert!(key["n"].as_str().unwrap().len() >= 342, "{key}");
        }
    }
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "private `{private}` in {key}");
    }
}

/// Issues with a single active key of `alg`, verifies, and checks that a
/// header naming another algorithm is refused (the key decides).
async fn a_single_key_signs_and_verifies(alg: KeyAlg) {
    let app = TestApp::builder(Backend::Memory)
        .keys([active_key("only", alg)])
        .spawn()
        .await;
    let token = app.access_token("user-1").await;
    let header = header_of(&token);
    assert_eq!(header["alg"], alg.as_str());
    assert_eq!(header["kid"], "only");
    assert_eq!(header["typ"], "at+jwt");
    let res = app.verify_get(&token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-auth-subject"], "user-1");
    let keys = jwks(&app).await;
    assert_eq!(kids(&keys), ["only"]);
    assert_public_jwk(&keys[0], alg);

    // Same payload and signature, header claiming another algorithm.
    let other = if alg == KeyAlg::RS256 {
        "ES256"
    } else {
        "RS256"
    };
    let forged_header = json!({"alg": other, "typ": "at+jwt", "kid": "only"});
    use base64::Engine;
    let forged = format!(
        "{}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_header.to_string()),
        token.split_once('.').unwrap().1
    );
    assert_error(app.verify_get(&forged).await, 401, "invalid_token").await;
    // A flipped signature byte fails too.
    let mut bad = token.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert_error(app.verify_get(&bad).await, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_es256_key_signs_and_verifies() {
    a_single_key_signs_and_verifies(KeyAlg::ES256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_key_signs_and_verifies() {
    a_single_key_signs_and_verifies(KeyAlg::RS256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_lists_the_active_key_and_retired_keys_inside_their_window_only() {
    let now = Utc::now();
    let keys = [
        active_key("new-ec", KeyAlg::ES256),
        retired_key(
            "old-rsa",
            KeyAlg::RS256,
            Some(now + chrono::Duration::hours(1)),
        ),
        retired_key("older-ed", KeyAlg::EdDSA, None),
        retired_key(
            "gone-ed",
            KeyAlg::EdDSA,
            Some(now - chrono::Duration::seconds(1)),
        ),
    ];
    let app = TestApp::builder(Backend::Memory).keys(keys).spawn().await;
    let published = jwks(&app).await;
    assert_eq!(kids(&published), ["new-ec", "old-rsa", "older-ed"]);
    for key in &published {
        let alg = match key["kid"].as_str().unwrap() {
            "new-ec" => KeyAlg::ES256,
            "old-rsa" => KeyAlg::RS256,
            _ => KeyAlg::EdDSA,
        };
        assert_public_jwk(key, alg);
    }
    // The active key signs.
    let token = app.access_token("u").await;
    assert_eq!(header_of(&token)["kid"], "new-ec");
    assert_eq!(app.verify_get(&token).await.status(), 200);
}

fn in_secs(secs: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(secs)
}

/// Rolling restarts over one Redis and one key prefix (each instance a
/// peer of the one before: same store, prefix and key files): A active →
/// A active with B published → B active, A retired for a short window →
/// A removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_downtime_rotation_on_a_shared_redis() {
    let (a, b) = (KeyAlg::EdDSA, KeyAlg::ES256);
    let restart = |before: &TestApp, keys: Vec<_>| {
        TestApp::builder(Backend::Redis)
            .peer(before)
            .keys(keys)
            .spawn()
    };

    // 1. Key A alone.
    let app1 = TestApp::builder(Backend::Redis)
        .keys([active_key("A", a)])
        .spawn()
        .await;
    let t_a1 = app1.access_token("alice").await;
    assert_eq!(header_of(&t_a1)["kid"], "A");
    assert_eq!(kids(&jwks(&app1).await), ["A"]);

    // 2. B is added as retired (published, not signing); then the old instance stops.
    let app2 = restart(&app1, vec![active_key("A", a), retired_key("B", b, None)]).await;
    app1.stop().await;
    assert_eq!(kids(&jwks(&app2).await), ["A", "B"]);
    assert_eq!(app2.verify_get(&t_a1).await.status(), 200);
    let t_a2 = app2.access_token("bob").await;
    assert_eq!(header_of(&t_a2)["kid"], "A");

    // 3. B is promoted; A verifies only for a few more seconds.
    let until = in_secs(6);
    let step3 = vec![active_key("B", b), retired_key("A", a, Some(until))];
    let app3 = restart(&app2, step3).await;
    app2.stop().await;
    assert_eq!(kids(&jwks(&app3).await), ["A", "B"]);
    for t in [&t_a1, &t_a2] {
        let res = app3.verify_get(t).await;
        assert_eq!(res.status(), 200, "A's tokens verify inside the window");
    }
    let t_b = app3.access_token("carol").await;
    assert_eq!(header_of(&t_b)["kid"], "B");
    assert_eq!(header_of(&t_b)["alg"], "ES256");
    assert_eq!(app3.verify_get(&t_b).await.status(), 200);
    // Revocation still works across the rotation.
    assert_eq!(app3.revoke(&t_a2).await.status(), 200);
    assert_error(app3.verify_get(&t_a2).await, 401, "invalid_token").await;

    // 4. The window ends: A's tokens fail although their records are live.
    let wait = (until - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(300);
    tokio::time::sleep(wait).await;
    let body = assert_error(app3.verify_get(&t_a1).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "unknown signing key");
    assert_eq!(kids(&jwks(&app3).await), ["B"]);
    assert_eq!(app3.verify_get(&t_b).await.status(), 200);

    // 5. A is removed from the config; B's tokens live on.
    let app4 = restart(&app3, vec![active_key("B", b)]).await;
    app3.stop().await;
    assert_error(app4.verify_get(&t_a1).await, 401, "invalid_token").await;
    let res = app4.verify_get(&t_b).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-auth-subject"], "carol");
    assert_eq!(kids(&jwks(&app4).await), ["B"]);
}

fn check_config(
    dir: &std::path::Path,
    kid: &str,
    path: &std::path::Path,
    alg: &str,
) -> std::process::Output {
    let log4rs = concat!(env!("CARGO_MANIFEST_DIR"), "/log4rs.yaml");
    let config = dir.join(format!("config-{kid}-{alg}.yaml"));
    std::fs::write(
        &config,
        format!(
            "issuer: \"http://tessera.test\"\nlogging: {{ config: \"{log4rs}\" }}\nkeys:\n  - {{ kid: \"{kid}\", path: \"{}\", alg: \"{alg}\", status: \"active\" }}\n",
            path.display()
        ),
    )
    .expect("write config");
    command(dir)
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run tessera check-config")
}

#[test]
fn keygen_writes_a_private_pkcs8_key_that_check_config_accepts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    for alg in ["ES256", "RS256", "EdDSA"] {
        let out = dir.path().join("keys").join(format!("{alg}.pem"));
        let run = command(dir.path())
            .args(["keygen", "--alg", alg, "--out"])
            .arg(&out)
            .output()
            .expect("run tessera keygen");
        assert!(run.status.success(), "{alg}: {run:?}");
        let text = std::fs::read_to_string(&out).expect("key file");
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{alg}");
        assert!(
            text.trim_end().ends_with("-----END PRIVATE KEY-----"),
            "{alg}"
        );
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{alg}: mode {mode:o}");

        // Never overwrites.
        let again = command(dir.path())
            .args(["keygen", "--alg", alg, "--out"])
            .arg(&out)
            .output()
            .expect("run tessera keygen");
        assert!(!again.status.success(), "{alg}: overwrote");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            text,
            "{alg}: changed"
        );

        let ok = check_config(dir.path(), "k1", &out, alg);
        let stderr = String::from_utf8_lossy(&ok.stderr);
        assert!(ok.status.success(), "{alg}: check-config failed: {stderr}");
        assert!(stderr.contains("configuration OK"), "{stderr}");
    }
    // A key declared with another algorithm than its file is refused, by name.
    let es = dir.path().join("keys").join("ES256.pem");
    let bad = check_config(dir.path(), "mislabelled", &es, "RS256");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "accepted an ES256 file as RS256");
    assert!(stderr.contains("mislabelled"), "{stderr}");
    // An unknown algorithm is refused by keygen.
    let run = command(dir.path())
        .args(["keygen", "--alg", "HS256", "--out"])
        .arg(dir.path().join("hs.pem"))
        .output()
        .expect("run tessera keygen");
    assert!(!run.status.success());
    assert!(!dir.path().join("hs.pem").exists());
}
