//! The store conformance suite: the same scenarios, written once against
//! the `TokenStore` trait, run on every implementation.

use std::sync::Arc;
use std::time::Duration;

use tessera::domain::RefreshDigest;
use tessera::domain::{Jti, PageSize, Sid, TokenKey};
use tessera::store::redis::RedisOptions;
use tessera::store::redis::Topology;
use tessera::store::{
    AccessRecord, MemoryStore, NewSession, RedisStore, RefreshGrace, RevokedToken, RotateOutcome,
    Rotation, SessionRecord, Store, TokenStore, UserRevocation,
};

use crate::helpers::Backend;
use crate::redis_server::RedisServer;

/// A record key as the service derives it: the digest of a token's bytes
/// (here a random string standing in for one).
pub(crate) fn new_key() -> TokenKey {
    let token = Jti::new_random().to_string();
    TokenKey::from_sha256(&tessera::token::VerifiedCache::digest(&token))
}

// Each scenario on the memory store, a private Redis, and the shared
// Redis Cluster and Sentinel group (where each test keeps to its own key
// prefix): `store::<backend>::<scenario>`.
crate::all_backends!(
    a_put_record_reads_back,
    an_unknown_token_has_no_record,
    records_expire_with_the_token,
    revoking_one_access_token_leaves_the_others,
    a_created_session_reads_back_with_its_digest,
    rotation_swaps_the_digest_and_remembers_the_old_one,
    reuse_of_a_rotated_digest_revokes_the_family_and_its_tokens,
    an_unknown_digest_changes_nothing,
    revoking_a_family_revokes_its_access_tokens,
    revoking_a_user_ends_every_session_and_token,
    listing_sessions_skips_expired_ones_and_orders_by_expiry,
    the_session_cap_evicts_the_earliest_expiring,
    the_session_cap_never_evicts_the_new_session,
    fifty_concurrent_rotations_yield_exactly_one_success,
    users_do_not_see_each_other,
    ping_answers,
);

/// A store over the shared cluster or sentinel group, with its own prefix.
fn scaled_out_store(b: Backend) -> Store {
    let urls = b.shared_urls();
    let prefix = format!("conf{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let topology = match b {
        Backend::Cluster => Topology::Cluster { urls: &urls },
        _ => Topology::Sentinel {
            urls: &urls,
            master_name: crate::redis_cluster::MASTER_NAME,
        },
    };
    let opts = RedisOptions {
        key_prefix: &prefix,
        pool_size: 8,
        timeout: Duration::from_millis(2000),
        wait_replicas: 0,
    };
    Store::Redis(RedisStore::connect(topology, &opts).unwrap())
}

pub(crate) struct Fixture {
    pub(crate) store: Store,
    _redis: Option<RedisServer>,
}

