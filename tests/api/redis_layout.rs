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
    // Session hashes hold raw digests: the dump is bytes, searched as text.
    let dump: Vec<u8> = redis::cmd("EVAL")
        .arg("local out = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do local t = redis.call('TYPE', k).ok if t == 'string' then out[#out+1] = redis.call('GET', k) elseif t == 'hash' then for _, v in ipairs(redis.call('HGETALL', k)) do out[#out+1] = v end elseif t == 'zset' then for _, v in ipairs(redis.call('ZRANGE', k, 0, -1)) do out[#out+1] = v end end end return table.concat(out, '|')")
        .arg(0)
        .arg(format!("{}*", app.prefix()))
        .query(&mut conn)
        .unwrap();
    let dump = String::from_utf8_lossy(&dump);
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

/// The one session hash of `sub`.
fn family_key(app: &crate::helpers::TestApp, sub: &str) -> String {
    let fams: Vec<String> = keys(app)
        .into_iter()
        .filter(|k| k.starts_with(&format!("{}{{{sub}}}:fam:", app.prefix())))
        .collect();
    assert_eq!(fams.len(), 1, "{fams:?}");
    fams[0].clone()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn refreshed(app: &crate::helpers::TestApp, token: &str) -> String {
    let res = app.refresh(token).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refreshed_session_stays_in_the_compact_encoding() {
    // Every value within 64 bytes keeps the hash a listpack; one over it
    // turns it into a hash table several times the size for good.
    let app = spawn_app(Backend::Redis).await;
    let v = app
        .issue_ok(json!({"sub": "carol", "refresh": true, "claims": {"role": "editor"}}))
        .await;
    let mut token = v["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..10 {
        token = refreshed(&app, &token).await;
    }
    let fam = family_key(&app, "carol");
    let mut conn = app.redis().connection();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&fam)
        .query(&mut conn)
        .unwrap();
    assert_eq!(encoding, "listpack");
    let fields: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL").arg(&fam).query(&mut conn).unwrap();
    for (name, value) in &fields {
        assert!(value.len() <= 64, "{name}: {} bytes", value.len());
    }
    // Eight superseded digests remembered, 16 bytes each, in two values.
    let remembered: usize = fields
        .iter()
        .filter(|(k, _)| k == "q" || k == "Q")
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(remembered, 8 * 16);
}

#[tokio::test]
async fn a_session_written_in_the_earlier_encoding_refreshes_and_is_rewritten() {
    let app = spawn_app(Backend::Redis).await;
    let v = app.issue_ok(json!({"sub": "dave", "refresh": true})).await;
    let t0 = v["refresh_token"].as_str().unwrap().to_owned();
    let t1 = refreshed(&app, &t0).await;
    let t2 = refreshed(&app, &t1).await;
    // The session as the earlier encoding wrote it: hex digest `rt`, hex
    // seed `k`, comma-separated hex digests `p`, newest first.
    let fam = family_key(&app, "dave");
    let mut conn = app.redis().connection();
    let seed: Vec<u8> = redis::cmd("HGET")
        .arg(&fam)
        .arg("z")
        .query(&mut conn)
        .unwrap();
    assert_eq!(seed.len(), 32);
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let () = redis::cmd("HDEL")
        .arg(&fam)
        .arg(&["d", "z", "q", "Q"][..])
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("HSET")
        .arg(&fam)
        .arg("rt")
        .arg(sha256_hex(&t2))
        .arg("p")
        .arg(format!("{},{}", sha256_hex(&t1), sha256_hex(&t0)))
        .arg("k")
        .arg(&seed_hex)
        .arg("x")
        .arg("{}")
        .arg("g")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let t3 = refreshed(&app, &t2).await;
    let names: Vec<String> = redis::cmd("HKEYS").arg(&fam).query(&mut conn).unwrap();
    for gone in ["rt", "p", "k"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} left in {names:?}");
    }
    for kept in ["d", "q", "z"] {
        assert!(
            names.iter().any(|n| n == kept),
            "{kept} missing in {names:?}"
        );
    }
    let seed_after: Vec<u8> = redis::cmd("HGET")
        .arg(&fam)
        .arg("z")
        .query(&mut conn)
        .unwrap();
    assert_eq!(seed_after, seed, "the seed survives the rewrite");
    // The earlier encoding's remembered digests still catch reuse: the
    // oldest token revokes the session, its newest token with it.
    assert_eq!(app.refresh(&t0).await.status(), 401);
    assert_eq!(app.refresh(&t3).await.status(), 401);
}
