//! tessera-client's local verifier and the revocation feed: every kind of
//! revocation reaches a subscribed verifier; a revocation made while it
//! was disconnected is applied when it reconnects to another instance; a
//! silent feed makes it refuse (503) after `max_staleness`, never accept;
//! a verifier that cannot follow the feed refuses, or asks Tessera when
//! configured to.

use std::time::{Duration, Instant};

use serde_json::json;
use tessera_client::{Credentials, Demands, Rejection, Unavailable, VerifyError};

use crate::client_support::{
    STALENESS, Switch, accepted, feed_app, refused_within, subscribed, verifier,
};
use crate::helpers::{Backend, SECRET, claims_of};

crate::both_backends!(
    each_kind_of_revocation_reaches_a_subscribed_verifier,
    a_silent_feed_makes_the_verifier_refuse_after_max_staleness,
    a_verifier_whose_feed_never_catches_up_refuses_or_asks_tessera,
);
crate::backend_tests!(
    cluster,
    Cluster,
    a_revocation_made_while_disconnected_is_applied_on_reconnect_to_another_instance
);

const PROPAGATION: Duration = Duration::from_secs(5);

async fn each_kind_of_revocation_reaches_a_subscribed_verifier(b: Backend) {
    let app = feed_app(b).spawn().await;
    let v = subscribed(&app.address).await;

    // One access token.
    let t = app.access_token("alice").await;
    assert_eq!(accepted(&v, &t).await.sub, "alice");
    assert_eq!(app.revoke(&t).await.status(), 200);
    refused_within(&v, &t, PROPAGATION).await;

    // Reuse detection revokes the session, and so its access token.
    let issued = app.issue_ok(json!({"sub": "bob", "refresh": true})).await;
    let at = issued["access_token"].as_str().unwrap();
    let rt = issued["refresh_token"].as_str().unwrap();
    accepted(&v, at).await;
    assert_eq!(app.refresh(rt).await.status(), 200);
    assert_eq!(app.refresh(rt).await.status(), 401, "reuse");
    refused_within(&v, at, PROPAGATION).await;

    // An admin deletes a session.
    let issued = app.issue_ok(json!({"sub": "carol", "refresh": true})).await;
    let at = issued["access_token"].as_str().unwrap();
    accepted(&v, at).await;
    let sid = claims_of(at)["sid"].as_str().unwrap().to_owned();
    let res = app
        .api
        .delete(app.url(&format!("/users/carol/sessions/{sid}")))
        .basic_auth("admin-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    refused_within(&v, at, PROPAGATION).await;

    // Logout everywhere: a session's token and a stand-alone one.
    let with_session = app.issue_ok(json!({"sub": "dave", "refresh": true})).await;
    let with_session = with_session["access_token"].as_str().unwrap().to_owned();
    let alone = app.access_token("dave").await;
    accepted(&v, &with_session).await;
    accepted(&v, &alone).await;
    let res = app
        .post_json("/token/revoke", Some("admin-app"), &json!({"sub": "dave"}))
        .await;
    assert_eq!(res.status(), 200);
    refused_within(&v, &alone, PROPAGATION).await;
    refused_within(&v, &with_session, PROPAGATION).await;
    // ... which is no ban: a token issued afterwards (in a later second:
    // `iat` has second precision) is accepted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = app.access_token("dave").await;
    accepted(&v, &later).await;
    // Another user was never touched.
    accepted(&v, &app.access_token("erin").await).await;
}

async fn a_silent_feed_makes_the_verifier_refuse_after_max_staleness(b: Backend) {
    let app = feed_app(b).spawn().await;
    let switch = Switch::start(&app).await;
    let v = subscribed(&switch.url).await;
    let t = app.access_token("frank").await;
    accepted(&v, &t).await;

    // Tessera unreachable; meanwhile the token is revoked.
    switch.point_to(None);
    let cut = Instant::now();
    assert_eq!(app.revoke(&t).await.status(), 200);
    let stale_after = loop {
        match v.verify(&t, &Demands::none()).await {
            Ok(_) => {}
            Err(VerifyError::Unavailable(Unavailable::Stale)) => break cut.elapsed(),
            Err(other) => panic!("while the feed is silent: {other:?}"),
        }
        assert!(
            cut.elapsed() < STALENESS + Duration::from_secs(2),
            "still accepting {:?} after the cut",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Heard last at most one heartbeat (1 s) before the cut.
    assert!(
        stale_after >= STALENESS - Duration::from_millis(1100),
        "{stale_after:?}"
    );
    // Stale stays stale: every token refused, none accepted.
    let fresh_token = app.access_token("frank").await;
    assert_eq!(
        v.verify(&fresh_token, &Demands::none()).await,
        Err(VerifyError::Unavailable(Unavailable::Stale))
    );

    // Back: the verifier catches up, learns the revocation, accepts again.
    switch.point_to(Some(&app));
    assert!(v.wait_until_fresh(Duration::from_secs(10)).await);
    refused_within(&v, &t, PROPAGATION).await;
    accepted(&v, &fresh_token).await;
}

async fn a_verifier_whose_feed_never_catches_up_refuses_or_asks_tessera(b: Backend) {
    let app = feed_app(b).spawn().await;
    // `narrow-app` lacks the `verify` grant: its feed is refused (403).
    let build = |fallback: bool| {
        verifier(&app.address)
            .credentials(Credentials::new("narrow-app", SECRET))
            .fallback_to_remote(fallback)
            .build()
    };
    let t = app.access_token("gina").await;
    let donor = app.access_token("gina").await;
    let closed = build(false).await.unwrap();
    let asking = build(true).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        closed.verify(&t, &Demands::none()).await,
        Err(VerifyError::Unavailable(Unavailable::NotCaughtUp))
    );
    assert!(!closed.is_fresh());
    assert_eq!(accepted(&asking, &t).await.sub, "gina");
    assert_eq!(app.revoke(&t).await.status(), 200);
    assert_eq!(
        asking.verify(&t, &Demands::none()).await,
        Err(VerifyError::Rejected(Rejection::Revoked)),
        "the fallback is /token/verify: revocation at once"
    );
    // A forged token (another token's signature) is refused locally.
    let (signed, _) = t.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", donor.rsplit_once('.').unwrap().1);
    assert!(matches!(
        closed.verify(&forged, &Demands::none()).await,
        Err(VerifyError::Rejected(_))
    ));
}

async fn a_revocation_made_while_disconnected_is_applied_on_reconnect_to_another_instance(
    b: Backend,
) {
    let one = feed_app(b).spawn().await;
    let two = feed_app(b).peer(&one).spawn().await;
    let switch = Switch::start(&one).await;
    let v = subscribed(&switch.url).await;
    let t = one.access_token("hugo").await;
    let other = one.access_token("hugo2").await;
    accepted(&v, &t).await;

    switch.point_to(None); // the verifier's instance is gone
    assert_eq!(two.revoke(&t).await.status(), 200, "revoked on the other");
    tokio::time::sleep(Duration::from_millis(300)).await;
    switch.point_to(Some(&two));
    refused_within(&v, &t, PROPAGATION).await;
    assert!(v.wait_until_fresh(Duration::from_secs(10)).await);
    accepted(&v, &other).await;
}