pub(crate) fn fixture(b: Backend) -> Fixture {
    match b {
        Backend::Memory => Fixture {
            store: Store::Memory(MemoryStore::new()),
            _redis: None,
        },
        Backend::Redis => {
            let redis = RedisServer::start();
            let url = redis.url();
            let opts = RedisOptions {
                key_prefix: "conf:",
                pool_size: 8,
                timeout: Duration::from_millis(1000),
                wait_replicas: 0,
            };
            let store = RedisStore::connect(Topology::Standalone { url: &url }, &opts).unwrap();
            Fixture {
                store: Store::Redis(store),
                _redis: Some(redis),
            }
        }
        Backend::Cluster | Backend::Sentinel => Fixture {
            store: scaled_out_store(b),
            _redis: None,
        },
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn access(sub: &str, sid: Sid, exp: i64) -> AccessRecord {
    AccessRecord {
        sub: sub.into(),
        client_id: "app".into(),
        sid,
        scope: "read".into(),
        aud: "api".into(),
        claims: serde_json::Map::new(),
        exp,
    }
}

/// An access token of `sub` being revoked, as the feed names it.
pub(crate) fn revoked(sub: &str) -> RevokedToken<'_> {
    RevokedToken {
        sub,
        jti: "a-jti",
        exp: now() + 60,
    }
}

pub(crate) fn digest(n: u8) -> RefreshDigest {
    RefreshDigest([n; 32])
}

pub(crate) fn session(sub: &str, exp: i64) -> SessionRecord {
    SessionRecord {
        sid: Sid::new_random(),
        sub: sub.into(),
        client_id: "app".into(),
        scope: "read write".into(),
        aud: "api".into(),
        claims: serde_json::Map::new(),
        created: now(),
        refreshed: now(),
        exp,
        refresh: String::new(),
        previous: Vec::new(),
        seed: None,
    }
}

/// Creates a session with refresh digest `d`; returns it and its first jti.
pub(crate) async fn open_session(
    store: &Store,
    sub: &str,
    d: u8,
    exp: i64,
) -> (SessionRecord, TokenKey) {
    let s = session(sub, exp);
    let (key, _) = create_capped(store, &s, d, 100).await;
    (s, key)
}

/// Creates `s` (refresh digest `d`, a first access token) under a cap of
/// `max_sessions`; returns its first token's key and the sessions evicted.
pub(crate) async fn create_capped(
    store: &Store,
    s: &SessionRecord,
    d: u8,
    max_sessions: usize,
) -> (TokenKey, Vec<Sid>) {
    let key = new_key();
    let evicted = store
        .create_session(NewSession {
            session: s,
            refresh: &digest(d),
            first_key: &key,
            first_access: &access(&s.sub, s.sid, now() + 60),
            max_sessions,
        })
        .await
        .unwrap();
    (key, evicted)
}

/// `sub`'s live sessions, earliest expiry first, read page by page
/// (`size` each).
pub(crate) async fn all_sessions(store: &Store, sub: &str, size: usize) -> Vec<SessionRecord> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let page = store
            .list_sessions(sub, now(), after, PageSize::new(size))
            .await
            .unwrap();
        assert!(page.sessions.len() <= size, "a page holds at most its size");
        out.extend(page.sessions);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
    panic!("the pages never end");
}

/// The sids of `sub`'s live sessions, earliest expiry first.
pub(crate) async fn live_sids(store: &Store, sub: &str) -> Vec<Sid> {
    let sessions = all_sessions(store, sub, 50).await;
    sessions.iter().map(|s| s.sid).collect()
}

/// No retries: every second presentation is reuse.
const STRICT: RefreshGrace = RefreshGrace {
    window_ms: 0,
    max_retries: 0,
};

pub(crate) async fn rotate(
    store: &Store,
    s: &SessionRecord,
    from: u8,
    to: u8,
) -> (RotateOutcome, TokenKey) {
    rotate_with(store, s, from, to, STRICT).await
}

/// Presents digest `from` with successor `to` under `grace`; returns the
/// outcome and the new access token's key.
pub(crate) async fn rotate_with(
    store: &Store,
    s: &SessionRecord,
    from: u8,
    to: u8,
    grace: RefreshGrace,
) -> (RotateOutcome, TokenKey) {
    let jti = new_key();
    let out = store
        .rotate(Rotation {
            sub: &s.sub,
            sid: &s.sid,
            presented: &digest(from),
            next: &digest(to),
            key: &jti,
            access: &access(&s.sub, s.sid, now() + 60),
            now: now(),
            grace,
        })
        .await
        .unwrap();
    (out.outcome, jti)
}

async fn a_put_record_reads_back(b: Backend) {
    let f = fixture(b);
    let jti = new_key();
    let rec = access("u", Sid::new_random(), now() + 60);
    f.store.put_access(&jti, &rec).await.unwrap();
    assert!(f.store.is_access_live("u", &jti).await.unwrap());
}

async fn an_unknown_token_has_no_record(b: Backend) {
    let f = fixture(b);
    assert!(!f.store.is_access_live("u", &new_key()).await.unwrap());
}

