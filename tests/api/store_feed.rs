//! The revocation feed in every store: each revocation path appends one
//! event naming what it revoked (in the same step on one server, a
//! Sentinel primary and the memory store; right after on a Cluster), and
//! reads honour positions, retention and lost positions.

use std::time::Duration;

use tessera::domain::{FeedId, Revocation};
use tessera::store::{FeedCursor, FeedPage, FeedRead, TokenStore};

use crate::helpers::Backend;
use crate::store::{create_capped, fixture, now, open_session, revoked, rotate, session};

crate::all_backends!(
    every_revocation_path_appends_one_event,
    reads_resume_after_a_position_and_block_for_news,
    a_lost_position_reads_as_a_reset_from_the_start,
);

async fn read(store: &impl TokenStore, from: FeedCursor) -> FeedPage {
    store
        .read_feed(FeedRead {
            from,
            count: 100,
            block: None,
        })
        .await
        .unwrap()
}

async fn kinds(store: &impl TokenStore) -> Vec<Revocation> {
    read(store, FeedCursor::Start)
        .await
        .events
        .into_iter()
        .map(|e| e.revocation)
        .collect()
}

async fn every_revocation_path_appends_one_event(b: Backend) {
    let f = fixture(b);
    let store = &f.store;
    assert!(kinds(store).await.is_empty());

    // One access token (a second revocation of it publishes nothing more
    // on the atomic path; a Cluster republishes, which is harmless).
    let (s, first) = open_session(store, "u", 1, now() + 3600).await;
    let token = revoked("u");
    assert!(store.revoke_access(&first, token).await.unwrap());
    let got = kinds(store).await;
    assert_eq!(
        got[0],
        Revocation::Token {
            sub: "u".into(),
            jti: "a-jti".into(),
            exp: token.exp
        }
    );

    // A family: by its refresh token, by reuse, by the session cap.
    let session_of = |r: &Revocation| match r {
        Revocation::Session { sub, sid, .. } => Some((sub.clone(), sid.clone())),
        _ => None,
    };
    store.revoke_family("u", &s.sid).await.unwrap();
    let (reused, _) = open_session(store, "u", 3, now() + 3600).await;
    rotate(store, &reused, 3, 4).await;
    rotate(store, &reused, 3, 5).await;
    let (older, _) = open_session(store, "u", 7, now() + 3600).await;
    let capped = session("u", now() + 7200);
    let (_, evicted) = create_capped(store, &capped, 9, 1).await;
    assert_eq!(evicted, vec![older.sid]);
    let sessions: Vec<_> = kinds(store).await.iter().filter_map(session_of).collect();
    let want: Vec<_> = [s.sid, reused.sid, evicted[0]]
        .iter()
        .map(|sid| ("u".to_owned(), sid.to_string()))
        .collect();
    assert_eq!(sessions, want);

    // Logout everywhere: one user event.
    let before = now() * 1000;
    store.revoke_user("u").await.unwrap();
    match kinds(store).await.last().unwrap() {
        Revocation::User { sub, before: at } => {
            assert_eq!(sub, "u");
            assert!(*at >= before - 1000, "{at} {before}");
        }
        other => panic!("{other:?}"),
    }
}

async fn reads_resume_after_a_position_and_block_for_news(b: Backend) {
    let f = fixture(b);
    let store = &f.store;
    let (_, key) = open_session(store, "v", 1, now() + 3600).await;
    store.revoke_access(&key, revoked("v")).await.unwrap();
    let first = read(store, FeedCursor::Start).await.events[0].id;
    assert_eq!(read(store, FeedCursor::Latest).await.newest, Some(first));
    assert!(
        read(store, FeedCursor::After(first))
            .await
            .events
            .is_empty()
    );

    // A blocked read wakes for the next event.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .read_feed(FeedRead {
                    from: FeedCursor::After(first),
                    count: 10,
                    block: Some(Duration::from_millis(400)),
                })
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.revoke_user("v").await.unwrap();
    let page = waiter.await.unwrap();
    let page = if page.events.is_empty() {
        read(store, FeedCursor::After(first)).await
    } else {
        page
    };
    assert_eq!(page.events.len(), 1);
    assert!(page.events[0].id > first);
    assert!(matches!(page.events[0].revocation, Revocation::User { .. }));
}

async fn a_lost_position_reads_as_a_reset_from_the_start(b: Backend) {
    let f = fixture(b);
    let store = &f.store;
    let (_, key) = open_session(store, "w", 1, now() + 3600).await;
    store.revoke_access(&key, revoked("w")).await.unwrap();
    for lost in [
        FeedId { ms: 1, seq: 0 },
        FeedId {
            ms: u64::MAX / 2,
            seq: 0,
        },
    ] {
        let page = read(store, FeedCursor::After(lost)).await;
        assert!(page.reset, "{lost}");
        assert_eq!(page.events.len(), 1, "{lost}");
    }
}
