//! Micro-benchmarks of verify's hot path, beside the raw cost of one
//! Ed25519 sign and verify in aws-lc-rs (the floor for a first-seen token).
//! Run by `scripts/bench.sh`, or `cargo bench --bench hot_path`.
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use tessera::config::KeySettings;
use tessera::domain::KeyStatus;

use tessera::domain::{AccessClaims, KeyAlg};
use tessera::token::{KeySet, SigningKey, VerifiedCache, write_new_key};

fn key_set(dir: &std::path::Path) -> KeySet {
    let path = dir.join("bench.pem");
    write_new_key(&path, KeyAlg::EdDSA).expect("keygen");
    let key = SigningKey::load(&KeySettings {
        kid: "bench".into(),
        path,
        alg: KeyAlg::EdDSA,
        status: KeyStatus::Active,
        verify_until: None,
    })
    .expect("load key");
    KeySet::new(vec![key]).expect("key set")
}

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: "http://tessera.bench".into(),
        sub: "user-00042".into(),
        aud: "http://tessera.bench".into(),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        client_id: "bench".into(),
        scope: "read write".into(),
        sid: uuid::Uuid::new_v4().to_string(),
        extra: serde_json::Map::new(),
    }
}

fn raw_ed25519(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("pair");
    // About the size of a token's signing input.
    let msg = vec![b'x'; 330];
    let sig = pair.sign(&msg);
    let public = UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref().to_vec());
    c.bench_function("raw_ed25519_sign", |b| {
        b.iter(|| pair.sign(black_box(&msg)))
    });
    c.bench_function("raw_ed25519_verify", |b| {
        b.iter(|| public.verify(black_box(&msg), sig.as_ref()).expect("valid"))
    });
}

fn tokens(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = key_set(dir.path());
    let now = chrono::Utc::now();
    let claims = claims(now.timestamp());
    let token = keys.sign(&claims).expect("sign");
    c.bench_function("token_sign", |b| b.iter(|| keys.sign(black_box(&claims))));
    c.bench_function("token_verify_signature", |b| {
        b.iter(|| {
            keys.verify(black_box(&token), "http://tessera.bench", 30, None, now)
                .expect("valid")
        })
    });
}

/// What a token seen before costs instead of a signature check: the SHA-256
/// digest of its text and a cache look-up. (The access record has no
/// encoding left to measure: Redis keeps a presence marker, see BENCHMARKS.md.)
fn cache(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = key_set(dir.path());
    let now = chrono::Utc::now();
    let claims = claims(now.timestamp());
    let token = keys.sign(&claims).expect("sign");
    let cache = VerifiedCache::new(50_000);
    let now_ms = now.timestamp_millis();
    cache.insert(
        VerifiedCache::digest(&token),
        Arc::new(claims),
        now_ms + 3_600_000,
        now_ms,
    );
    c.bench_function("cache_digest_and_hit", |b| {
        b.iter(|| {
            let d = VerifiedCache::digest(black_box(&token));
            cache.get(&d, now_ms).expect("hit")
        })
    });
}

/// One client-secret check (Argon2id with `tessera hash-secret`'s
/// parameters): the cost every uncached authentication pays, and the figure
/// the failed-authentication limits in config.yaml are sized from.
fn secret_hash(c: &mut Criterion) {
    let hash = tessera::domain::SecretHash::generate("bench-secret-0123456789").unwrap();
    c.bench_function("secret_hash_matches", |b| {
        b.iter(|| hash.matches(black_box("wrong-secret-0123456789")))
    });
}

criterion_group!(benches, raw_ed25519, tokens, cache, secret_hash);
criterion_main!(benches);
