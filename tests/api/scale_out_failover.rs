//! Failover under a steady verify load: a Redis Cluster primary, and
//! separately a Sentinel primary, is SIGKILLed. Requests meanwhile get 503
//! within the timeout (never a 200 for a revoked token, never a hang), and
//! service returns by itself once a replica is promoted. The measured
//! unavailability window is printed (`cargo test -- --nocapture`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Backend, SCALE_OUT_TIMEOUT_MS, TestApp};
use crate::redis_cluster::{RedisCluster, RedisSentinel};

const SUB: &str = "failover-user";

/// No answer may take longer: the Redis bound plus slack for a busy machine.
fn answer_bound() -> Duration {
    Duration::from_millis(SCALE_OUT_TIMEOUT_MS) + Duration::from_secs(2)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Live,
    Revoked,
    /// Live, of a user whose slot lives on a primary that stays up.
    Elsewhere,
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    /// When the answer came, from the start of the load.
    at: Duration,
    took: Duration,
    kind: Kind,
    /// HTTP status, or 0 when the request itself failed (a hang).
    status: u16,
}

/// Issues `n` live tokens and `n` revoked ones (revoked through the app).
async fn tokens(app: &TestApp, n: usize) -> (Vec<String>, Vec<String>) {
    let mut live = Vec::new();
    let mut revoked = Vec::new();
    for _ in 0..n {
        live.push(app.access_token(SUB).await);
        let t = app.access_token(SUB).await;
        assert_eq!(app.revoke(&t).await.status(), StatusCode::OK);
        assert_eq!(app.verify_get(&t).await.status(), StatusCode::UNAUTHORIZED);
        revoked.push(t);
    }
    (live, revoked)
}

