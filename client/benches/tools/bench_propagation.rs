//! Revocation propagation to a guard under load (scripts/bench-client.sh):
//! for each of N tokens, the time from the revoke's `200` to the guard's
//! first `401` for that token, polled back to back, while LOAD connections
//! keep requesting the guard with a live token. Prints one JSON object.
//!
//! usage: bench_propagation TESSERA_URL GUARD_URL CLIENT SECRET N LOAD
#![allow(clippy::unwrap_used, clippy::pedantic)] // a benchmark tool: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Ctx {
    http: reqwest::Client,
    tessera: String,
    guard: String,
    client: String,
    secret: String,
}

impl Ctx {
    async fn issue(&self, sub: &str) -> String {
        let res = self
            .http
            .post(format!("{}/token/issue", self.tessera))
            .basic_auth(&self.client, Some(&self.secret))
            .json(&json!({"sub": sub}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "issue");
        let v: Value = res.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    async fn guard_status(&self, token: &str) -> u16 {
        self.http
            .get(&self.guard)
            .bearer_auth(token)
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(
        args.len(),
        7,
        "usage: bench_propagation TESSERA_URL GUARD_URL CLIENT SECRET N LOAD"
    );
    let n: usize = args[5].parse().unwrap();
    let load: usize = args[6].parse().unwrap();
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        tessera: args[1].clone(),
        guard: args[2].clone(),
        client: args[3].clone(),
        secret: args[4].clone(),
    });

    // The guard is caught up when a fresh token gets 200.
    let live = ctx.issue("load-user").await;
    let started = Instant::now();
    while ctx.guard_status(&live).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the guard never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut loaders = Vec::new();
    for _ in 0..load {
        let (ctx, stop, served, live) = (ctx.clone(), stop.clone(), served.clone(), live.clone());
        loaders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if ctx.guard_status(&live).await == 200 {
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    let mut times_ms = Vec::with_capacity(n);
    let mut timeouts = 0;
    let mut unavailable = 0u64;
    let measuring = Instant::now();
    let served_before = served.load(Ordering::Relaxed);
    for i in 0..n {
        let token = ctx.issue(&format!("prop-{i}")).await;
        while ctx.guard_status(&token).await != 200 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let res = ctx
            .http
            .post(format!("{}/token/revoke", ctx.tessera))
            .basic_auth(&ctx.client, Some(&ctx.secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "revoke");
        let t0 = Instant::now();
        loop {
            match ctx.guard_status(&token).await {
                401 => {
                    times_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                503 => unavailable += 1,
                _ => {}
            }
            if t0.elapsed() > Duration::from_secs(5) {
                timeouts += 1;
                break;
            }
        }
    }
    let elapsed = measuring.elapsed().as_secs_f64();
    let load_rps = (served.load(Ordering::Relaxed) - served_before) as f64 / elapsed;
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    times_ms.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "revocations": n,
            "measured": times_ms.len(),
            "timeouts_5s": timeouts,
            "answers_503": unavailable,
            "p50_ms": percentile(&times_ms, 50.0),
            "p90_ms": percentile(&times_ms, 90.0),
            "p99_ms": percentile(&times_ms, 99.0),
            "max_ms": times_ms.last().copied().unwrap_or(f64::NAN),
            "load_connections": load,
            "load_rps_during": load_rps,
            "method": "revoke 200 -> first 401 of GET /whoami polled back to back on one connection"
        })
    );
}
