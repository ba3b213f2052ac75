//! Pre-issues the token pools of `scripts/bench.sh` through the real HTTP
//! API (`POST /token/issue`, with a refresh token), `CONCURRENCY` requests
//! in flight over keep-alive connections.
//!
//! Usage: `bench_tokens BASE_URL CLIENT SECRET USERS COUNT ACCESS_OUT REFRESH_OUT`
//! writes COUNT access tokens and their refresh tokens, one per line, for
//! the subjects `user-00000` … (COUNT spread over USERS users).
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, client, secret, users, count, access_out, refresh_out] = args.as_slice() else {
        return Err(
            "usage: bench_tokens BASE_URL CLIENT SECRET USERS COUNT ACCESS_OUT REFRESH_OUT".into(),
        );
    };
    let users: usize = users.parse()?;
    let count: usize = count.parse()?;
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (http, next) = (http.clone(), next.clone());
        let (url, client, secret) = (
            format!("{base}/token/issue"),
            client.clone(),
            secret.clone(),
        );
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, String>(out);
                }
                let body = json!({"sub": format!("user-{:05}", i % users), "refresh": true, "scope": "read write"});
                let res = http
                    .post(&url)
                    .basic_auth(&client, Some(&secret))
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = res.status();
                let v: Value = res.json().await.map_err(|e| e.to_string())?;
                let (Some(a), Some(r)) = (v["access_token"].as_str(), v["refresh_token"].as_str()) else {
                    return Err(format!("issue answered {status}: {v}"));
                };
                out.push((a.to_owned(), r.to_owned()));
            }
        });
    }
    let (mut access, mut refresh) = (String::new(), String::new());
    while let Some(done) = tasks.join_next().await {
        for (a, r) in done?? {
            access.push_str(&a);
            access.push('\n');
            refresh.push_str(&r);
            refresh.push('\n');
        }
    }
    std::fs::write(access_out, access)?;
    std::fs::write(refresh_out, refresh)?;
    Ok(())
}
