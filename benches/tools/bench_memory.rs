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
use tessera::domain::{Jkt, Jti, ProofKey, Sid, TokenKey};
use tessera::domain::{RefreshDigest, RotationSeed};
use tessera::store::redis::{RedisOptions, Topology};
use tessera::store::{
    AccessRecord, NewSession, RedisStore, RefreshGrace, RotateOutcome, Rotation, SessionRecord,
    TokenStore,
};
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

/// The store on `url`, its keys under `prefix`.
fn connect(url: &str, prefix: &str) -> Result<RedisStore, Box<dyn std::error::Error>> {
    Ok(RedisStore::connect(
        Topology::Standalone { url },
        &RedisOptions {
            key_prefix: prefix,
            pool_size: CONCURRENCY,
            timeout: Duration::from_secs(5),
            wait_replicas: 0,
        },
    )?)
}

/// A session as the service writes it (with the rotation seed every
/// session has had since seeds existed), its access tokens ending at `exp`.
fn session(sub: &str, sid: Sid, exp: i64) -> SessionRecord {
    SessionRecord {
        sid,
        sub: sub.to_owned(),
        client_id: "bench".into(),
        scope: "read write".into(),
        aud: "api".into(),
        claims: serde_json::Map::new(),
        created: exp - 3600,
        refreshed: exp - 3600,
        exp: exp + 86_400,
        refresh: String::new(),
        previous: Vec::new(),
        seed: Some(RotationSeed([9; 32])),
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
    let store = connect(url, "mem:")?;
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
            let session = session(&sub, sid, exp);
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

    // Sessions in use: 1, 3 and 8 refreshes each (the superseded digests a
    // session remembers, and an access token per refresh), after the
    // figures above and under their own prefix, by their own deltas.
    let rotated = rotated_session_bytes(url, count / 10).await?;
    let per_proof = (after_proofs - after_sessions) as f64 / count as f64;
    let per_access = (after_access - before) as f64 / count as f64;
    let per_session = (after_sessions - after_access) as f64 / count as f64;
    println!(
        "{{\"tokens\": {count}, \"users\": {users}, \"bytes_per_access_token\": {per_access:.1}, \"bytes_per_session_with_first_access_token\": {per_session:.1}, \"bytes_per_session_alone\": {:.1}, \"bytes_per_dpop_proof\": {per_proof:.1}, \"dpop_proof_ttl_secs\": 61, \"rotated_sessions\": {rotated}}}",
        per_session - per_access
    );
    Ok(())
}

/// Bytes per session in use: `n` sessions (over `n / 10` users) with their
/// first access token, then after 1, 3 and 8 refreshes each (every refresh
/// remembers the superseded digest and adds an access token, live for its
/// hour). Each figure counts the session with all its live access tokens.
async fn rotated_session_bytes(url: &str, n: usize) -> Result<String, Box<dyn std::error::Error>> {
    let users = (n / 10).max(1);
    let store = connect(url, "rot:")?;
    let exp = chrono::Utc::now().timestamp() + 3600;
    let digest = |i: usize, round: usize| {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&(i as u64).to_le_bytes());
        d[8..16].copy_from_slice(&(round as u64).to_le_bytes());
        RefreshDigest(d)
    };
    let sids: std::sync::Arc<Vec<Sid>> =
        std::sync::Arc::new((0..n).map(|_| Sid::new_random()).collect());
    let before = used_memory(url)?;
    let (s, ids) = (store.clone(), sids.clone());
    fill(n, move |i| {
        let (s, ids) = (s.clone(), ids.clone());
        async move {
            let sub = format!("user-{:05}", i % users);
            let session = session(&sub, ids[i], exp);
            s.create_session(NewSession {
                session: &session,
                refresh: &digest(i, 0),
                first_key: &new_key(),
                first_access: &access(sub.clone(), ids[i], exp),
                max_sessions: 1000,
            })
            .await
            .expect("create_session");
        }
    })
    .await;
    let mut figures = vec![format!(
        "\"0\": {:.1}",
        (used_memory(url)? - before) as f64 / n as f64
    )];
    let mut done = 0;
    for target in [1usize, 3, 8] {
        let (from, to) = (done, target);
        let (s, ids) = (store.clone(), sids.clone());
        fill(n, move |i| {
            let (s, ids) = (s.clone(), ids.clone());
            async move {
                let sub = format!("user-{:05}", i % users);
                for round in from..to {
                    let rec = access(sub.clone(), ids[i], exp);
                    let report = s
                        .rotate(Rotation {
                            sub: &sub,
                            sid: &ids[i],
                            presented: &digest(i, round),
                            next: &digest(i, round + 1),
                            key: &new_key(),
                            access: &rec,
                            now: exp - 3600,
                            grace: RefreshGrace::new(10, 1),
                        })
                        .await
                        .expect("rotate");
                    assert_eq!(report.outcome, RotateOutcome::Rotated);
                }
            }
        })
        .await;
        done = target;
        figures.push(format!(
            "\"{target}\": {:.1}",
            (used_memory(url)? - before) as f64 / n as f64
        ));
    }
    Ok(format!(
        "{{\"sessions\": {n}, \"bytes_per_session_with_live_access_tokens_after_refreshes\": {{{}}}}}",
        figures.join(", ")
    ))
}
