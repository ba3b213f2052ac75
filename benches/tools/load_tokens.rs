//! Fills a Redis with live Tessera records, pipelined, not through HTTP,
//! for `scripts/bench-growth.sh`. Key names come from the store's own
//! `Layout`, session hashes from `SessionRecord::to_fields`, access values
//! are `store::LIVE`: the records are the service's exact format (verify,
//! listing and logout everywhere treat them as their own).
//!
//! Usage (prints one JSON line: records written, seconds):
//!   load_tokens REDIS_URL PREFIX fill FROM TO
//!       stand-alone access tokens FROM..TO, ten per user `fill-<i/10>`
//!   load_tokens REDIS_URL PREFIX tokens SUB COUNT
//!       COUNT stand-alone access tokens of SUB
//!   load_tokens REDIS_URL PREFIX sessions SUB COUNT
//!       COUNT sessions of SUB, each with its first access token
//!   load_tokens REDIS_URL - slowlog-reset
//!       log every command from now on (threshold 0) and empty the log
//!   load_tokens REDIS_URL - slowlog-max
//!       the longest command logged since (µs, Redis's own timing)
#![allow(clippy::unwrap_used, clippy::pedantic)] // benchmark code: failing loudly is the point

use std::time::Instant;

use deadpool_redis::redis;
use tessera::domain::hex::to_hex;
use tessera::domain::{RotationSeed, Sid, TokenKey};
use tessera::store::redis::Layout;
use tessera::store::{LIVE, SessionRecord};
use tessera::token::VerifiedCache;

/// Records per pipeline.
const BATCH: usize = 2_000;
/// Connections writing at once.
const WRITERS: usize = 2;
/// Every record lives an hour: long enough for any run.
const LIFE_MS: i64 = 3_600_000;

fn key(seed: &str, i: usize) -> TokenKey {
    TokenKey::from_sha256(&VerifiedCache::digest(&format!("{seed}-{i}")))
}

/// The access record of `k`, live for `LIFE_MS` (the record both
/// `put_access.lua` and `create_session.lua` write).
fn access_record(p: &mut redis::Pipeline, l: &Layout, sub: &str, k: &TokenKey) {
    p.cmd("SET")
        .arg(l.access(sub, k))
        .arg(LIVE)
        .arg("PX")
        .arg(LIFE_MS)
        .ignore();
}

/// Adds stand-alone access token `i` of `sub` (what `put_access.lua` writes).
fn standalone(p: &mut redis::Pipeline, l: &Layout, sub: &str, k: &TokenKey, exp_ms: i64) {
    let ats = l.standalone(sub);
    access_record(p, l, sub, k);
    p.cmd("ZADD")
        .arg(&ats)
        .arg(exp_ms)
        .arg(k.key_part())
        .ignore();
    p.cmd("PEXPIREAT").arg(&ats).arg(exp_ms).ignore();
}

/// Adds a session of `sub` with its first access token (what
/// `create_session.lua` writes, generation 1).
fn session(p: &mut redis::Pipeline, l: &Layout, sub: &str, k: &TokenKey, now_ms: i64, i: usize) {
    let now = now_ms / 1000;
    // Distinct scores, as sessions created a millisecond apart have.
    let score = now_ms + LIFE_MS + i as i64;
    let rec = SessionRecord {
        sid: Sid::new_random(),
        sub: sub.to_owned(),
        client_id: "bench".into(),
        scope: "read write".into(),
        aud: "api".into(),
        claims: serde_json::Map::new(),
        created: now,
        refreshed: now,
        exp: score / 1000,
        refresh: to_hex(&VerifiedCache::digest(&format!("rt-{i}-{now_ms}"))),
        previous: Vec::new(),
        seed: Some(RotationSeed(VerifiedCache::digest(&format!(
            "k-{i}-{now_ms}"
        )))),
    };
    let fam = l.family(sub, &rec.sid);
    let hset = p.cmd("HSET").arg(&fam);
    // No `g`: absent is generation 1 (LIVE), as create_session.lua writes it.
    hset.arg(format!("j:{}", k.key_part())).arg(rec.exp);
    for (field, value) in rec.to_fields() {
        hset.arg(field).arg(value);
    }
    hset.ignore();
    p.cmd("PEXPIREAT").arg(&fam).arg(score).ignore();
    access_record(p, l, sub, k);
    let sessions = l.sessions(sub);
    p.cmd("ZADD")
        .arg(&sessions)
        .arg(score)
        .arg(rec.sid.to_string())
        .ignore();
    p.cmd("PEXPIREAT").arg(&sessions).arg(score).ignore();
}

