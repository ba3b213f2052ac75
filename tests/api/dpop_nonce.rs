//! DPoP server nonces (RFC 9449 §8–9, `verify.dpop_nonce`), with proofs
//! made by panva's `dpop` (tests/node/dpop_proofs.mjs), ES256 and Ed25519,
//! on both stores: a proof without a nonce is answered `use_dpop_nonce`
//! with a `DPoP-Nonce` header (400 at the token endpoints, 401 with a
//! `DPoP` challenge at verify), the retry with that nonce is accepted,
//! stale and forged nonces are refused, a second instance with the same
//! secret file takes the first one's nonce, and with nonces off a proof's
//! nonce is ignored and none is handed out.

use std::path::{Path, PathBuf};

use reqwest::Response;
use serde_json::{Value, json};
use tessera::config::{DpopNonceSettings, NonceMode};
use tessera::domain::DpopMode;
use tessera::token::NonceIssuer;

use crate::dpop::{
    API, Keys, LOGIN, app as nonce_free_app, assert_dpop_401, dpop_client, verify_body,
    verify_gateway,
};
use crate::helpers::{Backend, SECRET, TestApp, assert_error};

crate::both_backends!(
    token_endpoints_answer_use_dpop_nonce_and_take_the_nonce_they_gave,
    verify_challenges_for_a_nonce_and_refuses_stale_and_forged_ones,
    a_second_instance_with_the_same_secret_takes_the_nonce,
    with_nonces_off_a_proof_nonce_is_ignored_and_none_is_given,
);

const ALGS: [&str; 2] = ["ES256", "Ed25519"];
const STEP_SECS: u64 = 60;
const OWN_REFRESH: &str = "http://tessera.test/token/refresh";
const OWN_TOKEN: &str = "http://tessera.test/oauth2/token";

