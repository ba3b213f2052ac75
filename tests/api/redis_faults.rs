//! Redis going away: fail closed with 503 within the timeout, recover alone.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Backend, assert_error, spawn_app};

/// The configured `redis.timeout_ms` in the test config, plus slack for a
/// loaded 2-core machine.
const BOUND: Duration = Duration::from_millis(300 + 1200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_gives_503_then_service_recovers_without_restart() {
    let app = spawn_app(Backend::Redis).await;
    let token = app.access_token("u").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);

    app.redis().stop();
    let started = Instant::now();
    let res = app.verify_get(&token).await;
    let verify_503 = started.elapsed();
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 503, "temporarily_unavailable").await;
    assert_error(app.get("/readyz").await, 503, "temporarily_unavailable").await;
    let started = Instant::now();
    let res = app.issue(json!({"sub": "u"})).await;
    let issue_503 = started.elapsed();
    assert_error(res, 503, "temporarily_unavailable").await;
    let started = Instant::now();
    let res = app.revoke(&token).await;
    let revoke_503 = started.elapsed();
    assert_error(res, 503, "temporarily_unavailable").await;
    for (what, took) in [("issue", issue_503), ("revoke", revoke_503)] {
        assert!(took < BOUND, "{what} took {took:?} against a killed Redis");
    }

    app.redis().restart();
    let restarted = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "killed redis: time-to-503 verify {verify_503:?}, issue {issue_503:?}, revoke {revoke_503:?}; \
         time-to-recover after restart (readyz 200) {:?}",
        restarted.elapsed()
    );
    // The restarted Redis is empty: the old token's record is gone, so it
    // fails (closed); new tokens work.
    assert_eq!(app.verify_get(&token).await.status(), 401);
    let fresh = app.access_token("u").await;
    assert_eq!(app.verify_get(&fresh).await.status(), 200);
    // Once ready, ready on every worker: requests over new connections
    // (spread over the worker threads, each with its own shared Redis
    // connection) never meet a connection from before the restart.
    for _ in 0..8 {
        let res = reqwest::Client::new()
            .get(app.url("/token/verify"))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "a stale connection on another worker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_gives_503_within_the_timeout() {
    let app = spawn_app(Backend::Redis).await;
    let token = app.access_token("u").await;
    app.redis().pause();
    let started = Instant::now();
    let res = app.verify_get(&token).await;
    let took = started.elapsed();
    app.redis().resume();
    assert!(took < BOUND, "took {took:?}");
    assert_error(res, 503, "temporarily_unavailable").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.verify_get(&token).await.status() != 200 {
        assert!(Instant::now() < deadline, "did not recover after resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `op` against a hung Redis: 503 with Retry-After within `BOUND`.
async fn hung_503(what: &str, res: reqwest::Response, took: Duration) -> Duration {
    assert!(took < BOUND, "{what} took {took:?} against a hung Redis");
    assert!(res.headers().contains_key("retry-after"), "{what}");
    assert_error(res, 503, "temporarily_unavailable").await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_gives_503_on_verify_issue_and_revoke_then_recovers() {
    let app = spawn_app(Backend::Redis).await;
    let token = app.access_token("u").await;
    // Revoked while Redis hangs: the command may still run when it resumes,
    // so recovery is checked with the other token.
    let to_revoke = app.access_token("u").await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let refresh_token = v["refresh_token"].as_str().unwrap().to_owned();
    app.redis().pause();

    let t = Instant::now();
    let res = app.verify_get(&token).await;
    let verify = hung_503("verify", res, t.elapsed()).await;
    let t = Instant::now();
    let res = app.issue(json!({"sub": "u"})).await;
    let issue = hung_503("issue", res, t.elapsed()).await;
    let t = Instant::now();
    let res = app.revoke(&to_revoke).await;
    let revoke = hung_503("revoke", res, t.elapsed()).await;
    let t = Instant::now();
    let res = app.refresh(&refresh_token).await;
    let refresh = hung_503("refresh", res, t.elapsed()).await;
    let t = Instant::now();
    let res = app.get("/readyz").await;
    let readyz = hung_503("readyz", res, t.elapsed()).await;

    app.redis().resume();
    let resumed = Instant::now();
    let deadline = resumed + Duration::from_secs(10);
    while app.verify_get(&token).await.status() != 200 {
        assert!(Instant::now() < deadline, "did not recover after resume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = resumed.elapsed();
    eprintln!(
        "hung redis (SIGSTOP): time-to-503 verify {verify:?}, issue {issue:?}, revoke {revoke:?}, \
         refresh {refresh:?}, readyz {readyz:?}; time-to-recover after SIGCONT (verify 200) {recovered:?}"
    );
    // Nothing was lost while Redis hung: the refresh token still rotates.
    assert_eq!(app.refresh(&refresh_token).await.status(), 200);
}