/// Runs `add(pipeline, i)` for every i in `from..to`, BATCH per pipeline,
/// WRITERS connections at once.
fn load(url: &str, from: usize, to: usize, add: impl Fn(&mut redis::Pipeline, usize) + Sync) {
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let add = &add;
            s.spawn(move || {
                let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut start = from + w * BATCH;
                while start < to {
                    let mut p = redis::pipe();
                    for i in start..(start + BATCH).min(to) {
                        add(&mut p, i);
                    }
                    p.query::<()>(&mut conn).unwrap();
                    start += WRITERS * BATCH;
                }
            });
        }
    });
}

/// The slow log: reset (every command logged), or its longest entry.
fn slowlog(url: &str, mode: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    if mode == "slowlog-reset" {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(0)
            .arg("slowlog-max-len")
            .arg(4096)
            .query::<()>(&mut conn)?;
        redis::cmd("SLOWLOG").arg("RESET").query::<()>(&mut conn)?;
        return Ok(());
    }
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(4096)
        .query(&mut conn)?;
    let mut longest = (0i64, String::new());
    for entry in &entries {
        let redis::Value::Array(fields) = entry else {
            continue;
        };
        let micros: i64 = redis::from_redis_value(fields[2].clone())?;
        let args: Vec<String> = redis::from_redis_value(fields[3].clone()).unwrap_or_default();
        let name = args.first().cloned().unwrap_or_default().to_uppercase();
        if micros > longest.0 && name != "SLOWLOG" {
            longest = (micros, name);
        }
    }
    println!(
        r#"{{"max_us": {}, "command": "{}", "entries": {}}}"#,
        longest.0,
        longest.1,
        entries.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load_tokens REDIS_URL PREFIX (fill FROM TO | tokens SUB COUNT | sessions SUB COUNT | slowlog-reset | slowlog-max)";
    if let [url, _, mode] = args.as_slice() {
        return slowlog(url, mode);
    }
    let [url, prefix, mode, a, b] = args.as_slice() else {
        return Err(usage.into());
    };
    let layout = Layout::new(prefix);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let seed = format!("{now_ms}");
    let started = Instant::now();
    let count = match mode.as_str() {
        "fill" => {
            let (from, to): (usize, usize) = (a.parse()?, b.parse()?);
            load(url, from, to, |p, i| {
                let sub = format!("fill-{}", i / 10);
                standalone(p, &layout, &sub, &key(&seed, i), now_ms + LIFE_MS);
            });
            to.saturating_sub(from)
        }
        "tokens" => {
            let count: usize = b.parse()?;
            load(url, 0, count, |p, i| {
                standalone(p, &layout, a, &key(&seed, i), now_ms + LIFE_MS + i as i64);
            });
            count
        }
        "sessions" => {
            let count: usize = b.parse()?;
            load(url, 0, count, |p, i| {
                session(p, &layout, a, &key(&seed, i), now_ms, i);
            });
            count
        }
        _ => return Err(usage.into()),
    };
    let secs = started.elapsed().as_secs_f64();
    println!(r#"{{"mode": "{mode}", "records": {count}, "seconds": {secs:.3}}}"#);
    Ok(())
}
