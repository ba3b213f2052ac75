//! Local verification in process (scripts/bench-client.sh runs it; see
//! BENCHMARKS.md): a token seen before (the verified cache, the feed check),
//! a first-seen token (the full check: shape, repeated keys, `typ`, key,
//! signature, claims) against raw `jsonwebtoken` signature verification of
//! the same tokens, the baseline the first-seen path is compared with.
//!
//! The keys and the feed come from a small in-process server (a JWKS and a
//! feed that only beats), so the verifier under test is the real one.
#![allow(clippy::unwrap_used, clippy::pedantic)] // benchmark code: failing loudly is the point

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;
use tessera_client::{Claims, Demands, Verifier};

const ISSUER: &str = "https://tessera.bench";
const TOKENS: usize = 4096;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tokens(key: &EncodingKey) -> Vec<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some("b1".into());
    let t = now();
    (0..TOKENS)
        .map(|i| {
            let claims = json!({
                "iss": ISSUER, "sub": format!("user-{i}"), "aud": "orders-api",
                "exp": t + 3600, "iat": t, "nbf": t, "jti": format!("{i:08}-0000-4000-8000-000000000000"),
                "client_id": "bench", "scope": "read write", "sid": "00000000-0000-4000-8000-000000000000"
            });
            jsonwebtoken::encode(&header, &claims, key).unwrap()
        })
        .collect()
}

async fn feed() -> HttpResponse {
    let beats = futures_util::stream::unfold(true, |first| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Some((
            Ok::<_, std::convert::Infallible>(web::Bytes::from_static(
                b"event: heartbeat\ndata: {}\n\n",
            )),
            false,
        ))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(beats)
}

/// Serves `jwks` and a beating feed; the base URL.
fn serve(jwks: serde_json::Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let jwks = jwks.clone();
        App::new()
            .route(
                "/.well-known/jwks.json",
                web::get().to(move || {
                    let jwks = jwks.clone();
                    async move { HttpResponse::Ok().json(jwks) }
                }),
            )
            .route("/token/revocations", web::get().to(feed))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let encoding = EncodingKey::from_ed_der(pkcs8.as_ref());
    let decoding = DecodingKey::from_ed_components(&x).unwrap();
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "b1", "alg": "EdDSA", "use": "sig"}]});
    let tokens = tokens(&encoding);

    let build = |cache_entries: usize| {
        rt.block_on(async {
            let base = serve(jwks.clone());
            let v = Verifier::builder(&base)
                .issuer(ISSUER)
                .jwks_url(format!("{base}/.well-known/jwks.json"))
                .cache_entries(cache_entries)
                .build()
                .await
                .unwrap();
            assert!(v.wait_until_fresh(Duration::from_secs(10)).await);
            v
        })
    };
    let cached = build(100_000);
    let uncached = build(0);
    let demands = Demands::none();
    // Runs inside the runtime (the feed task lives there); the verify
    // future completes without waiting when the keys are loaded.
    let _guard = rt.enter();

    c.bench_function("client_local_seen_before", |b| {
        let token = &tokens[0];
        cached
            .verify(token, &demands)
            .now_or_never()
            .unwrap()
            .unwrap();
        b.iter(|| {
            cached
                .verify(token, &demands)
                .now_or_never()
                .unwrap()
                .unwrap()
        });
    });
    c.bench_function("client_local_first_seen", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % TOKENS;
            uncached
                .verify(&tokens[i], &demands)
                .now_or_never()
                .unwrap()
                .unwrap()
        });
    });
    c.bench_function("raw_jsonwebtoken_verify", |b| {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % TOKENS;
            jsonwebtoken::decode::<Claims>(&tokens[i], &decoding, &validation).unwrap()
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