/// A secret file of one line, for every app of one test.
pub(crate) fn secret_file(secret: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tessera-nonce-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

pub(crate) async fn nonce_app(b: Backend, file: &Path, peer: Option<&TestApp>) -> TestApp {
    let mut builder = TestApp::builder(b);
    if let Some(p) = peer {
        builder = builder.peer(p);
    }
    builder
        .configure(|s| {
            s.clients.push(dpop_client("dpop-app", DpopMode::Allowed));
            s.verify.dpop_nonce = DpopNonceSettings {
                mode: NonceMode::Required,
                secret_file: Some(file.to_path_buf()),
                step_secs: STEP_SECS,
            };
        })
        .spawn()
        .await
}

/// The `DPoP-Nonce` of an answer (asserting there is one).
fn nonce_of(res: &Response, what: &str) -> String {
    res.headers()
        .get("dpop-nonce")
        .unwrap_or_else(|| panic!("{what}: no DPoP-Nonce header"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn proof(keys: &Keys, htu: &str, htm: &str, token: Option<&str>, nonce: Option<&str>) -> String {
    let mut spec = json!({"key": "a", "htu": htu, "htm": htm});
    if let Some(t) = token {
        spec["access_token"] = json!(t);
    }
    if let Some(n) = nonce {
        spec["nonce"] = json!(n);
    }
    keys.proof(spec)
}

async fn issue_with(app: &TestApp, proof: String) -> Response {
    app.issue_as(
        "dpop-app",
        json!({"sub": "nina", "dpop": proof, "refresh": true}),
    )
    .await
}

async fn refresh_with(app: &TestApp, rt: &str, proof: String) -> Response {
    app.api
        .post(app.url("/token/refresh"))
        .basic_auth("dpop-app", Some(SECRET))
        .header("dpop", proof)
        .json(&json!({ "refresh_token": rt }))
        .send()
        .await
        .unwrap()
}

async fn oauth_refresh_with(app: &TestApp, rt: &str, proof: String) -> Response {
    app.api
        .post(app.url("/oauth2/token"))
        .basic_auth("dpop-app", Some(SECRET))
        .header("dpop", proof)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .unwrap()
}

/// A 400 `use_dpop_nonce` with the nonce to retry with.
async fn asked_at_token_endpoint(res: Response, what: &str) -> String {
    let nonce = nonce_of(&res, what);
    assert_error(res, 400, "use_dpop_nonce").await;
    nonce
}

/// A 200 carrying the next nonce; its JSON.
async fn accepted(res: Response, what: &str) -> Value {
    assert_eq!(res.status(), 200, "{what}");
    nonce_of(&res, what);
    res.json().await.unwrap()
}

async fn token_endpoints_answer_use_dpop_nonce_and_take_the_nonce_they_gave(b: Backend) {
    let file = secret_file("test-secret-0123456789abcdef0123456789");
    let app = nonce_app(b, &file, None).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        // /token/issue with the client's proof.
        let res = issue_with(&app, proof(&keys, LOGIN, "POST", None, None)).await;
        let n = asked_at_token_endpoint(res, "issue without a nonce").await;
        let res = issue_with(&app, proof(&keys, LOGIN, "POST", None, Some(&n))).await;
        let issued = accepted(res, "issue with the nonce").await;
        assert_eq!(issued["token_type"], "DPoP", "{alg}");
        let rt = issued["refresh_token"].as_str().unwrap();
        // /token/refresh of the bound session.
        let res = refresh_with(&app, rt, proof(&keys, OWN_REFRESH, "POST", None, None)).await;
        let n = asked_at_token_endpoint(res, "refresh without a nonce").await;
        let res = refresh_with(&app, rt, proof(&keys, OWN_REFRESH, "POST", None, Some(&n))).await;
        let next = accepted(res, "refresh with the nonce").await;
        let rt = next["refresh_token"].as_str().unwrap();
        // /oauth2/token's refresh grant.
        let res = oauth_refresh_with(&app, rt, proof(&keys, OWN_TOKEN, "POST", None, None)).await;
        let n = asked_at_token_endpoint(res, "oauth2/token without a nonce").await;
        let p = proof(&keys, OWN_TOKEN, "POST", None, Some(&n));
        let res = oauth_refresh_with(&app, rt, p).await;
        accepted(res, "oauth2/token with the nonce").await;
    }
    let _ = std::fs::remove_file(file);
}

async fn verify_challenges_for_a_nonce_and_refuses_stale_and_forged_ones(b: Backend) {
    let secret = "test-secret-abcdef0123456789abcdef0123";
    let file = secret_file(secret);
    let app = nonce_app(b, &file, None).await;
    let now = chrono::Utc::now().timestamp();
    let ours = NonceIssuer::new(&[secret.as_bytes().to_vec()], STEP_SECS).unwrap();
    let theirs = NonceIssuer::new(
        &[b"another-secret-0123456789abcdef01234".to_vec()],
        STEP_SECS,
    )
    .unwrap();
    for alg in ALGS {
        let keys = Keys::new(alg);
        let res = app
            .issue_as(
                "dpop-app",
                json!({"sub": "olga", "cnf": {"jkt": keys.jkt("a")}}),
            )
            .await;
        let at = accepted(res, "issue by cnf.jkt needs no nonce").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = at.as_str();
        // The body form: 401 with the challenge and the nonce; the retry passes.
        let p = proof(&keys, API, "GET", Some(at), None);
        let res = verify_body(&app, at, Some(&p), "GET", API).await;
        let n = nonce_of(&res, "verify without a nonce");
        assert_dpop_401(res, "use_dpop_nonce", &format!("{alg}: body, no nonce")).await;
        let p = proof(&keys, API, "GET", Some(at), Some(&n));
        let res = verify_body(&app, at, Some(&p), "GET", API).await;
        let n = nonce_of(&res, "verify with the nonce");
        assert_eq!(res.status(), 200, "{alg}: body, with the nonce");
        // The gateway form, with the nonce the last answer gave.
        let p = proof(&keys, API, "GET", Some(at), None);
        let res = verify_gateway(&app, "DPoP", at, Some(&p)).await;
        nonce_of(&res, "gateway without a nonce");
        assert_dpop_401(res, "use_dpop_nonce", &format!("{alg}: gateway, no nonce")).await;
        let p = proof(&keys, API, "GET", Some(at), Some(&n));
        let res = verify_gateway(&app, "DPoP", at, Some(&p)).await;
        assert_eq!(res.status(), 200, "{alg}: gateway, with the nonce");
        // Two steps old, another secret's, and not a nonce at all.
        let stale = ours.current(now - 2 * STEP_SECS as i64 - 1);
        for (what, bad) in [
            ("stale", stale),
            ("another secret's", theirs.current(now)),
            ("forged", forged(&n)),
        ] {
            let p = proof(&keys, API, "GET", Some(at), Some(&bad));
            let res = verify_gateway(&app, "DPoP", at, Some(&p)).await;
            let fresh = nonce_of(&res, what);
            assert_ne!(fresh, bad, "{what}: a live nonce is handed out");
            assert_dpop_401(res, "use_dpop_nonce", &format!("{alg}: {what} nonce")).await;
        }
    }
    let _ = std::fs::remove_file(file);
}

/// `nonce` with its first MAC character changed.
fn forged(nonce: &str) -> String {
    let mut chars: Vec<char> = nonce.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn a_second_instance_with_the_same_secret_takes_the_nonce(b: Backend) {
    let file = secret_file("shared-secret-0123456789abcdef0123456789");
    let first = nonce_app(b, &file, None).await;
    let second = nonce_app(b, &file, Some(&first)).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        let res = issue_with(&first, proof(&keys, LOGIN, "POST", None, None)).await;
        let n = asked_at_token_endpoint(res, "first instance").await;
        let res = issue_with(&second, proof(&keys, LOGIN, "POST", None, Some(&n))).await;
        accepted(res, "the second instance, with the first one's nonce").await;
    }
    let _ = std::fs::remove_file(file);
}

async fn with_nonces_off_a_proof_nonce_is_ignored_and_none_is_given(b: Backend) {
    let app = nonce_free_app(b).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        let p = proof(
            &keys,
            LOGIN,
            "POST",
            None,
            Some("whatever-the-client-sends"),
        );
        let res = issue_with(&app, p).await;
        assert_eq!(res.status(), 200, "{alg}: issue, nonce ignored");
        assert!(
            res.headers().get("dpop-nonce").is_none(),
            "no nonce handed out"
        );
        let at = res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let p = proof(&keys, API, "GET", Some(&at), None);
        let res = verify_gateway(&app, "DPoP", &at, Some(&p)).await;
        assert_eq!(res.status(), 200, "{alg}: verify without a nonce");
        assert!(res.headers().get("dpop-nonce").is_none());
    }
}
