//! `KeySet::verify` on arbitrary input: never panics, never accepts.
//! The first byte picks how much of a genuine token is kept, so the fuzzer
//! reaches the signature and claim checks, not only the outer parsing.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera::domain::KeyStatus;
use tessera::domain::{Audience, Kid};
use tessera::domain::{AccessClaims, KeyAlg};
use tessera::token::{KeySet, SigningKey, generate_pem};

const ISSUER: &str = "http://fuzz.test";

struct Fixture {
    keys: KeySet,
    /// A genuine token signed by `k1`, split into its three segments.
    parts: [String; 3],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = |kid: &str, alg: KeyAlg, status: KeyStatus| {
            let pem = generate_pem(alg).expect("keygen");
            SigningKey::from_pem(Kid::parse(kid).unwrap(), alg, status, None, pem.as_bytes())
                .expect("key")
        };
        let keys = KeySet::new(vec![
            key("k1", KeyAlg::EdDSA, KeyStatus::Active),
            key("k2", KeyAlg::ES256, KeyStatus::Retired),
            key("k3", KeyAlg::RS256, KeyStatus::Retired),
        ])
        .expect("key set");
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: "user-42".into(),
            aud: "api".into(),
            exp: now + 3600,
            iat: now,
            nbf: now,
            jti: "8f14e45f-ceea-467f-a8f2-5d7a2b1c3e4f".into(),
            client_id: "fuzz".into(),
            scope: "read".into(),
            sid: "1c0b5a8e-2f9d-4a77-9d61-4b2f0e6c9a10".into(),
            extra: serde_json::Map::new(),
        };
        let token = keys.sign(&claims).expect("sign");
        let mut it = token.split('.').map(str::to_owned);
        let parts = [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()];
        Fixture { keys, parts }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let [h, p, s] = &f.parts;
    let token = match mode % 5 {
        0 => text.into_owned(),
        1 => format!("{h}.{text}"),
        2 => format!("{h}.{p}.{text}"),
        3 => format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode(rest)),
        _ => format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(rest)),
    };
    let aud = Audience::parse("api").ok();
    let result = f
        .keys
        .verify(&token, ISSUER, 30, aud.as_ref(), chrono::Utc::now());
    // Only the untouched genuine token may pass.
    if result.is_ok() {
        assert_eq!(token, format!("{h}.{p}.{s}"), "a forged token was accepted");
    }
    let _ = tessera::domain::strict_json::check_no_duplicate_keys(rest);
});
