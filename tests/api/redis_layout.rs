//! What Tessera leaves in Redis: keys, TTLs, and no token text.

use deadpool_redis::redis;
use serde_json::{Value, json};

use crate::helpers::{Backend, claims_of, spawn_app};

fn keys(app: &crate::helpers::TestApp) -> Vec<String> {
    let mut conn = app.redis().connection();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.prefix()))
        .query(&mut conn)
        .unwrap();
    keys.sort();
    keys
}

/// The Redis key of an access token: the first 16 bytes of the SHA-256 of
/// its compact form, base64url (22 characters).
fn access_key(app: &crate::helpers::TestApp, sub: &str, token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let part = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(part.len(), 22);
    format!("{}{{{sub}}}:at:{part}", app.prefix())
}

#[tokio::test]
async fn the_access_record_ttl_matches_the_token_exp() {
    let app = spawn_app(Backend::Redis).await;
    let v = app.issue_ok(json!({"sub": "user-42", "ttl": 600})).await;
    let token = v["access_token"].as_str().unwrap();
    let c = claims_of(token);
    let key = access_key(&app, "user-42", token);
    let pttl = app.pttl(&key);
    let exp_ms = c["exp"].as_i64().unwrap() * 1000;
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(pttl > 0, "record {key} has no TTL ({pttl})");
    assert!(
        (exp_ms - now_ms - pttl).abs() < 2000,
        "PTTL {pttl} vs exp in {} ms",
        exp_ms - now_ms
    );
}

#[tokio::test]
async fn keys_live_under_the_prefix_and_the_user_hash_tag() {
    let app = spawn_app(Backend::Redis).await;
    app.issue_ok(json!({"sub": "alice"})).await;
    app.issue_ok(json!({"sub": "alice", "refresh": true})).await;
    let keys = keys(&app);
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(
            k.starts_with(&format!("{}{{alice}}:", app.prefix())),
            "stray key {k}"
        );
    }
}

#[tokio::test]
async fn redis_never_holds_token_text() {
    let app = spawn_app(Backend::Redis).await;
    let v = app.issue_ok(json!({"sub": "bob", "refresh": true})).await;
    let access = v["access_token"].as_str().unwrap();
    let refresh = v["refresh_token"].as_str().unwrap();
    let secret_part = refresh.rsplit('.').next().unwrap();
    let signature = access.rsplit('.').next().unwrap();
    // A successor is derived from its predecessor and the session's seed:
    // neither it nor anything that yields it is stored.
    let res = app.refresh(refresh).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.unwrap();
    let next = next["refresh_token"].as_str().unwrap().to_owned();
    let next_secret = next.rsplit('.').next().unwrap();
    let mut conn = app.redis().connection();
    let dump: String = redis::cmd("EVAL")
        .arg("local out = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do local t = redis.call('TYPE', k).ok if t == 'string' then out[#out+1] = redis.call('GET', k) elseif t == 'hash' then for _, v in ipairs(redis.call('HGETALL', k)) do out[#out+1] = v end elseif t == 'zset' then for _, v in ipairs(redis.call('ZRANGE', k, 0, -1)) do out[#out+1] = v end end end return table.concat(out, '|')")
        .arg(0)
        .arg(format!("{}*", app.prefix()))
        .query(&mut conn)
        .unwrap();
    assert!(!dump.is_empty());
    assert!(!dump.contains(signature), "access token signature stored");
    assert!(!dump.contains(secret_part), "refresh secret stored");
    assert!(!dump.contains(refresh), "refresh token stored");
    assert!(!dump.contains(next_secret), "successor secret stored");
}

#[tokio::test]
async fn the_access_record_is_only_a_presence_marker() {
    // Everything else verify needs is in the signed token: keeping it out
    // of Redis is what holds a live token under 200 bytes there.
    let app = spawn_app(Backend::Redis).await;
    let v = app
        .issue_ok(json!({"sub": "user-42", "refresh": false}))
        .await;
    let key = access_key(&app, "user-42", v["access_token"].as_str().unwrap());
    let mut conn = app.redis().connection();
    let value: String = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    assert_eq!(value, "1");
}
