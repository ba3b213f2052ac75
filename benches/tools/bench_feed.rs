//! The revocation feed under fan-out: SUBSCRIBERS clients follow
//! `GET /token/revocations` on one instance; REVOCATIONS tokens are issued
//! and revoked one after another; for each, the time from the revoke's
//! answer to each subscriber's receipt of its event. Also Tessera's RSS
//! before and after the subscribers connect (per-subscriber memory).
//!
//! Usage: `bench_feed BASE_URL CLIENT SECRET SUBSCRIBERS REVOCATIONS TESSERA_PID`
//! prints one JSON object.
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Arrivals = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

fn rss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Follows the feed; records each token event's arrival; signals `ready`
/// at the first heartbeat (the end of the replay).
async fn subscribe(
    http: reqwest::Client,
    url: String,
    auth: (String, String),
    arrivals: Arrivals,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let mut res = http
        .get(&url)
        .basic_auth(&auth.0, Some(&auth.1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "feed subscription");
    let mut buf = String::new();
    let mut signalled = false;
    while let Ok(Some(chunk)) = res.chunk().await {
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.contains("event: heartbeat") && !signalled {
                signalled = true;
                ready.send(()).await.unwrap();
            }
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                && block.contains("event: token")
            {
                let v: Value = serde_json::from_str(data).unwrap();
                let jti = v["jti"].as_str().unwrap().to_owned();
                arrivals
                    .lock()
                    .unwrap()
                    .entry(jti)
                    .or_default()
                    .push(Instant::now());
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, client, secret, subscribers, revocations, pid] = args.as_slice() else {
        return Err(
            "usage: bench_feed BASE_URL CLIENT SECRET SUBSCRIBERS REVOCATIONS TESSERA_PID".into(),
        );
    };
    let subscribers: usize = subscribers.parse()?;
    let revocations: usize = revocations.parse()?;
    let rss_before = rss_kb(pid);
    let arrivals: Arrivals = Arc::default();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(subscribers);
    let url = format!("{base}/token/revocations");
    for _ in 0..subscribers {
        // One connection each, as separate services would have.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        tokio::spawn(subscribe(
            http,
            url.clone(),
            (client.clone(), secret.clone()),
            arrivals.clone(),
            ready_tx.clone(),
        ));
    }
    let connect_started = Instant::now();
    for _ in 0..subscribers {
        tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await?
            .ok_or("a subscriber ended")?;
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_subscribed = rss_kb(pid);

    let http = reqwest::Client::new();
    let mut to_all = Vec::new();
    let mut each = Vec::new();
    let mut missing = 0usize;
    for i in 0..revocations {
        let v: Value = http
            .post(format!("{base}/token/issue"))
            .basic_auth(client, Some(secret))
            .json(&json!({"sub": format!("feed-{i}")}))
            .send()
            .await?
            .json()
            .await?;
        let token = v["access_token"].as_str().ok_or("issue failed")?.to_owned();
        let payload = token.split('.').nth(1).ok_or("not a JWT")?;
        use base64::Engine;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?,
        )?;
        let jti = claims["jti"].as_str().ok_or("no jti")?.to_owned();
        let res = http
            .post(format!("{base}/token/revoke"))
            .basic_auth(client, Some(secret))
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        let answered = Instant::now();
        assert_eq!(res.status(), 200);
        let deadline = answered + Duration::from_secs(5);
        loop {
            let n = arrivals.lock().unwrap().get(&jti).map_or(0, Vec::len);
            if n >= subscribers || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let got = arrivals.lock().unwrap().remove(&jti).unwrap_or_default();
        missing += subscribers - got.len();
        let ms: Vec<f64> = got
            .iter()
            .map(|t| t.saturating_duration_since(answered).as_secs_f64() * 1000.0)
            .collect();
        if let Some(last) = ms.iter().cloned().reduce(f64::max) {
            to_all.push(last);
        }
        each.extend(ms);
    }
    to_all.sort_by(f64::total_cmp);
    each.sort_by(f64::total_cmp);
    let out = json!({
        "subscribers": subscribers,
        "revocations": revocations,
        "connect_all_secs": connect_secs,
        "rss_kb_before": rss_before,
        "rss_kb_subscribed": rss_subscribed,
        "rss_kb_per_subscriber": (rss_subscribed as f64 - rss_before as f64) / subscribers as f64,
        "deliveries_missing": missing,
        "to_every_subscriber_ms": {"p50": percentile(&to_all, 0.5), "p99": percentile(&to_all, 0.99), "max": to_all.last()},
        "to_one_subscriber_ms": {"p50": percentile(&each, 0.5), "p99": percentile(&each, 0.99)},
    });
    println!("{out}");
    std::process::exit(0);
}
