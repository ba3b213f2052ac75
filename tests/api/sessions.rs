//! Sessions over HTTP: refresh rotation, reuse detection, races, logout
//! everywhere, listing and the per-user cap.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, TestApp, assert_error, claims_of, spawn_app};

crate::both_backends!(
    issue_with_refresh_returns_an_opaque_256_bit_refresh_token,
    refresh_rotates_and_the_old_refresh_token_stops_working,
    reusing_a_rotated_refresh_token_revokes_the_whole_family,
    refresh_can_narrow_the_scope_but_never_widen_it,
    a_refresh_token_works_only_for_its_own_client,
    fifty_concurrent_refreshes_yield_exactly_one_success,
    a_revoke_racing_a_refresh_never_leaves_a_live_token_in_the_family,
    revoking_a_refresh_token_revokes_its_family,
    logout_everywhere_ends_every_session_and_counts_them,
    logout_everywhere_needs_the_admin_grant,
    session_listing_shows_live_families_and_delete_revokes_one,
    listing_a_user_without_sessions_is_an_empty_list,
    past_the_session_cap_the_oldest_family_is_revoked,
    past_the_cap_a_shorter_lived_new_session_stays_live,
);

async fn session(app: &TestApp, sub: &str) -> (String, String) {
    let v = app
        .issue_ok(json!({"sub": sub, "refresh": true, "scope": "read write"}))
        .await;
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh_ok(app: &TestApp, refresh: &str) -> Value {
    let res = app.refresh(refresh).await;
    assert_eq!(res.status(), 200, "refresh failed");
    res.json().await.unwrap()
}

async fn issue_with_refresh_returns_an_opaque_256_bit_refresh_token(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let rt = v["refresh_token"].as_str().unwrap();
    let secret = rt.rsplit('.').next().unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .expect("base64url");
    assert!(raw.len() >= 32, "only {} random bytes", raw.len());
    assert_eq!(v["refresh_expires_in"], 2_592_000);
    let (_, other) = session(&app, "u").await;
    assert_ne!(rt, other);
}

async fn refresh_rotates_and_the_old_refresh_token_stops_working(b: Backend) {
    let app = spawn_app(b).await;
    let (at1, rt1) = session(&app, "u").await;
    let v = refresh_ok(&app, &rt1).await;
    let (at2, rt2) = (
        v["access_token"].as_str().unwrap(),
        v["refresh_token"].as_str().unwrap(),
    );
    assert_ne!(rt1, rt2);
    assert_eq!(claims_of(at2)["sid"], claims_of(&at1)["sid"], "same family");
    assert_eq!(app.verify_get(at2).await.status(), 200);
    assert_eq!(
        app.verify_get(&at1).await.status(),
        200,
        "older access tokens live on"
    );
    let v = refresh_ok(&app, rt2).await;
    assert!(v["refresh_token"].is_string());
}

/// An app with no refresh grace window: every second presentation is reuse
/// (`refresh_grace.rs` covers the window).
async fn strict_app(b: Backend) -> TestApp {
    TestApp::builder(b)
        .configure(|s| s.tokens.refresh_grace_secs = 0)
        .spawn()
        .await
}

async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(b: Backend) {
    let app = strict_app(b).await;
    let (at1, rt1) = session(&app, "u").await;
    let v = refresh_ok(&app, &rt1).await;
    let (at2, rt2) = (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    );
    let (other_at, _) = session(&app, "u").await;

    let res = app.refresh(&rt1).await;
    let body = assert_error(res, 401, "invalid_token").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reused"),
        "{body}"
    );

    for at in [&at1, &at2] {
        assert_eq!(
            app.verify_get(at).await.status(),
            401,
            "family access token still live"
        );
    }
    assert_error(app.refresh(&rt2).await, 401, "invalid_token").await;
    assert_eq!(
        app.verify_get(&other_at).await.status(),
        200,
        "other sessions untouched"
    );
}

