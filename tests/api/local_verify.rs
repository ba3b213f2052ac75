//! Local verification by a third-party library: PyJWT's `PyJWKClient`
//! fetches Tessera's JWKS and verifies issued tokens (signature, `exp`,
//! `iss`, `aud`) without calling `/token/verify`. The script is
//! tests/py/verify_with_jwks.py; scripts/test.sh makes the venv.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use crate::helpers::{Backend, KeyAlg, TestApp, active_key, spawn_app};
use serde_json::{Value, json};

const ISSUER: &str = "http://tessera.test";

fn python() -> PathBuf {
    let path = std::env::var_os("TESSERA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/py-venv/bin/python"
            ))
        });
    assert!(
        path.exists(),
        "no Python venv with PyJWT at {}: run scripts/test.sh, which creates it \
         (python3 -m venv target/py-venv && target/py-venv/bin/pip install 'pyjwt[crypto]')",
        path.display()
    );
    path
}

/// Runs the script; `Ok(output json)` when PyJWT accepts the token,
/// `Err(stderr)` when it rejects it.
fn verify_locally(app: &TestApp, token: &str, audience: &str) -> Result<Value, String> {
    verify_locally_for(app, token, ISSUER, audience)
}

fn verify_locally_for(
    app: &TestApp,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/verify_with_jwks.py");
    let mut child = crate::helpers::loopback_command(python())
        .arg(script)
        .arg(app.url("/.well-known/jwks.json"))
        .arg(issuer)
        .arg(audience)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("python output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).expect("script prints JSON")),
        Some(1) if stderr.starts_with("rejected: ") => Err(stderr),
        _ => panic!(
            "the verify script failed to run: {:?}\n{stderr}",
            out.status
        ),
    }
}

async fn issue(app: &TestApp, sub: &str, aud: &str) -> String {
    let v = app
        .issue_ok(json!({"sub": sub, "aud": aud, "scope": "read"}))
        .await;
    v["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_an_eddsa_token_from_the_jwks_and_checks_iss_and_aud() {
    let app = spawn_app(Backend::Memory).await;
    let token = issue(&app, "user-42", "video-api").await;

    let ok = verify_locally(&app, &token, "video-api").expect("PyJWT accepts the token");
    assert_eq!(ok["alg"], "EdDSA");
    assert_eq!(ok["kid"], "k1");
    assert_eq!(ok["claims"]["sub"], "user-42");
    assert_eq!(ok["claims"]["aud"], "video-api");
    assert_eq!(ok["claims"]["iss"], ISSUER);
    assert_eq!(ok["claims"]["scope"], "read");

    let err = verify_locally(&app, &token, "billing-api").unwrap_err();
    assert!(err.contains("InvalidAudienceError"), "{err}");

    let mut forged = token.clone().into_bytes();
    let i = forged.len() - 3;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let err = verify_locally(&app, &String::from_utf8(forged).unwrap(), "video-api").unwrap_err();
    assert!(err.contains("InvalidSignatureError"), "{err}");

    // The trade-off of local checks: a revoked token still verifies
    // locally until it expires; only /token/verify sees the revocation.
    assert_eq!(app.revoke(&token).await.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 401);
    assert!(verify_locally(&app, &token, "video-api").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_rejects_another_issuer_and_expired_tokens() {
    let app = TestApp::builder(Backend::Memory)
        .keys([active_key("e1", KeyAlg::EdDSA)])
        .spawn()
        .await;
    let v = app
        .issue_ok(json!({"sub": "u", "aud": "video-api", "ttl": 3}))
        .await;
    let token = v["access_token"].as_str().unwrap().to_owned();
    let ok = verify_locally(&app, &token, "video-api").expect("accepted");
    assert_eq!(ok["kid"], "e1");
    let err = verify_locally_for(&app, &token, "https://evil.test", "video-api").unwrap_err();
    assert!(err.contains("InvalidIssuerError"), "{err}");
    // `exp` is at least 2 s away at issue; past it PyJWT (no leeway) refuses.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let err = verify_locally(&app, &token, "video-api").unwrap_err();
    assert!(err.contains("ExpiredSignatureError"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_es256_and_rs256_tokens_from_the_jwks() {
    for (kid, alg) in [("ec", KeyAlg::ES256), ("rsa", KeyAlg::RS256)] {
        let app = TestApp::builder(Backend::Memory)
            .keys([active_key(kid, alg)])
            .spawn()
            .await;
        let token = issue(&app, "svc", "video-api").await;
        let ok = verify_locally(&app, &token, "video-api")
            .unwrap_or_else(|e| panic!("{kid}: PyJWT rejected: {e}"));
        assert_eq!(ok["alg"], alg.as_str());
        assert_eq!(ok["kid"], kid);
        assert_eq!(ok["claims"]["sub"], "svc");
        app.stop().await;
    }
}
