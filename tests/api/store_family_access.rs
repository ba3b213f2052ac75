//! The store operation token exchange relies on: an access token joins a
//! live session atomically (revoking the session revokes it), and joins
//! nothing once the session is gone. Every backend.

use tessera::domain::Sid;
use tessera::store::TokenStore;

use crate::helpers::Backend;
use crate::store::{access, fixture, new_key, now, open_session};

crate::all_backends!(
    an_access_token_joins_a_live_session_and_dies_with_it,
    nothing_joins_a_session_that_is_gone,
);

async fn an_access_token_joins_a_live_session_and_dies_with_it(b: Backend) {
    let f = fixture(b);
    let (s, first) = open_session(&f.store, "u", 1, now() + 3600).await;
    let joined = new_key();
    let added = f
        .store
        .add_family_access(&s.sid, &joined, &access("u", s.sid, now() + 60))
        .await
        .unwrap();
    assert!(added);
    assert!(f.store.is_access_live("u", &joined).await.unwrap());
    assert!(f.store.revoke_family("u", &s.sid).await.unwrap());
    assert!(!f.store.is_access_live("u", &first).await.unwrap());
    assert!(
        !f.store.is_access_live("u", &joined).await.unwrap(),
        "revoked with its session"
    );
}

async fn nothing_joins_a_session_that_is_gone(b: Backend) {
    let f = fixture(b);
    let (s, _) = open_session(&f.store, "u", 1, now() + 3600).await;
    assert!(f.store.revoke_family("u", &s.sid).await.unwrap());
    for sid in [s.sid, Sid::new_random()] {
        let key = new_key();
        let added = f
            .store
            .add_family_access(&sid, &key, &access("u", sid, now() + 60))
            .await
            .unwrap();
        assert!(!added);
        assert!(
            !f.store.is_access_live("u", &key).await.unwrap(),
            "no record written"
        );
        assert!(
            f.store.get_session("u", &sid).await.unwrap().is_none(),
            "no session recreated"
        );
    }
}