async fn refresh_can_narrow_the_scope_but_never_widen_it(b: Backend) {
    let app = spawn_app(b).await;
    let (_, rt) = session(&app, "u").await;
    let res = app
        .post_json(
            "/token/refresh",
            Some("issuer-app"),
            &json!({"refresh_token": rt, "scope": "read admin"}),
        )
        .await;
    assert_error(res, 400, "invalid_request").await;
    let res = app
        .post_json(
            "/token/refresh",
            Some("issuer-app"),
            &json!({"refresh_token": rt, "scope": "read"}),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the failed widening must not consume the token"
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["scope"], "read");
    assert_eq!(
        claims_of(v["access_token"].as_str().unwrap())["scope"],
        "read"
    );
}

async fn a_refresh_token_works_only_for_its_own_client(b: Backend) {
    let app = spawn_app(b).await;
    let (_, rt) = session(&app, "u").await;
    assert_error(app.refresh_as("other-app", &rt).await, 401, "invalid_token").await;
    assert_eq!(
        app.refresh(&rt).await.status(),
        200,
        "still valid for its owner"
    );
}

async fn fifty_concurrent_refreshes_yield_exactly_one_success(b: Backend) {
    let app = Arc::new(strict_app(b).await);
    let (_, rt) = session(&app, "u").await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, rt) = (app.clone(), rt.clone());
            tokio::spawn(async move {
                let res = app.refresh(&rt).await;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    // What the README says of the losers: each is reuse, which revokes the
    // session, so even the winner's new pair is dead.
    assert!(
        answers
            .iter()
            .filter(|a| a.0 == 401)
            .all(
                |a| a.1["error_description"] == "refresh token reused; session revoked"
                    || a.1["error_description"] == "unknown or expired refresh token"
            ),
        "{answers:?}"
    );
    let winner = &answers.iter().find(|a| a.0 == 200).unwrap().1;
    let at = winner["access_token"].as_str().unwrap();
    assert_eq!(app.verify_get(at).await.status(), 401, "the winner's token");
    let rt2 = winner["refresh_token"].as_str().unwrap();
    assert_error(app.refresh(rt2).await, 401, "invalid_token").await;
}

async fn a_revoke_racing_a_refresh_never_leaves_a_live_token_in_the_family(b: Backend) {
    let app = Arc::new(spawn_app(b).await);
    let (mut refresh_first, mut revoke_first) = (0, 0);
    for round in 0..40 {
        let sub = format!("racer-{round}");
        let (at1, rt) = session(&app, &sub).await;
        // Both start behind one barrier; one side gets a head start of a
        // few hundred microseconds, alternating, so both orders happen.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let head_start = Duration::from_micros(300 * (round % 4));
        let (a, r, gate) = (app.clone(), rt.clone(), barrier.clone());
        let refresh = tokio::spawn(async move {
            gate.wait().await;
            if round % 2 == 0 {
                tokio::time::sleep(head_start).await;
            }
            let res = a.refresh(&r).await;
            if res.status() == 200 {
                let v: Value = res.json().await.unwrap();
                Some((
                    v["access_token"].as_str().unwrap().to_owned(),
                    v["refresh_token"].as_str().unwrap().to_owned(),
                ))
            } else {
                None
            }
        });
        let (a, r, gate) = (app.clone(), rt.clone(), barrier.clone());
        let revoke = tokio::spawn(async move {
            gate.wait().await;
            if round % 2 == 1 {
                tokio::time::sleep(head_start).await;
            }
            a.revoke_as(
                "issuer-app",
                &[("token", &r), ("token_type_hint", "refresh_token")],
            )
            .await
            .status()
        });
        let minted = refresh.await.unwrap();
        assert_eq!(revoke.await.unwrap(), 200);
        // Whatever the order, once both finished no token of the family is
        // live: a refresh that won minted a pair the revoke then ended (the
        // rotated token still names the family).
        let mut access = vec![at1];
        let mut refresh_tokens = vec![rt];
        match minted {
            Some((at2, rt2)) => {
                refresh_first += 1;
                access.push(at2);
                refresh_tokens.push(rt2);
            }
            None => revoke_first += 1,
        }
        for at in &access {
            assert_eq!(
                app.verify_get(at).await.status(),
                401,
                "round {round}: live access token"
            );
        }
        for r in &refresh_tokens {
            assert_eq!(
                app.refresh(r).await.status(),
                401,
                "round {round}: live refresh token"
            );
        }
        let list: Value = app
            .admin_get(&format!("/users/{sub}/sessions"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            list["sessions"].as_array().unwrap().len(),
            0,
            "round {round}: {list}"
        );
    }
    eprintln!("revoke vs refresh: refresh first {refresh_first}, revoke first {revoke_first}");
    assert!(
        refresh_first > 0 && revoke_first > 0,
        "both orders must happen: refresh first {refresh_first}, revoke first {revoke_first}"
    );
}

async fn revoking_a_refresh_token_revokes_its_family(b: Backend) {
    let app = spawn_app(b).await;
    let (at, rt) = session(&app, "u").await;
    let res = app
        .revoke_as(
            "issuer-app",
            &[("token", &rt), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&at).await.status(), 401);
    assert_error(app.refresh(&rt).await, 401, "invalid_token").await;
}

async fn logout_everywhere_ends_every_session_and_counts_them(b: Backend) {
    let app = spawn_app(b).await;
    let (a1, _) = session(&app, "u").await;
    let (a2, r2) = session(&app, "u").await;
    let lone = app.access_token("u").await;
    let (keep, _) = session(&app, "someone-else").await;
    let res = app
        .post_json("/token/revoke", Some("admin-app"), &json!({"sub": "u"}))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v,
        json!({"revoked": "all", "sessions": 2, "standalone_access_tokens": 1})
    );
    for at in [&a1, &a2, &lone] {
        assert_eq!(app.verify_get(at).await.status(), 401);
    }
    assert_error(app.refresh(&r2).await, 401, "invalid_token").await;
    assert_eq!(app.verify_get(&keep).await.status(), 200);
    // Tokens issued afterwards are live, and introspection agrees.
    let (a3, r3) = session(&app, "u").await;
    assert_eq!(app.verify_get(&a3).await.status(), 200);
    refresh_ok(&app, &r3).await;
    for (token, active) in [(&a1, false), (&lone, false), (&a3, true)] {
        let res = app.introspect(&[("token", token)]).await;
        assert_eq!(res.json::<Value>().await.unwrap()["active"], active);
    }
}

async fn logout_everywhere_needs_the_admin_grant(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_json("/token/revoke", Some("issuer-app"), &json!({"sub": "u"}))
        .await;
    assert_error(res, 403, "unauthorized_client").await;
    let res = app
        .api
        .get(app.url("/users/u/sessions"))
        .basic_auth("issuer-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "unauthorized_client").await;
}

async fn session_listing_shows_live_families_and_delete_revokes_one(b: Backend) {
    let app = spawn_app(b).await;
    let (at1, _) = session(&app, "u").await;
    let (at2, rt2) = session(&app, "u").await;
    refresh_ok(&app, &rt2).await;
    let v: Value = app
        .admin_get("/users/u/sessions")
        .await
        .json()
        .await
        .unwrap();
    let list = v["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    for s in list {
        for field in [
            "sid",
            "client_id",
            "scope",
            "created",
            "last_refreshed",
            "expires",
        ] {
            assert!(s.get(field).is_some(), "{field} missing in {s}");
        }
        assert_eq!(s["client_id"], "issuer-app");
    }
    let sid1 = claims_of(&at1)["sid"].as_str().unwrap().to_owned();
    let res = app
        .api
        .delete(app.url(&format!("/users/u/sessions/{sid1}")))
        .basic_auth("admin-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.verify_get(&at1).await.status(), 401);
    assert_eq!(app.verify_get(&at2).await.status(), 200);
    let res = app
        .api
        .delete(app.url(&format!("/users/u/sessions/{sid1}")))
        .basic_auth("admin-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    let v: Value = app
        .admin_get("/users/u/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
}

async fn listing_a_user_without_sessions_is_an_empty_list(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.admin_get("/users/nobody/sessions").await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["sessions"], json!([]));
}

async fn past_the_session_cap_the_oldest_family_is_revoked(b: Backend) {
    // The test config caps users at 5 sessions.
    let app = spawn_app(b).await;
    let (first_at, first_rt) = session(&app, "u").await;
    for _ in 0..5 {
        session(&app, "u").await;
    }
    let v: Value = app
        .admin_get("/users/u/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 5);
    assert_eq!(app.verify_get(&first_at).await.status(), 401);
    assert_error(app.refresh(&first_rt).await, 401, "invalid_token").await;
}

/// Cap 2; `other-app`'s sessions are shorter than `issuer-app`'s. Two long
/// sessions, then a short one: the short one is live (access and refresh),
/// the earliest-expiring long one is gone.
async fn past_the_cap_a_shorter_lived_new_session_stays_live(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| {
            s.tokens.max_sessions_per_user = 2;
            for c in &mut s.clients {
                if c.id.as_str() == "other-app" {
                    c.refresh_ttl_secs = Some(600);
                }
            }
        })
        .spawn()
        .await;
    let (first_at, _) = session(&app, "u").await;
    let (second_at, _) = session(&app, "u").await;
    let res = app
        .issue_as("other-app", json!({"sub": "u", "refresh": true}))
        .await;
    assert_eq!(res.status(), 200);
    let short: Value = res.json().await.unwrap();
    assert_eq!(short["refresh_expires_in"], 600);
    let short_at = short["access_token"].as_str().unwrap();
    assert_eq!(app.verify_get(short_at).await.status(), 200, "new session");
    assert_eq!(app.verify_get(&second_at).await.status(), 200);
    assert_eq!(app.verify_get(&first_at).await.status(), 401);
    let rt = short["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh_as("other-app", rt).await.status(), 200);
}

/// Cap 2 on the real binary: two long sessions, then one from a client
/// whose refresh life is shorter than both. The new session is live; the
/// earliest-expiring old one is evicted, and `session_evicted` names it.
#[test]
fn past_the_cap_a_short_lived_new_session_is_never_the_one_evicted() {
    use crate::binary::{Tessera, dev_config_with_clients, log4rs_yaml};
    let config =
        |port: u16| dev_config_with_clients(port, &[("brief", "[issue], refresh_ttl_secs: 600")]);
    let t = Tessera::start(
        config,
        &log4rs_yaml("info"),
        &[
            ("TESSERA_ENV", "dev"),
            ("TESSERA__TOKENS__MAX_SESSIONS_PER_USER", "2"),
        ],
    );
    let issue = |client: &str| -> Value {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{SECRET}"));
        let auth = format!("Basic {basic}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, _, body) = t
            .request(
                "POST",
                "/token/issue",
                &headers,
                r#"{"sub":"u","refresh":true}"#,
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let verify = |v: &Value| {
        let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
        t.get("/token/verify", &[("Authorization", bearer.as_str())])
            .unwrap()
            .0
    };
    let sid = |v: &Value| claims_of(v["access_token"].as_str().unwrap())["sid"].clone();
    let first = issue("app");
    let second = issue("app");
    let short = issue("brief");
    assert_eq!(short["refresh_expires_in"], 600);
    assert_eq!(verify(&short), 200, "the new session is live");
    assert_eq!(verify(&second), 200, "the later-expiring old session stays");
    assert_eq!(
        verify(&first),
        401,
        "the earliest-expiring old session goes"
    );
    let line = t.wait_for_line("logs/audit.log", "session_evicted", |l| {
        l.contains("session_evicted")
    });
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["sid"], sid(&first), "{line}");
    assert_eq!(event["sub"], "u");
    let audit = t.read("logs/audit.log");
    assert_eq!(audit.matches("session_evicted").count(), 1, "{audit}");
}
