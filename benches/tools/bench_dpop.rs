//! DPoP verify vs plain stateful verify, interleaved, for `scripts/bench.sh`.
//!
//! Issues TOKENS access tokens of each kind through the real HTTP API:
//! plain Bearer, bound to an ES256 proof key, bound to an Ed25519 one
//! (`cnf.jkt`); then runs ROUNDS triples of rounds, plain, DPoP ES256, DPoP
//! Ed25519, each COUNT `POST /token/verify` requests
//! with CONCURRENCY in flight over keep-alive connections. Each DPoP
//! request carries its own fresh proof (made before the round's clock
//! starts: the load generator's signing is not charged to Tessera). Both
//! kinds are the same route with the verify cache on, so the difference is
//! what DPoP adds: the proof's parse, signature check and `SET NX`.
//!
//! The ceiling, in the same run: with UNCACHED_URL (a second instance on
//! the same Redis with the verify cache off), a fourth round in each
//! triple, plain verify there: one token signature check (EdDSA) and one
//! `EXISTS` per request, which is what a DPoP verify cannot go below (its
//! proof is new every time, so one signature check always remains). And
//! the raw rate of one thread verifying a proof signature in this process
//! (aws-lc-rs, ES256 and Ed25519), no HTTP at all.
//!
//! Usage: `bench_dpop BASE_URL CLIENT SECRET TOKENS COUNT ROUNDS
//! [UNCACHED_URL]` prints one JSON object.
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CONCURRENCY: usize = 64;
const HTU: &str = "https://api.bench/orders";

