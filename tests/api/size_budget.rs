//! Size budget: issue never answers 200 with a token verify would call
//! malformed (over 8,192 bytes). At the field maxima (sub and aud 256 B,
//! scope 1 KiB, claims 4 KiB) issue refuses with a 400 naming the fields
//! and stores nothing; the largest token it does issue verifies. For each
//! signing algorithm.

use serde_json::{Value, json};
use tessera::domain::KeyAlg;

use crate::helpers::{Backend, TestApp, active_key, assert_error, retired_key};

/// `token::MAX_TOKEN_BYTES`: the largest token verify accepts.
const VERIFY_CAP: usize = 8192;
/// The longest `claims` filler: `{"f":"…"}` is then exactly 4,096 bytes.
const MAX_FILLER: usize = 4096 - 8;

/// An issue body with `sub`, `aud` and `scope` at their maxima and a
/// `claims` object of `filler` + 8 bytes. `sub` and `aud` are 256 `"` and
/// `\\`, which JSON escapes: 512 bytes each in the token.
fn body(filler: usize, refresh: bool) -> Value {
    let scope: Vec<String> = (0..170).map(|i| format!("s{i:04}")).collect();
    json!({
        "sub": "\"".repeat(256),
        "aud": "\\".repeat(256),
        "scope": scope.join(" "),
        "claims": {"f": "x".repeat(filler)},
        "refresh": refresh,
    })
}

async fn issued(app: &TestApp, filler: usize) -> Option<String> {
    let res = app.issue(body(filler, false)).await;
    if res.status() != 200 {
        return None;
    }
    let v: Value = res.json().await.unwrap();
    Some(v["access_token"].as_str().unwrap().to_owned())
}

async fn the_budget_holds_for(alg: KeyAlg) {
    let app = TestApp::builder(Backend::Memory).key_alg(alg).spawn().await;
    // The largest claims filler issue accepts: its token is just under the
    // cap (one more byte is refused) and verifies.
    let mut lo = 0;
    let mut token = issued(&app, lo).await.expect("small claims are issued");
    let mut hi = MAX_FILLER;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if let Some(t) = issued(&app, mid).await {
            (lo, token) = (mid, t);
        } else {
            hi = mid;
        }
    }
    assert!(
        token.len() <= VERIFY_CAP && token.len() > VERIFY_CAP - 3,
        "{alg:?}: the largest issued token is {} bytes",
        token.len()
    );
    assert!(issued(&app, lo + 1).await.is_none());
    assert_eq!(app.verify_get(&token).await.status(), 200, "{alg:?}");
    println!(
        "size_budget: {alg:?}: largest claims filler {lo} B, token {} B",
        token.len()
    );
    // All fields at their maxima, `sub` and `aud` of characters JSON
    // escapes: a clear 400 that names them, and no session stored.
    let res = app.issue(body(MAX_FILLER, true)).await;
    let err = assert_error(res, 400, "invalid_request").await;
    let desc = err["error_description"].as_str().unwrap();
    assert!(
        desc.contains("over the 8192 bytes verify accepts"),
        "{desc}"
    );
    for field in [
        "`claims` (4096 bytes)",
        "`scope` (1019 bytes)",
        "`sub` (256 bytes)",
        "`aud` (256 bytes)",
    ] {
        assert!(desc.contains(field), "{field} not named in {desc}");
    }
    assert!(!desc.contains("\"\"\"\""), "a field's value in {desc}");
    let sub = "%22".repeat(256);
    let listed: Value = app
        .admin_get(&format!("/users/{sub}/sessions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["sessions"],
        json!([]),
        "a refused issue stored a session"
    );
}

#[tokio::test]
async fn eddsa_tokens_stay_within_what_verify_accepts() {
    the_budget_holds_for(KeyAlg::EdDSA).await;
}

#[tokio::test]
async fn es256_tokens_stay_within_what_verify_accepts() {
    the_budget_holds_for(KeyAlg::ES256).await;
}

#[tokio::test]
async fn rs256_tokens_stay_within_what_verify_accepts() {
    the_budget_holds_for(KeyAlg::RS256).await;
}

/// A session issued under EdDSA near the budget, refreshed after the
/// active key became RS256 (a larger signature): refresh refuses with the
/// same 400 and stores nothing, so the refresh token still works where the
/// token fits.
#[tokio::test]
async fn refresh_refuses_a_token_over_the_budget_and_keeps_the_session() {
    let eddsa = TestApp::builder(Backend::Redis)
        .keys([active_key("A", KeyAlg::EdDSA)])
        .spawn()
        .await;
    // Between RS256's largest filler (3,570 B) and EdDSA's (3,762 B).
    let v = eddsa.issue_ok(body(3700, true)).await;
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let rs256 = TestApp::builder(Backend::Redis)
        .peer(&eddsa)
        .keys([
            retired_key("A", KeyAlg::EdDSA, None),
            active_key("B", KeyAlg::RS256),
        ])
        .spawn()
        .await;
    let err = assert_error(rs256.refresh(&rt).await, 400, "invalid_request").await;
    let desc = err["error_description"].as_str().unwrap();
    assert!(
        desc.contains("over the 8192 bytes verify accepts"),
        "{desc}"
    );
    assert!(desc.contains("`claims` (3708 bytes)"), "{desc}");
    let res = eddsa.refresh(&rt).await;
    assert_eq!(res.status(), 200, "the refused refresh rotated the session");
    let v: Value = res.json().await.unwrap();
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(eddsa.verify_get(token).await.status(), 200);
}
