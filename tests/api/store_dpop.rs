//! The DPoP replay cache (RFC 9449 §11.1): a proof is new once, a replay
//! inside its time is refused, the memory ends with the TTL, and it is kept
//! per user's slot. Every backend (on a Cluster the key sits in the user's
//! hash slot, so the `SET NX` is routed there).

use std::time::Duration;

use tessera::domain::{Jkt, ProofKey};
use tessera::store::TokenStore;

use crate::helpers::Backend;
use crate::store::{access, fixture, new_key, now};

crate::all_backends!(
    a_proof_is_new_once_and_a_replay_is_seen,
    the_same_jti_from_another_key_or_user_is_another_proof,
    a_proof_is_forgotten_after_its_ttl,
    logging_out_everywhere_keeps_the_replay_memory,
    one_round_trip_answers_liveness_and_remembers_the_proof,
    the_one_round_trip_sees_logout_everywhere,
);

fn proof(seed: &str, jti: &str) -> ProofKey {
    ProofKey::new(&Jkt::of_canonical_jwk(seed), jti)
}

async fn a_proof_is_new_once_and_a_replay_is_seen(b: Backend) {
    let f = fixture(b);
    let p = proof("key-a", "jti-1");
    assert!(
        f.store.remember_proof("u", &p, 60).await.unwrap(),
        "first use"
    );
    assert!(
        !f.store.remember_proof("u", &p, 60).await.unwrap(),
        "replay"
    );
    assert!(
        !f.store.remember_proof("u", &p, 60).await.unwrap(),
        "replay again"
    );
}

async fn the_same_jti_from_another_key_or_user_is_another_proof(b: Backend) {
    let f = fixture(b);
    assert!(
        f.store
            .remember_proof("u", &proof("key-a", "j"), 60)
            .await
            .unwrap()
    );
    assert!(
        f.store
            .remember_proof("u", &proof("key-b", "j"), 60)
            .await
            .unwrap()
    );
    assert!(
        f.store
            .remember_proof("v", &proof("key-a", "j"), 60)
            .await
            .unwrap()
    );
}

async fn a_proof_is_forgotten_after_its_ttl(b: Backend) {
    let f = fixture(b);
    let p = proof("key-a", "short");
    assert!(f.store.remember_proof("u", &p, 1).await.unwrap());
    assert!(!f.store.remember_proof("u", &p, 1).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        f.store.remember_proof("u", &p, 1).await.unwrap(),
        "the memory ends with its TTL (bounded growth)"
    );
}

async fn logging_out_everywhere_keeps_the_replay_memory(b: Backend) {
    let f = fixture(b);
    let p = proof("key-a", "kept");
    assert!(f.store.remember_proof("u", &p, 60).await.unwrap());
    f.store.revoke_user("u").await.unwrap();
    assert!(!f.store.remember_proof("u", &p, 60).await.unwrap());
}

/// The verify path's single round trip (`EXISTS` and `SET NX` pipelined in
/// the user's slot; on a Cluster both keys route to one node).
async fn one_round_trip_answers_liveness_and_remembers_the_proof(b: Backend) {
    let f = fixture(b);
    let (live, gone) = (new_key(), new_key());
    let rec = access("u", tessera::domain::Sid::new_random(), now() + 60);
    f.store.put_access(&live, &rec).await.unwrap();
    let p = proof("key-a", "piped");
    let s = &f.store;
    assert_eq!(
        s.access_live_with_proof("u", &live, &p, 60).await.unwrap(),
        (true, true)
    );
    assert_eq!(
        s.access_live_with_proof("u", &live, &p, 60).await.unwrap(),
        (true, false),
        "replayed"
    );
    assert!(
        !s.remember_proof("u", &p, 60).await.unwrap(),
        "the same memory"
    );
    let q = proof("key-a", "for-a-dead-token");
    assert_eq!(
        s.access_live_with_proof("u", &gone, &q, 60).await.unwrap(),
        (false, true)
    );
    assert_eq!(
        s.access_live_with_proof("u", &gone, &q, 60).await.unwrap(),
        (false, false),
        "remembered though the token is not live"
    );
}

/// A DPoP verify's round trip reads the user's generation as a plain
/// verify does: logout everywhere kills a bound token at once.
async fn the_one_round_trip_sees_logout_everywhere(b: Backend) {
    let f = fixture(b);
    let key = new_key();
    let rec = access("u", tessera::domain::Sid::new_random(), now() + 60);
    f.store.put_access(&key, &rec).await.unwrap();
    let s = &f.store;
    assert_eq!(
        s.access_live_with_proof("u", &key, &proof("k", "before"), 60)
            .await
            .unwrap(),
        (true, true)
    );
    s.revoke_user("u").await.unwrap();
    assert_eq!(
        s.access_live_with_proof("u", &key, &proof("k", "after"), 60)
            .await
            .unwrap(),
        (false, true),
        "a token from before logout everywhere is dead"
    );
}
