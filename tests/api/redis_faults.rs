//! Redis going away: fail closed with 503 within the timeout, recover alone.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Backend, assert_error, spawn_app};

/// The configured `redis.timeout_ms` in the test config, plus slack for a
/// loaded 2-core machine.
const BOUND: Duration = Duration::from_millis(300 + 1200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_gives_503_then_service_recovers_without_restart() {
    let mut app = spawn_app(Backend::Redis).await;
    let token = app.access_token("u").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);

    app.redis.as_mut().unwrap().stop();
    let started = Instant::now();
    let res = app.verify_get(&token).await;
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 503, "temporarily_unavailable").await;
    assert_error(app.get("/readyz").await, 503, "temporarily_unavailable").await;
    let res = app.issue(json!({"sub": "u"})).await;
    assert_error(res, 503, "temporarily_unavailable").await;
    let res = app.revoke(&token).await;
    assert_error(res, 503, "temporarily_unavailable").await;

    app.redis.as_mut().unwrap().restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The restarted Redis is empty: the old token's record is gone, so it
    // fails (closed); new tokens work.
    assert_eq!(app.verify_get(&token).await.status(), 401);
    let fresh = app.access_token("u").await;
    assert_eq!(app.verify_get(&fresh).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_gives_503_within_the_timeout() {
    let app = spawn_app(Backend::Redis).await;
    let token = app.access_token("u").await;
    app.redis.as_ref().unwrap().pause();
    let started = Instant::now();
    let res = app.verify_get(&token).await;
    let took = started.elapsed();
    app.redis.as_ref().unwrap().resume();
    assert!(took < BOUND, "took {took:?}");
    assert_error(res, 503, "temporarily_unavailable").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.verify_get(&token).await.status() != 200 {
        assert!(Instant::now() < deadline, "did not recover after resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