/// Four clients verifying live and revoked tokens in turn until `stop`.
fn start_load(
    app: &TestApp,
    live: Vec<String>,
    revoked: Vec<String>,
    elsewhere: Vec<String>,
    stop: Arc<Mutex<bool>>,
    probes: Arc<Mutex<Vec<Probe>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let start = Instant::now();
    let work: Arc<Vec<(Kind, String)>> = Arc::new(
        live.into_iter()
            .map(|t| (Kind::Live, t))
            .chain(revoked.into_iter().map(|t| (Kind::Revoked, t)))
            .chain(elsewhere.into_iter().map(|t| (Kind::Elsewhere, t)))
            .collect(),
    );
    (0..4)
        .map(|w| {
            let (api, url) = (app.api.clone(), app.url("/token/verify"));
            let (work, stop, probes) = (work.clone(), stop.clone(), probes.clone());
            tokio::spawn(async move {
                let mut i = w;
                while !*stop.lock().unwrap() {
                    let (kind, token) = &work[i % work.len()];
                    i += 1;
                    let sent = Instant::now();
                    let res = api
                        .get(&url)
                        .bearer_auth(token)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    let status = res.map(|r| r.status().as_u16()).unwrap_or(0);
                    probes.lock().unwrap().push(Probe {
                        at: start.elapsed(),
                        took: sent.elapsed(),
                        kind: *kind,
                        status,
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// Runs the load, calls `kill` after a second, waits for recovery, and
/// checks every answer; returns the unavailability window.
async fn kill_under_load(
    label: &str,
    app: &TestApp,
    elsewhere: Vec<String>,
    kill: impl FnOnce(),
) -> Duration {
    let (live, revoked) = tokens(app, 4).await;
    let stop = Arc::new(Mutex::new(false));
    let probes = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let tasks = start_load(app, live, revoked, elsewhere, stop.clone(), probes.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed_at = started.elapsed();
    tokio::task::block_in_place(kill);

    // Recovered: a 503 was seen, then live tokens answer 200 for a second.
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let p = probes.lock().unwrap().clone();
        let last_503 = p.iter().rev().find(|p| p.status == 503).map(|p| p.at);
        let recovered = last_503.is_some_and(|t| {
            let after: Vec<_> = p.iter().filter(|p| p.at > t).collect();
            after.iter().filter(|p| p.kind == Kind::Live).count() >= 20
                && after
                    .last()
                    .is_some_and(|l| l.at > t + Duration::from_secs(1))
        });
        if recovered {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: service did not return within 45 s of the kill"
        );
    }
    *stop.lock().unwrap() = true;
    for t in tasks {
        t.await.unwrap();
    }
    let probes = probes.lock().unwrap().clone();

    for p in &probes {
        assert_ne!(p.status, 0, "{label}: a request failed or hung: {p:?}");
        assert!(
            p.took < answer_bound(),
            "{label}: an answer took past the Redis timeout plus slack: {p:?}"
        );
        match p.kind {
            Kind::Revoked => assert!(
                p.status == 401 || p.status == 503,
                "{label}: a revoked token got {}: {p:?}",
                p.status
            ),
            Kind::Live | Kind::Elsewhere => assert!(
                p.status == 200 || p.status == 503,
                "{label}: a live token got {} (a lost record): {p:?}",
                p.status
            ),
        }
    }
    let unavailable: Vec<&Probe> = probes.iter().filter(|p| p.status == 503).collect();
    let first = unavailable.first().expect("no 503 during the failover").at;
    let last = unavailable.last().unwrap().at;
    let back = probes
        .iter()
        .find(|p| p.at > last && p.kind == Kind::Live && p.status == 200)
        .expect("service came back")
        .at;
    let window = back.saturating_sub(killed_at);
    let elsewhere: Vec<&Probe> = probes
        .iter()
        .filter(|p| p.kind == Kind::Elsewhere)
        .collect();
    if !elsewhere.is_empty() {
        println!(
            "{label} failover: users on the surviving primaries: {} requests, {} answered 503",
            elsewhere.len(),
            elsewhere.iter().filter(|p| p.status == 503).count()
        );
    }
    println!(
        "{label} failover: {} requests, {} answered 503; first 503 {:?} after the kill, \
         service back {:?} after the kill (503 span {:?}); slowest answer {:?}",
        probes.len(),
        unavailable.len(),
        first.saturating_sub(killed_at),
        window,
        last - first,
        probes.iter().map(|p| p.took).max().unwrap_or_default(),
    );
    window
}

/// With `wait_replicas: 1`, a revocation after the failover (the promoted
/// replica has no replica of its own) is answered 503, yet stands.
async fn revocation_without_replicas_is_refused_but_stands(app: &TestApp) {
    let t = app.access_token(SUB).await;
    let res = app.revoke(&t).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.verify_get(&t).await.status(), StatusCode::UNAUTHORIZED);
}

/// Revoke latency with and without `WAIT`, same cluster, same run.
async fn print_wait_cost(label: &str, with: &TestApp, without: &TestApp) {
    async fn revoke_times(app: &TestApp, n: usize) -> Vec<Duration> {
        let mut out = Vec::new();
        for _ in 0..n {
            let t = app.access_token("wait-cost").await;
            let started = Instant::now();
            assert_eq!(app.revoke(&t).await.status(), StatusCode::OK);
            out.push(started.elapsed());
        }
        out.sort();
        out
    }
    let n = 60;
    let plain = revoke_times(without, n).await;
    let waited = revoke_times(with, n).await;
    let median = |v: &[Duration]| v[v.len() / 2];
    let p90 = |v: &[Duration]| v[v.len() * 9 / 10];
    println!(
        "{label} revoke latency over {n} revocations: without WAIT median {:?} p90 {:?}; \
         with wait_replicas=1 median {:?} p90 {:?} (x{:.2} median)",
        median(&plain),
        p90(&plain),
        median(&waited),
        p90(&waited),
        median(&waited).as_secs_f64() / median(&plain).as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_primary_failover_answers_503_then_recovers() {
    let mut cluster = tokio::task::block_in_place(RedisCluster::start);
    let app = TestApp::builder(Backend::Cluster)
        .urls(cluster.urls())
        .configure(|s| s.redis.wait_replicas = 1)
        .spawn()
        .await;
    let plain = TestApp::builder(Backend::Cluster).peer(&app).spawn().await;
    print_wait_cost("cluster", &app, &plain).await;

    let victim = cluster.primary_for(&format!("{}{{{SUB}}}:at:x", app.prefix()));
    let other = (0..)
        .map(|i| format!("elsewhere-{i}"))
        .find(|sub| cluster.primary_for(&format!("{{{sub}}}")) != victim)
        .expect("a user on another primary");
    let mut elsewhere = Vec::new();
    for _ in 0..4 {
        elsewhere.push(app.access_token(&other).await);
    }
    let window = kill_under_load("cluster", &app, elsewhere, || cluster.nodes[victim].kill()).await;
    assert!(window < Duration::from_secs(45));
    revocation_without_replicas_is_refused_but_stands(&app).await;
    // Without WAIT, revocations work as soon as the replica is promoted.
    let t = plain.access_token(SUB).await;
    assert_eq!(plain.revoke(&t).await.status(), StatusCode::OK);
    assert_eq!(app.verify_get(&t).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_primary_failover_answers_503_then_recovers() {
    let mut group = tokio::task::block_in_place(RedisSentinel::start);
    let app = TestApp::builder(Backend::Sentinel)
        .urls(group.urls())
        .configure(|s| s.redis.wait_replicas = 1)
        .spawn()
        .await;
    let plain = TestApp::builder(Backend::Sentinel).peer(&app).spawn().await;
    print_wait_cost("sentinel", &app, &plain).await;

    let window = kill_under_load("sentinel", &app, Vec::new(), || group.primary.kill()).await;
    assert!(window < Duration::from_secs(45));
    revocation_without_replicas_is_refused_but_stands(&app).await;
    let t = plain.access_token(SUB).await;
    assert_eq!(plain.revoke(&t).await.status(), StatusCode::OK);
    assert_eq!(app.verify_get(&t).await.status(), StatusCode::UNAUTHORIZED);
}

/// A planned switchover (`SENTINEL FAILOVER`): the old primary lives on as
/// a replica, so connections to it must not keep serving (or failing)
/// requests; every write lands on the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_switchover_moves_the_instance_to_the_new_primary() {
    let group = tokio::task::block_in_place(RedisSentinel::start);
    let app = TestApp::builder(Backend::Sentinel)
        .urls(group.urls())
        .spawn()
        .await;
    let (live, revoked) = tokens(&app, 4).await;
    let stop = Arc::new(Mutex::new(false));
    let probes = Arc::new(Mutex::new(Vec::new()));
    let tasks = start_load(
        &app,
        live.clone(),
        revoked,
        Vec::new(),
        stop.clone(),
        probes.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let old = group.primary.port;
    tokio::task::block_in_place(|| {
        let mut c = group.sentinels[0].connection().expect("sentinel");
        let _: () = deadpool_redis::redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(crate::redis_cluster::MASTER_NAME)
            .query(&mut c)
            .expect("SENTINEL FAILOVER");
        crate::redis_cluster::wait_until("the switchover", Duration::from_secs(30), || {
            let addr: Vec<String> = deadpool_redis::redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(crate::redis_cluster::MASTER_NAME)
                .query(&mut c)
                .unwrap_or_default();
            addr.get(1).is_some_and(|p| p != &old.to_string())
        });
    });
    // Writes reach the new primary (a demoted connection would say READONLY).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = app.issue(serde_json::json!({ "sub": SUB })).await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "writes never reached the new primary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = app.access_token(SUB).await;
    assert_eq!(app.revoke(&t).await.status(), StatusCode::OK);
    assert_eq!(app.verify_get(&t).await.status(), StatusCode::UNAUTHORIZED);
    for t in &live {
        assert_eq!(app.verify_get(t).await.status(), StatusCode::OK);
    }
    *stop.lock().unwrap() = true;
    for t in tasks {
        t.await.unwrap();
    }
    let probes = probes.lock().unwrap().clone();
    let unavailable = probes.iter().filter(|p| p.status == 503).count();
    for p in &probes {
        assert!(
            p.status != 0 && p.took < Duration::from_secs(2),
            "hang: {p:?}"
        );
        if p.kind == Kind::Revoked {
            assert_ne!(p.status, 200, "a revoked token verified: {p:?}");
        }
    }
    println!(
        "sentinel switchover: {} requests, {unavailable} answered 503",
        probes.len()
    );
}
