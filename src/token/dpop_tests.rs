//! One refusal per RFC 9449 §4.3 check, each beside an accepted proof that
//! differs from it in that one point.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

const NOW: i64 = 1_800_000_000;
const HTU: &str = "https://api.example.com/orders";

enum TestKey {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl TestKey {
    fn ec() -> Self {
        TestKey::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }
    fn ed() -> Self {
        TestKey::Ed(Ed25519KeyPair::generate().unwrap())
    }
    fn alg(&self) -> &'static str {
        match self {
            TestKey::Ec(_) => "ES256",
            TestKey::Ed(_) => "EdDSA",
        }
    }
    fn jwk(&self) -> Value {
        match self {
            TestKey::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
            }
            TestKey::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(k.public_key().as_ref())}),
        }
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Ec(k) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            TestKey::Ed(k) => k.sign(msg).as_ref().to_vec(),
        }
    }
}

fn encode(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn signed(key: &TestKey, header: &Value, claims: &Value) -> String {
    let msg = format!("{}.{}", encode(header), encode(claims));
    let sig = URL_SAFE_NO_PAD.encode(key.sign(msg.as_bytes()));
    format!("{msg}.{sig}")
}

fn header(key: &TestKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": key.jwk()})
}

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "POST", "htu": HTU, "iat": NOW,
        "ath": access_token_hash("the-token")})
}

fn check() -> ProofCheck<'static> {
    ProofCheck {
        htm: "POST",
        htu: &[HTU],
        access_token: Some("the-token"),
        now: NOW,
        window_secs: 60,
        nonces: None,
    }
}

#[test]
fn fresh_proofs_by_es256_and_eddsa_keys_are_accepted_with_their_thumbprint() {
    for key in [TestKey::ec(), TestKey::ed()] {
        let proof = signed(&key, &header(&key), &claims());
        let checked = check_proof(&proof, &check()).unwrap();
        assert_eq!(checked.jti, "j-1");
        assert_eq!(checked.iat, NOW);
        assert_eq!(checked.jkt.as_str().len(), 43);
        assert_eq!(checked.replay_ttl_secs(&check()), 61);
    }
}

#[test]
fn the_es256_thumbprint_is_rfc_7638_over_crv_kty_x_y() {
    let key = TestKey::ec();
    let jwk = key.jwk();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    let proof = signed(&key, &header(&key), &claims());
    assert_eq!(
        check_proof(&proof, &check()).unwrap().jkt,
        Jkt::of_canonical_jwk(&canonical)
    );
}

#[test]
fn an_htu_differing_only_in_case_port_query_or_fragment_is_the_same() {
    let key = TestKey::ed();
    let mut c = claims();
    c["htu"] = json!("HTTPS://API.example.com:443/orders?page=2#top");
    assert!(check_proof(&signed(&key, &header(&key), &c), &check()).is_ok());
}

