//! `redis.wait_replicas` with a replica missing: writes that `WAIT` for it
//! run on connections of their own, so verifies never queue behind a
//! `WAIT` (no 503, no latency step), and a rotation that committed is
//! answered 200 even though no replica confirmed it (counted and logged).
//! Standalone and Cluster: the two topologies with shared connections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestAppBuilder};
use crate::redis_cluster::{RedisCluster, wait_until};
use crate::redis_server::RedisServer;

/// Redis timeout of the apps here: `WAIT` is bounded by half of it, at
/// most 300 ms.
const TIMEOUT_MS: u64 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_verifies_never_wait_behind_a_stalled_wait() {
    let primary = Arc::new(RedisServer::start());
    let port = primary.url().rsplit(':').next().unwrap().to_owned();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    wait_until("the replica's sync", Duration::from_secs(20), || {
        replica_link_up(&mut replica.connection())
    });
    let app = spawn(TestApp::builder(Backend::Redis).redis_server(primary.clone())).await;
    let before = measure(&app, false).await;
    replica.stop();
    check("standalone", &app, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_verifies_never_wait_behind_a_stalled_wait() {
    let mut cluster = tokio::task::block_in_place(RedisCluster::start);
    let app = spawn(TestApp::builder(Backend::Cluster).urls(cluster.urls())).await;
    let before = measure(&app, false).await;
    for node in &mut cluster.nodes {
        let role = node.query(redis::cmd("INFO").arg("replication"));
        if role.is_ok_and(|i| i.contains("role:slave")) {
            node.kill();
        }
    }
    check("cluster", &app, &before).await;
}

async fn spawn(builder: TestAppBuilder) -> Arc<TestApp> {
    let app = builder.configure(|s| {
        s.redis.wait_replicas = 1;
        s.redis.timeout_ms = TIMEOUT_MS;
    });
    Arc::new(app.spawn().await)
}

/// The shortfall of a committed rotation is a WARN line in the service
/// log (naming the session, never a token), as well as a metric.
#[test]
fn a_committed_rotation_without_its_replica_is_logged_at_warn() {
    use crate::binary::{Tessera, app_basic, dev_config, has_level, log4rs_yaml};
    let redis = RedisServer::start();
    let url = redis.url();
    let t = Tessera::start(
        |port| {
            format!(
                "{}redis: {{ url: \"{url}\", wait_replicas: 1, timeout_ms: 400 }}\n",
                dev_config(port)
            )
        },
        &log4rs_yaml("info"),
        &[("TESSERA_ENV", "dev")],
    );
    let auth = app_basic();
    let json = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = t
        .request(
            "POST",
            "/token/issue",
            &json,
            r#"{"sub":"u","refresh":true}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let rt = v["refresh_token"].as_str().unwrap();
    let body = json!({ "refresh_token": rt }).to_string();
    let (status, _, answer) = t.request("POST", "/token/refresh", &json, &body).unwrap();
    assert_eq!(status, 200, "{answer}");
    let line = t.wait_for_line("logs/tessera.log", "the shortfall", |l| {
        l.contains("not confirmed by replicas")
    });
    assert!(has_level(&line, "WARN"), "{line}");
    let next: Value = serde_json::from_str(&answer).unwrap();
    for token in [rt, next["refresh_token"].as_str().unwrap()] {
        assert!(!line.contains(token.rsplit('.').next().unwrap()), "{line}");
    }
}

fn replica_link_up(c: &mut redis::Connection) -> bool {
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg("replication").query(c);
    info.is_ok_and(|i| i.contains("master_link_status:up"))
}

/// Verify latencies (sorted) and the statuses that were not 200.
struct Load {
    latencies: Vec<Duration>,
    failures: Vec<u16>,
}

impl Load {
    fn p99(&self) -> Duration {
        self.latencies[self.latencies.len() * 99 / 100]
    }
    fn max(&self) -> Duration {
        *self.latencies.last().unwrap()
    }
}

/// Four verifiers for 3 s; with `revoking`, two revokers alongside (each
/// revoke stalls in `WAIT` for half the timeout when a replica is missing).
async fn measure(app: &Arc<TestApp>, revoking: bool) -> Load {
    let tokens: Vec<String> = futures_util::future::join_all((0..4).map(|i| {
        let app = app.clone();
        async move { app.access_token(&format!("verifier-{i}")).await }
    }))
    .await;
    let load = Arc::new(Mutex::new(Load {
        latencies: Vec::new(),
        failures: Vec::new(),
    }));
    let until = Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for token in tokens {
        let (app, load) = (app.clone(), load.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let started = Instant::now();
                let status = app.verify_get(&token).await.status();
                let mut l = load.lock().unwrap();
                l.latencies.push(started.elapsed());
                if status != StatusCode::OK {
                    l.failures.push(status.as_u16());
                }
            }
        }));
    }
    let revokes = Arc::new(Mutex::new(Vec::new()));
    for i in 0..usize::from(revoking) * 2 {
        let (app, revokes) = (app.clone(), revokes.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let t = app.access_token(&format!("revoker-{i}")).await;
                let status = app.revoke(&t).await.status();
                revokes.lock().unwrap().push(status.as_u16());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    if revoking {
        let revokes = revokes.lock().unwrap();
        assert!(
            revokes.len() >= 2 && revokes.iter().all(|s| *s == 503),
            "revocations without their replica answer 503: {revokes:?}"
        );
    }
    let mut load = Arc::try_unwrap(load).ok().unwrap().into_inner().unwrap();
    load.latencies.sort();
    load
}

async fn check(label: &str, app: &Arc<TestApp>, before: &Load) {
    let during = measure(app, true).await;
    println!(
        "{label}: verify p99 {:?} (max {:?}, {} verifies) with every replica up and no revokes; \
         p99 {:?} (max {:?}, {} verifies) with the replica stopped and revokes stalling in WAIT for 300 ms",
        before.p99(),
        before.max(),
        before.latencies.len(),
        during.p99(),
        during.max(),
        during.latencies.len(),
    );
    assert_eq!(before.failures, Vec::<u16>::new());
    assert_eq!(during.failures, Vec::<u16>::new(), "verifies failed");
    // Behind a stalled WAIT a verify waits out the rest of it (up to the
    // 300 ms WAIT plus Redis's 100 ms timeout tick, seen when WAIT shared
    // the verifies' connection); the margin leaves room for a loaded machine.
    let stall = Duration::from_millis(300);
    assert!(
        during.max() < stall * 3 / 4,
        "a verify waited {:?}, near the {stall:?} WAIT stall",
        during.max()
    );

    // A rotation that no replica confirmed still answers 200 with a pair
    // that works; the shortfall is counted.
    let v: Value = app
        .issue_ok(json!({"sub": "rotator", "refresh": true}))
        .await;
    let res = app.refresh(v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK, "a committed rotation");
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        app.verify_get(v["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    let res = app.refresh(v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK, "its successor works");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tessera_redis_replication_shortfall_total{operation="refresh"} 2"#),
        "{metrics}"
    );
}