enum Pair {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct ProofKey {
    pair: Pair,
    header: String,
    jkt: String,
}

impl ProofKey {
    fn es256() -> ProofKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        )));
        let header = json!({"typ": "dpop+jwt", "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
        ProofKey {
            pair: Pair::Ec(pair),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            jkt,
        }
    }

    fn ed25519() -> ProofKey {
        let pair = Ed25519KeyPair::generate().unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#
        )));
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA",
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        ProofKey {
            pair: Pair::Ed(pair),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            jkt,
        }
    }

    /// Signature checks of one proof per second, one thread, for `secs`.
    fn raw_verify_rate(&self, secs: f64) -> f64 {
        let proof = self.proof("t");
        let (msg, sig) = proof.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let (alg, public): (&'static dyn VerificationAlgorithm, Vec<u8>) = match &self.pair {
            Pair::Ec(k) => (&ECDSA_P256_SHA256_FIXED, k.public_key().as_ref().to_vec()),
            Pair::Ed(k) => (&ED25519, k.public_key().as_ref().to_vec()),
        };
        let started = Instant::now();
        let mut n = 0u64;
        while started.elapsed().as_secs_f64() < secs {
            for _ in 0..100 {
                UnparsedPublicKey::new(alg, &public)
                    .verify(msg.as_bytes(), &sig)
                    .unwrap();
            }
            n += 100;
        }
        n as f64 / started.elapsed().as_secs_f64()
    }

    fn proof(&self, token: &str) -> String {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "GET", "htu": HTU,
            "iat": chrono::Utc::now().timestamp(),
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))});
        let msg = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = match &self.pair {
            Pair::Ec(k) => k
                .sign(&SystemRandom::new(), msg.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Pair::Ed(k) => k.sign(msg.as_bytes()).as_ref().to_vec(),
        };
        format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

async fn issue(http: &reqwest::Client, base: &str, auth: (&str, &str), body: Value) -> String {
    let res = http
        .post(format!("{base}/token/issue"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("issue answered {v}"))
        .to_owned()
}

/// Sends every body once, CONCURRENCY at a time; requests per second,
/// p50 and p99 in ms, and the count of non-200 answers.
async fn round(http: &reqwest::Client, url: &str, bodies: Vec<String>) -> (f64, f64, f64, usize) {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (http, url, bodies, next) =
            (http.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.spawn(async move {
            let (mut lat, mut bad) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return (lat, bad);
                };
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                if res.status() != 200 {
                    bad += 1;
                }
                let _ = res.bytes().await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        });
    }
    let (mut lat, mut bad) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (l, b) = done.unwrap();
        lat.extend(l);
        bad += b;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (bodies.len() as f64 / secs, pct(0.5), pct(0.99), bad)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (base, client, secret, tokens, count, rounds, uncached) = match args.as_slice() {
        [b, c, s, t, n, r] => (b, c, s, t, n, r, None),
        [b, c, s, t, n, r, u] => (b, c, s, t, n, r, Some(u.clone())),
        _ => {
            return Err(
                "usage: bench_dpop BASE_URL CLIENT SECRET TOKENS COUNT ROUNDS [UNCACHED_URL]"
                    .into(),
            );
        }
    };
    let (tokens, count, rounds): (usize, usize, usize) =
        (tokens.parse()?, count.parse()?, rounds.parse()?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let keys = [
        ("dpop_es256", ProofKey::es256()),
        ("dpop_ed25519", ProofKey::ed25519()),
    ];
    let auth = (client.as_str(), secret.as_str());
    let (mut plain, mut bound) = (Vec::new(), [Vec::new(), Vec::new()]);
    for i in 0..tokens {
        let sub = format!("dpop-user-{:04}", i % 1000);
        plain.push(issue(&http, base, auth, json!({"sub": sub})).await);
        for (k, (_, key)) in keys.iter().enumerate() {
            let body = json!({"sub": sub, "cnf": {"jkt": key.jkt}});
            bound[k].push(issue(&http, base, auth, body).await);
        }
    }
    let url = format!("{base}/token/verify");
    let uncached_url = uncached.map(|u| format!("{u}/token/verify"));
    let kinds = if uncached_url.is_some() { 4 } else { 3 };
    let mut out = Vec::new();
    let mut rps_of: [Vec<f64>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for r in 0..rounds {
        for (kind, rps_list) in rps_of.iter_mut().enumerate().take(kinds) {
            let bodies: Vec<String> = (0..count)
                .map(|i| match kind {
                    0 | 3 => json!({"token": plain[i % tokens]}).to_string(),
                    k => {
                        let t = &bound[k - 1][i % tokens];
                        let proof = keys[k - 1].1.proof(t);
                        json!({"token": t, "dpop": proof, "htm": "GET", "htu": HTU}).to_string()
                    }
                })
                .collect();
            let target = match (kind, &uncached_url) {
                (3, Some(u)) => u,
                _ => &url,
            };
            let (rps, p50, p99, bad) = round(&http, target, bodies).await;
            let name = match kind {
                0 => "plain",
                3 => "plain_uncached",
                k => keys[k - 1].0,
            };
            out.push(json!({"round": r, "kind": name, "rps": rps, "p50_ms": p50, "p99_ms": p99, "non_200": bad}));
            rps_list.push(rps);
        }
    }
    let raw_es = keys[0].1.raw_verify_rate(2.0);
    let raw_ed = keys[1].1.raw_verify_rate(2.0);
    let [p, es, ed, unc] = rps_of.map(|v| if v.is_empty() { f64::NAN } else { median(v) });
    let ceiling = if unc.is_nan() {
        Value::Null
    } else {
        json!({"plain_uncached_rps_median": unc, "dpop_es256_to_uncached": es / unc,
            "dpop_ed25519_to_uncached": ed / unc, "uncached_to_plain": unc / p})
    };
    println!(
        "{}",
        json!({"requests_per_round": count, "rounds": rounds, "concurrency": CONCURRENCY,
            "tokens": tokens, "plain_rps_median": p, "dpop_es256_rps_median": es,
            "dpop_ed25519_rps_median": ed, "dpop_es256_to_plain": es / p,
            "dpop_ed25519_to_plain": ed / p, "ceiling": ceiling,
            "raw_verify_per_sec_one_thread": {"es256": raw_es, "ed25519": raw_ed},
            "runs": out})
    );
    Ok(())
}