/// Each case changes one thing in an otherwise good proof.
#[test]
#[allow(clippy::too_many_lines)] // one table
fn each_refusal_of_rfc_9449_section_4_3() {
    let key = TestKey::ec();
    let other = TestKey::ed();
    let good_h = header(&key);
    let good_c = claims();
    let with_h = |k: &str, v: Value| {
        let mut h = good_h.clone();
        h[k] = v;
        signed(&key, &h, &good_c)
    };
    let with_c = |k: &str, v: Value| {
        let mut c = good_c.clone();
        c[k] = v;
        signed(&key, &good_h, &c)
    };
    let without_c = |k: &str| {
        let mut c = good_c.clone();
        c.as_object_mut().unwrap().remove(k);
        signed(&key, &good_h, &c)
    };
    let good = signed(&key, &good_h, &good_c);
    let (msg, _) = good.rsplit_once('.').unwrap();
    let other_sig = URL_SAFE_NO_PAD.encode(other.sign(msg.as_bytes()));
    let mut private_jwk = key.jwk();
    private_jwk["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let mut p384 = key.jwk();
    p384["crv"] = json!("P-384");
    let cases: Vec<(&str, String, ProofError)> = vec![
        ("not three parts", "a.b".into(), ProofError::Malformed),
        (
            "too large",
            "a".repeat(MAX_PROOF_BYTES + 1),
            ProofError::TooLarge,
        ),
        (
            "typ JWT",
            with_h("typ", json!("JWT")),
            ProofError::WrongType,
        ),
        (
            "no typ",
            {
                let mut h = good_h.clone();
                h.as_object_mut().unwrap().remove("typ");
                signed(&key, &h, &good_c)
            },
            ProofError::WrongType,
        ),
        (
            "alg none",
            with_h("alg", json!("none")),
            ProofError::Algorithm,
        ),
        (
            "alg HS256",
            with_h("alg", json!("HS256")),
            ProofError::Algorithm,
        ),
        (
            "alg EdDSA with an EC key",
            with_h("alg", json!("EdDSA")),
            ProofError::KeyMismatch,
        ),
        (
            "EC key on P-384 for ES256",
            with_h("jwk", p384),
            ProofError::KeyMismatch,
        ),
        (
            "private jwk",
            with_h("jwk", private_jwk),
            ProofError::PrivateKey,
        ),
        (
            "symmetric jwk",
            with_h("jwk", json!({"kty": "oct", "k": "c2VjcmV0"})),
            ProofError::PrivateKey,
        ),
        (
            "no jwk",
            with_h("jwk", json!(null)),
            ProofError::MissingClaim,
        ),
        (
            "another key's jwk",
            with_h("jwk", other.jwk()),
            ProofError::KeyMismatch,
        ),
        (
            "another key's signature",
            format!("{msg}.{other_sig}"),
            ProofError::BadSignature,
        ),
        ("no jti", without_c("jti"), ProofError::MissingClaim),
        (
            "long jti",
            with_c("jti", json!("j".repeat(MAX_JTI_CHARS + 1))),
            ProofError::MissingClaim,
        ),
        ("no htm", without_c("htm"), ProofError::MissingClaim),
        (
            "wrong htm",
            with_c("htm", json!("GET")),
            ProofError::WrongMethod,
        ),
        (
            "lowercase htm",
            with_c("htm", json!("post")),
            ProofError::WrongMethod,
        ),
        ("no htu", without_c("htu"), ProofError::MissingClaim),
        (
            "wrong htu path",
            with_c("htu", json!("https://api.example.com/other")),
            ProofError::WrongUri,
        ),
        (
            "wrong htu scheme",
            with_c("htu", json!("http://api.example.com/orders")),
            ProofError::WrongUri,
        ),
        (
            "relative htu",
            with_c("htu", json!("/orders")),
            ProofError::WrongUri,
        ),
        ("no iat", without_c("iat"), ProofError::MissingClaim),
        (
            "iat as text",
            with_c("iat", json!("1800000000")),
            ProofError::MissingClaim,
        ),
        (
            "stale iat",
            with_c("iat", json!(NOW - 61)),
            ProofError::Stale,
        ),
        (
            "future iat",
            with_c("iat", json!(NOW + 61)),
            ProofError::Stale,
        ),
        ("no ath", without_c("ath"), ProofError::WrongAth),
        (
            "wrong ath",
            with_c("ath", json!(access_token_hash("another-token"))),
            ProofError::WrongAth,
        ),
    ];
    for (what, proof, expected) in cases {
        assert_eq!(check_proof(&proof, &check()), Err(expected), "{what}");
    }
    assert!(check_proof(&good, &check()).is_ok());
}

#[test]
fn ath_is_not_demanded_where_no_access_token_is_presented() {
    let key = TestKey::ed();
    let mut c = claims();
    c.as_object_mut().unwrap().remove("ath");
    let proof = signed(&key, &header(&key), &c);
    let at_refresh = ProofCheck {
        access_token: None,
        ..check()
    };
    assert!(check_proof(&proof, &at_refresh).is_ok());
}

#[test]
fn with_nonces_on_a_sound_proof_needs_a_live_nonce_and_an_unsound_one_learns_nothing() {
    let nonces = NonceIssuer::new(&[b"0123456789abcdef0123456789abcdef".to_vec()], 60).unwrap();
    let on = ProofCheck {
        nonces: Some(&nonces),
        ..check()
    };
    for key in [TestKey::ec(), TestKey::ed()] {
        let plain = signed(&key, &header(&key), &claims());
        assert_eq!(check_proof(&plain, &on), Err(ProofError::UseNonce));
        assert!(check_proof(&plain, &check()).is_ok(), "off: none needed");
        let mut c = claims();
        for (nonce, want) in [
            (nonces.current(NOW), Ok(())),
            (nonces.current(NOW - 120), Err(ProofError::UseNonce)),
            ("forged".to_owned(), Err(ProofError::UseNonce)),
        ] {
            c["nonce"] = json!(nonce);
            let proof = signed(&key, &header(&key), &c);
            assert_eq!(check_proof(&proof, &on).map(|_| ()), want, "{nonce}");
        }
        // A bad signature is that, not a request for a nonce.
        let mut forged = plain.clone();
        forged.truncate(forged.len() - 4);
        forged.push_str("AAAA");
        assert_eq!(check_proof(&forged, &on), Err(ProofError::BadSignature));
    }
}

#[test]
fn a_repeated_header_member_is_refused() {
    let key = TestKey::ed();
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","alg":"ES256","jwk":{}}}"#,
        key.jwk()
    );
    let msg = format!("{}.{}", URL_SAFE_NO_PAD.encode(h), encode(&claims()));
    let sig = URL_SAFE_NO_PAD.encode(key.sign(msg.as_bytes()));
    assert_eq!(
        check_proof(&format!("{msg}.{sig}"), &check()),
        Err(ProofError::Malformed)
    );
}
