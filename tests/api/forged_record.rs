//! The store record binds the exact token: it is named by a digest of the
//! compact token, so a token signed with the real key (leaked, or retired
//! but still verifying) for a live `(sub, jti)` but with any other bytes
//! finds no record: `401 token revoked` on verify, inactive on introspection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_revoked, spawn_app};

crate::both_backends!(a_token_forged_with_the_real_key_for_a_live_jti_is_refused);

/// `header.payload` signed with the app's own key `k1` (Ed25519).
fn sign_with_app_key(app: &TestApp, header: &str, payload: &str) -> String {
    let pem = std::fs::read(app.key_file("k1")).unwrap();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    let msg = format!("{header}.{payload}");
    let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, Algorithm::EdDSA).unwrap();
    format!("{msg}.{sig}")
}

async fn introspected(app: &TestApp, token: &str) -> Value {
    app.introspect(&[("token", token)])
        .await
        .json()
        .await
        .unwrap()
}

async fn a_token_forged_with_the_real_key_for_a_live_jti_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    for refresh in [false, true] {
        let v = app
            .issue_ok(json!({"sub": "user-42", "scope": "read", "refresh": refresh}))
            .await;
        let real = v["access_token"].as_str().unwrap();
        let mut parts = real.split('.');
        let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
        // The test signs as the server does: re-signing the real bytes gives
        // the real token (Ed25519 is deterministic), which is live.
        assert_eq!(sign_with_app_key(&app, header, payload), real);
        assert_eq!(app.verify_get(real).await.status(), 200);

        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        // Same sub, sid and jti (all in INFO audit lines): wider scope,
        // another audience, extra claims.
        let mut widened = claims.clone();
        widened["scope"] = json!("read write admin");
        widened["aud"] = json!("billing-api");
        widened["role"] = json!("superuser");
        // The very same claims, only serialised in another key order.
        let mut reordered = serde_json::Map::new();
        for (k, val) in claims.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), val.clone());
        }
        let reordered = Value::Object(reordered);
        for forged_claims in [widened, reordered] {
            let text = serde_json::to_string(&forged_claims).unwrap();
            let forged = sign_with_app_key(&app, header, &URL_SAFE_NO_PAD.encode(text));
            assert_ne!(forged, real);
            assert_revoked(app.verify_get(&forged).await).await;
            assert_eq!(
                introspected(&app, &forged).await,
                json!({"active": false}),
                "refresh: {refresh}"
            );
        }
        assert_eq!(
            app.verify_get(real).await.status(),
            200,
            "the real one lives"
        );
        assert_eq!(introspected(&app, real).await["active"], true);
    }
}
