//! Revocations survive a Redis crash with the persistence docs/deploy.md
//! recommends: AOF with `appendfsync always` (every write is on disk
//! before Redis answers it, so before Tessera answers the caller).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestApp, assert_revoked};
use crate::redis_server::RedisServer;

/// The setting docs/deploy.md recommends ("Redis persistence").
const RECOMMENDED: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
];

/// Issue two tokens, revoke one (200), `kill -9` redis-server right away,
/// start it again from the same dir (its AOF) on the same port: the revoked
/// token stays revoked and the other, never revoked, is still live, which
/// shows the AOF was replayed (an empty Redis would refuse both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_survives_kill_9_of_redis_with_appendfsync_always() {
    let redis = Arc::new(RedisServer::start_with(RECOMMENDED));
    let app = TestApp::builder(Backend::Redis)
        .redis_server(redis.clone())
        .spawn()
        .await;
    let kept = app.access_token("durable-kept").await;
    let revoked = app.access_token("durable-revoked").await;
    assert_eq!(app.verify_get(&kept).await.status(), 200);
    assert_eq!(app.verify_get(&revoked).await.status(), 200);
    assert_eq!(app.revoke(&revoked).await.status(), 200, "revoke answered");

    redis.crash();
    redis.start_again();
    let fsync: Vec<String> = deadpool_redis::redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query(&mut redis.connection())
        .expect("CONFIG GET");
    assert_eq!(fsync, ["appendfsync", "always"], "restarted as recommended");
    let restarted = Instant::now();
    let res = settled_verify(&app, &kept).await;
    eprintln!(
        "kill -9 redis-server (appendfsync always): store answering again {:?} after restart",
        restarted.elapsed()
    );
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(
        status, 200,
        "the never-revoked token is gone after the restart ({body}): the AOF \
         was not replayed (no persistence?), so this test proves nothing about revocations"
    );
    assert_revoked(settled_verify(&app, &revoked).await).await;
}

/// Verifies `token` once the app reaches the restarted Redis: a `503`
/// (each worker's connection reconnects on its own) is retried for up to
/// 10 s; any other answer is returned.
async fn settled_verify(app: &TestApp, token: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.verify_get(token).await;
        if res.status() != 503 {
            return res;
        }
        assert!(
            Instant::now() < deadline,
            "Tessera did not reconnect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
