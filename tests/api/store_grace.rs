//! The refresh grace window in every store (issue: a retried refresh must
//! not log the user out): the token the last rotation replaced, presented
//! again with that rotation's successor before the deadline and under the
//! retry bound, is a retry; anything else remembered is reuse.

use std::sync::Arc;
use std::time::Duration;

use tessera::store::{RefreshGrace, RotateOutcome, TokenStore};

use crate::helpers::Backend;
use crate::store::{digest, fixture, now, open_session, rotate_with};

const GRACE: RefreshGrace = RefreshGrace {
    window_ms: 10_000,
    max_retries: 3,
};

crate::all_backends!(
    a_retry_in_the_window_keeps_the_session_and_the_successor,
    a_retry_naming_another_successor_is_reuse,
    a_retry_after_the_window_is_reuse,
    retries_past_the_bound_are_reuse,
    only_the_token_the_last_rotation_replaced_can_be_retried,
    tabs_refreshing_at_once_all_keep_the_session,
);

async fn a_retry_in_the_window_keeps_the_session_and_the_successor(b: Backend) {
    let f = fixture(b);
    let (s, first) = open_session(&f.store, "u", 1, now() + 3600).await;
    let (out, a) = rotate_with(&f.store, &s, 1, 2, GRACE).await;
    assert_eq!(out, RotateOutcome::Rotated);
    let (out, retried) = rotate_with(&f.store, &s, 1, 2, GRACE).await;
    assert_eq!(out, RotateOutcome::Retried);
    let got = f.store.get_session("u", &s.sid).await.unwrap().unwrap();
    assert_eq!(
        got.refresh,
        digest(2).to_hex(),
        "the successor stays current"
    );
    assert_eq!(got.previous, vec![tessera::store::remembered(&digest(1))]);
    for key in [first, a, retried] {
        assert!(f.store.is_access_live("u", &key).await.unwrap());
    }
    let (out, _) = rotate_with(&f.store, &s, 2, 3, GRACE).await;
    assert_eq!(
        out,
        RotateOutcome::Rotated,
        "the successor rotates as usual"
    );
}

async fn a_retry_naming_another_successor_is_reuse(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    rotate_with(&f.store, &s, 1, 2, GRACE).await;
    let (out, _) = rotate_with(&f.store, &s, 1, 3, GRACE).await;
    assert_eq!(out, RotateOutcome::Reused);
    assert_eq!(f.store.get_session("u", &s.sid).await.unwrap(), None);
}

async fn a_retry_after_the_window_is_reuse(b: Backend) {
    let f = fixture(b);
    let short = RefreshGrace {
        window_ms: 300,
        max_retries: 3,
    };
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    rotate_with(&f.store, &s, 1, 2, short).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (out, _) = rotate_with(&f.store, &s, 1, 2, short).await;
    assert_eq!(out, RotateOutcome::Reused);
    assert_eq!(f.store.get_session("u", &s.sid).await.unwrap(), None);
}

async fn retries_past_the_bound_are_reuse(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    rotate_with(&f.store, &s, 1, 2, GRACE).await;
    for _ in 0..GRACE.max_retries {
        let (out, _) = rotate_with(&f.store, &s, 1, 2, GRACE).await;
        assert_eq!(out, RotateOutcome::Retried);
    }
    let (out, _) = rotate_with(&f.store, &s, 1, 2, GRACE).await;
    assert_eq!(out, RotateOutcome::Reused);
    // The bound is per rotation: a fresh session starts again at zero.
    let (s, _) = open_session(&f.store, "u", 5, now() + 3600).await;
    rotate_with(&f.store, &s, 5, 6, GRACE).await;
    rotate_with(&f.store, &s, 6, 7, GRACE).await;
    let (out, _) = rotate_with(&f.store, &s, 6, 7, GRACE).await;
    assert_eq!(out, RotateOutcome::Retried);
}

async fn only_the_token_the_last_rotation_replaced_can_be_retried(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    rotate_with(&f.store, &s, 1, 2, GRACE).await;
    rotate_with(&f.store, &s, 2, 3, GRACE).await;
    let (out, _) = rotate_with(&f.store, &s, 1, 2, GRACE).await;
    assert_eq!(out, RotateOutcome::Reused, "two rotations back is theft");
    assert_eq!(f.store.get_session("u", &s.sid).await.unwrap(), None);
}

async fn tabs_refreshing_at_once_all_keep_the_session(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    let store = Arc::new(f.store.clone());
    let s = Arc::new(s);
    let tabs = 1 + GRACE.max_retries as usize;
    let tasks: Vec<_> = (0..tabs)
        .map(|_| {
            let (store, s) = (store.clone(), s.clone());
            tokio::spawn(async move { rotate_with(&store, &s, 1, 2, GRACE).await.0 })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let rotated = outcomes.iter().filter(|o| **o == RotateOutcome::Rotated);
    let retried = outcomes.iter().filter(|o| **o == RotateOutcome::Retried);
    assert_eq!(
        (rotated.count(), retried.count()),
        (1, tabs - 1),
        "{outcomes:?}"
    );
    let got = f.store.get_session("u", &s.sid).await.unwrap().unwrap();
    assert_eq!(got.refresh, digest(2).to_hex());
}
