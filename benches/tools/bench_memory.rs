//! Redis bytes per live access token, per live session and per DPoP proof
//! in the replay cache, for
//! `scripts/bench.sh`: `used_memory` before and after writing COUNT records
//! straight through `RedisStore` (the same Lua scripts the service runs),
//! COUNT spread over COUNT/10 users.
//!
//! Usage: `bench_memory REDIS_URL COUNT` prints one JSON object.
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use std::time::Duration;

use deadpool_redis::redis;
use tessera::domain::RefreshDigest;
use tessera::domain::{Jkt, Jti, ProofKey, Sid, TokenKey};
use tessera::store::redis::{RedisOptions, Topology};
use tessera::store::{AccessRecord, NewSession, RedisStore, SessionRecord, TokenStore};
use tessera::token::VerifiedCache;

const CONCURRENCY: usize = 32;

/// A record key as the service derives it (the digest of a token's bytes;
/// here a random string stands in for the token).
fn new_key() -> TokenKey {
    TokenKey::from_sha256(&VerifiedCache::digest(&Jti::new_random().to_string()))
}

fn used_memory(url: &str) -> Result<i64, redis::RedisError> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let info: String = redis::cmd("INFO").arg("memory").query(&mut conn)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

fn access(sub: String, sid: Sid, exp: i64) -> AccessRecord {
    AccessRecord {
        sub,
        client_id: "bench".into(),
        sid,
        scope: "read write".into(),
        aud: "api".into(),
        claims: serde_json::Map::new(),
        exp,
    }
}

/// Writes `count` records with `write(i)`, CONCURRENCY at a time.
async fn fill<F, Fut>(count: usize, write: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let write = write.clone();
        tasks.spawn(async move {
            let mut i = t;
            while i < count {
                write(i).await;
                i += CONCURRENCY;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, count] = args.as_slice() else {
        return Err("usage: bench_memory REDIS_URL COUNT".into());
    };
    let count: usize = count.parse()?;
    let users = (count / 10).max(1);
    let store = RedisStore::connect(
        Topology::Standalone { url },
        &RedisOptions {
            key_prefix: "mem:",
            pool_size: CONCURRENCY,
            timeout: Duration::from_secs(5),
            wait_replicas: 0,
        },
    )?;
    let exp = chrono::Utc::now().timestamp() + 3600;

    let before = used_memory(url)?;
    let s = store.clone();
    fill(count, move |i| {
        let s = s.clone();
        async move {
            let rec = access(format!("user-{:05}", i % users), Sid::new_random(), exp);
            s.put_access(&new_key(), &rec).await.expect("put_access");
        }
    })
    .await;
    let after_access = used_memory(url)?;

    let s = store.clone();
    fill(count, move |i| {
        let s = s.clone();
        async move {
            let sub = format!("user-{:05}", i % users);
            let sid = Sid::new_random();
            let session = SessionRecord {
                sid,
                sub: sub.clone(),
                client_id: "bench".into(),
                scope: "read write".into(),
                aud: "api".into(),
                claims: serde_json::Map::new(),
                created: exp - 3600,
                refreshed: exp - 3600,
                exp: exp + 86_400,
                refresh: String::new(),
                previous: Vec::new(),
                seed: None,
            };
            let first = access(sub, sid, exp);
            s.create_session(NewSession {
                session: &session,
                refresh: &RefreshDigest([7; 32]),
                first_key: &new_key(),
                first_access: &first,
                max_sessions: 1000,
            })
            .await
            .expect("create_session");
        }
    })
    .await;
    let after_sessions = used_memory(url)?;

    // The DPoP replay cache: one `SET NX EX` per proof, kept for the
    // default window (`verify.dpop_iat_window_secs`, 60 s) plus one.
    let s = store.clone();
    fill(count, move |i| {
        let s = s.clone();
        async move {
            let jkt = Jkt::of_canonical_jwk(&format!("key-{}", i % 100));
            let proof = ProofKey::new(&jkt, &Jti::new_random().to_string());
            assert!(
                s.remember_proof(&format!("user-{:05}", i % users), &proof, 61)
                    .await
                    .expect("remember_proof")
            );
        }
    })
    .await;
    let after_proofs = used_memory(url)?;
    let per_proof = (after_proofs - after_sessions) as f64 / count as f64;
    let per_access = (after_access - before) as f64 / count as f64;
    let per_session = (after_sessions - after_access) as f64 / count as f64;
    println!(
        "{{\"tokens\": {count}, \"users\": {users}, \"bytes_per_access_token\": {per_access:.1}, \"bytes_per_session_with_first_access_token\": {per_session:.1}, \"bytes_per_session_alone\": {:.1}, \"bytes_per_dpop_proof\": {per_proof:.1}, \"dpop_proof_ttl_secs\": 61}}",
        per_session - per_access
    );
    Ok(())
}