async fn records_expire_with_the_token(b: Backend) {
    let f = fixture(b);
    let jti = new_key();
    f.store
        .put_access(&jti, &access("u", Sid::new_random(), now() + 1))
        .await
        .unwrap();
    assert!(f.store.is_access_live("u", &jti).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(!f.store.is_access_live("u", &jti).await.unwrap());
}

async fn revoking_one_access_token_leaves_the_others(b: Backend) {
    let f = fixture(b);
    let (a, c) = (new_key(), new_key());
    let sid = Sid::new_random();
    f.store
        .put_access(&a, &access("u", sid, now() + 60))
        .await
        .unwrap();
    f.store
        .put_access(&c, &access("u", sid, now() + 60))
        .await
        .unwrap();
    assert!(f.store.revoke_access(&a, revoked("u")).await.unwrap());
    assert!(
        !f.store.revoke_access(&a, revoked("u")).await.unwrap(),
        "second revoke reports nothing"
    );
    assert!(!f.store.is_access_live("u", &a).await.unwrap());
    assert!(f.store.is_access_live("u", &c).await.unwrap());
}

async fn a_created_session_reads_back_with_its_digest(b: Backend) {
    let f = fixture(b);
    let (s, jti) = open_session(&f.store, "u", 1, now() + 3600).await;
    let got = f.store.get_session("u", &s.sid).await.unwrap().unwrap();
    assert_eq!(got.refresh, digest(1).to_hex());
    assert_eq!(got.client_id, "app");
    assert_eq!(got.scope, "read write");
    assert_eq!(got.exp, s.exp);
    assert!(f.store.is_access_live("u", &jti).await.unwrap());
}

async fn rotation_swaps_the_digest_and_remembers_the_old_one(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (out, jti) = rotate(&f.store, &s, 1, 2).await;
    assert_eq!(out, RotateOutcome::Rotated);
    let got = f.store.get_session("u", &s.sid).await.unwrap().unwrap();
    assert_eq!(got.refresh, digest(2).to_hex());
    assert_eq!(got.previous, vec![tessera::store::remembered(&digest(1))]);
    assert!(f.store.is_access_live("u", &jti).await.unwrap());
}

async fn reuse_of_a_rotated_digest_revokes_the_family_and_its_tokens(b: Backend) {
    let f = fixture(b);
    let (s, first) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (_, second) = rotate(&f.store, &s, 1, 2).await;
    let (out, _) = rotate(&f.store, &s, 1, 3).await;
    assert_eq!(out, RotateOutcome::Reused);
    assert_eq!(f.store.get_session("u", &s.sid).await.unwrap(), None);
    assert!(!f.store.is_access_live("u", &first).await.unwrap());
    assert!(!f.store.is_access_live("u", &second).await.unwrap());
    let (out, _) = rotate(&f.store, &s, 2, 4).await;
    assert_eq!(
        out,
        RotateOutcome::Unknown,
        "the current digest died with the family"
    );
}

async fn an_unknown_digest_changes_nothing(b: Backend) {
    let f = fixture(b);
    let (s, jti) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (out, _) = rotate(&f.store, &s, 9, 2).await;
    assert_eq!(out, RotateOutcome::Unknown);
    assert!(f.store.get_session("u", &s.sid).await.unwrap().is_some());
    assert!(f.store.is_access_live("u", &jti).await.unwrap());
}

async fn revoking_a_family_revokes_its_access_tokens(b: Backend) {
    let f = fixture(b);
    let (s, first) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (_, second) = rotate(&f.store, &s, 1, 2).await;
    let (other, other_jti) = open_session(&f.store, "u", 5, now() + 3600).await;
    assert!(f.store.revoke_family("u", &s.sid).await.unwrap());
    assert!(!f.store.revoke_family("u", &s.sid).await.unwrap());
    assert!(!f.store.is_access_live("u", &first).await.unwrap());
    assert!(!f.store.is_access_live("u", &second).await.unwrap());
    assert!(
        f.store
            .get_session("u", &other.sid)
            .await
            .unwrap()
            .is_some()
    );
    assert!(f.store.is_access_live("u", &other_jti).await.unwrap());
}

async fn revoking_a_user_ends_every_session_and_token(b: Backend) {
    let f = fixture(b);
    let (s1, j1) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (s2, _) = open_session(&f.store, "u", 2, now() + 3600).await;
    let lone = new_key();
    f.store
        .put_access(&lone, &access("u", Sid::new_random(), now() + 60))
        .await
        .unwrap();
    let (keep, keep_jti) = open_session(&f.store, "v", 3, now() + 3600).await;
    let ended = UserRevocation {
        sessions: 2,
        standalone_access_tokens: 1,
    };
    assert_eq!(f.store.revoke_user("u").await.unwrap(), ended);
    for sid in [s1.sid, s2.sid] {
        assert_eq!(f.store.get_session("u", &sid).await.unwrap(), None);
    }
    assert!(!f.store.is_access_live("u", &j1).await.unwrap());
    assert!(!f.store.is_access_live("u", &lone).await.unwrap());
    assert!(f.store.get_session("v", &keep.sid).await.unwrap().is_some());
    assert!(f.store.is_access_live("v", &keep_jti).await.unwrap());
    let nothing = UserRevocation::default();
    assert_eq!(f.store.revoke_user("u").await.unwrap(), nothing);
}

async fn listing_sessions_skips_expired_ones_and_orders_by_expiry(b: Backend) {
    let f = fixture(b);
    assert!(live_sids(&f.store, "u").await.is_empty());
    let (late, _) = open_session(&f.store, "u", 1, now() + 7200).await;
    let (early, _) = open_session(&f.store, "u", 2, now() + 3600).await;
    let (_short, _) = open_session(&f.store, "u", 3, now() + 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(live_sids(&f.store, "u").await, vec![early.sid, late.sid]);
}

async fn the_session_cap_evicts_the_earliest_expiring(b: Backend) {
    let f = fixture(b);
    let mut sids = Vec::new();
    for i in 0..3u8 {
        let s = session("u", now() + 3600 + i64::from(i));
        let (_, evicted) = create_capped(&f.store, &s, i, 2).await;
        if i == 2 {
            assert_eq!(evicted, vec![sids[0]], "the earliest-expiring goes");
        } else {
            assert!(evicted.is_empty());
        }
        sids.push(s.sid);
    }
    assert_eq!(live_sids(&f.store, "u").await, vec![sids[1], sids[2]]);
}

/// Cap 2, two long sessions, then one that expires before both: the new
/// one stays, and the earliest-expiring *other* session goes.
async fn the_session_cap_never_evicts_the_new_session(b: Backend) {
    let f = fixture(b);
    let create = |s: SessionRecord, d: u8| {
        let store = f.store.clone();
        async move { (s.sid, create_capped(&store, &s, d, 2).await.1) }
    };
    let (long1, none1) = create(session("u", now() + 7200), 1).await;
    let (long2, none2) = create(session("u", now() + 7300), 2).await;
    assert!(none1.is_empty() && none2.is_empty());
    let (short, evicted) = create(session("u", now() + 600), 3).await;
    assert_eq!(
        evicted,
        vec![long1],
        "the earliest-expiring other session goes"
    );
    assert_eq!(
        live_sids(&f.store, "u").await,
        vec![short, long2],
        "the new session is live"
    );
    let got = f.store.get_session("u", &short).await.unwrap();
    assert!(got.is_some(), "the new session reads back");
}

async fn fifty_concurrent_rotations_yield_exactly_one_success(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    let store = Arc::new(f.store.clone());
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..50u8)
        .map(|i| {
            let (store, s) = (store.clone(), s.clone());
            tokio::spawn(async move { rotate(&store, &s, 1, 100 + i).await.0 })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        if t.await.unwrap() == RotateOutcome::Rotated {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

async fn users_do_not_see_each_other(b: Backend) {
    let f = fixture(b);
    let jti = new_key();
    f.store
        .put_access(&jti, &access("alice", Sid::new_random(), now() + 60))
        .await
        .unwrap();
    assert!(!f.store.is_access_live("bob", &jti).await.unwrap());
    assert!(!f.store.revoke_access(&jti, revoked("bob")).await.unwrap());
    assert!(f.store.is_access_live("alice", &jti).await.unwrap());
}

async fn ping_answers(b: Backend) {
    let f = fixture(b);
    f.store.ping().await.unwrap();
}
