//! Logout everywhere and the paginated session list, as the store does
//! them at any size (a generation raised; pages by cursor). Every backend.

use std::collections::HashSet;

use tessera::domain::{PageSize, Sid};
use tessera::store::{RotateOutcome, TokenStore, UserRevocation};

use crate::helpers::Backend;
use crate::store::{access, all_sessions, fixture, live_sids, new_key, now, open_session, rotate};

crate::all_backends!(
    logout_everywhere_kills_every_older_token_and_counts_what_was_live,
    a_token_issued_after_logout_everywhere_is_live,
    pages_cover_every_session_exactly_once,
    a_session_revoked_between_pages_shifts_nothing,
);

async fn logout_everywhere_kills_every_older_token_and_counts_what_was_live(b: Backend) {
    let f = fixture(b);
    let st = &f.store;
    let (s1, first) = open_session(st, "u", 1, now() + 3600).await;
    let (out, rotated) = rotate(st, &s1, 1, 2).await;
    assert_eq!(out, RotateOutcome::Rotated);
    let (s2, second) = open_session(st, "u", 3, now() + 7200).await;
    let joined = new_key();
    let rec = access("u", s2.sid, now() + 60);
    assert!(st.add_family_access(&s2.sid, &joined, &rec).await.unwrap());
    let lone: Vec<_> = (0..3).map(|_| new_key()).collect();
    for key in &lone {
        let rec = access("u", Sid::new_random(), now() + 60);
        st.put_access(key, &rec).await.unwrap();
    }
    let (other, other_key) = open_session(st, "v", 4, now() + 3600).await;
    let ended = st.revoke_user("u").await.unwrap();
    assert_eq!(
        ended,
        UserRevocation {
            sessions: 2,
            standalone_access_tokens: 3,
        },
        "what was live, counted"
    );
    for key in [&first, &rotated, &second, &joined]
        .into_iter()
        .chain(&lone)
    {
        assert!(!st.is_access_live("u", key).await.unwrap(), "access dead");
    }
    for s in [&s1, &s2] {
        assert_eq!(st.get_session("u", &s.sid).await.unwrap(), None);
        assert!(!st.revoke_family("u", &s.sid).await.unwrap(), "not live");
        let key = new_key();
        let rec = access("u", s.sid, now() + 60);
        assert!(!st.add_family_access(&s.sid, &key, &rec).await.unwrap());
        assert!(!st.is_access_live("u", &key).await.unwrap());
    }
    let (out, _) = rotate(st, &s1, 2, 5).await;
    assert_eq!(out, RotateOutcome::Unknown, "the refresh token died");
    let (out, _) = rotate(st, &s2, 3, 6).await;
    assert_eq!(out, RotateOutcome::Unknown, "the refresh token died");
    assert!(live_sids(st, "u").await.is_empty());
    assert!(st.get_session("v", &other.sid).await.unwrap().is_some());
    assert!(st.is_access_live("v", &other_key).await.unwrap());
    assert_eq!(
        st.revoke_user("u").await.unwrap(),
        UserRevocation::default()
    );
}

async fn a_token_issued_after_logout_everywhere_is_live(b: Backend) {
    let f = fixture(b);
    let st = &f.store;
    open_session(st, "u", 1, now() + 3600).await;
    st.revoke_user("u").await.unwrap();
    let (s, first) = open_session(st, "u", 2, now() + 3600).await;
    let lone = new_key();
    let rec = access("u", Sid::new_random(), now() + 60);
    st.put_access(&lone, &rec).await.unwrap();
    assert!(st.is_access_live("u", &first).await.unwrap());
    assert!(st.is_access_live("u", &lone).await.unwrap());
    let (out, next) = rotate(st, &s, 2, 3).await;
    assert_eq!(out, RotateOutcome::Rotated);
    assert!(st.is_access_live("u", &next).await.unwrap());
    assert_eq!(live_sids(st, "u").await, vec![s.sid]);
    // A second logout everywhere ends the new ones, and counts them.
    let ended = st.revoke_user("u").await.unwrap();
    assert_eq!((ended.sessions, ended.standalone_access_tokens), (1, 1));
    assert!(!st.is_access_live("u", &next).await.unwrap());
    assert!(!st.is_access_live("u", &lone).await.unwrap());
}

async fn pages_cover_every_session_exactly_once(b: Backend) {
    let f = fixture(b);
    let mut made = Vec::new();
    for i in 0..23u8 {
        // Some share an expiry second: the order breaks ties itself.
        let (s, _) = open_session(&f.store, "u", i, now() + 3600 + i64::from(i % 4)).await;
        made.push(s.sid);
    }
    let whole = all_sessions(&f.store, "u", 200).await;
    assert_eq!(whole.len(), 23);
    for size in [1, 5, 22, 23] {
        let paged: Vec<Sid> = all_sessions(&f.store, "u", size)
            .await
            .iter()
            .map(|s| s.sid)
            .collect();
        let unique: HashSet<Sid> = paged.iter().copied().collect();
        assert_eq!(paged.len(), 23, "size {size}: every session once");
        assert_eq!(unique, made.iter().copied().collect(), "size {size}");
        let whole_sids: Vec<Sid> = whole.iter().map(|s| s.sid).collect();
        assert_eq!(paged, whole_sids, "size {size}: the same order");
    }
    let exps: Vec<i64> = whole.iter().map(|s| s.exp).collect();
    assert!(exps.is_sorted(), "earliest expiry first");
    let first = f
        .store
        .list_sessions("u", now(), None, PageSize::new(23))
        .await
        .unwrap();
    assert_eq!(first.next, None, "a page that reaches the end says so");
}

async fn a_session_revoked_between_pages_shifts_nothing(b: Backend) {
    let f = fixture(b);
    for i in 0..10u8 {
        open_session(&f.store, "u", i, now() + 3600 + i64::from(i)).await;
    }
    let page = |after| f.store.list_sessions("u", now(), after, PageSize::new(4));
    let p1 = page(None).await.unwrap();
    // The last session of the first page and the first of the next go.
    let all: Vec<Sid> = live_sids(&f.store, "u").await;
    assert!(f.store.revoke_family("u", &all[3]).await.unwrap());
    assert!(f.store.revoke_family("u", &all[4]).await.unwrap());
    let mut seen: Vec<Sid> = p1.sessions.iter().map(|s| s.sid).collect();
    let mut after = p1.next;
    for _ in 0..10 {
        let Some(c) = after else { break };
        let p = page(Some(c)).await.unwrap();
        seen.extend(p.sessions.iter().map(|s| s.sid));
        after = p.next;
    }
    let mut want = all.clone();
    want.remove(4);
    assert_eq!(seen, want, "nothing skipped, nothing twice");
}
