//! `GET /token/revocations` over HTTP: every kind of revocation reaches a
//! subscriber, a subscriber resumes exactly where it left off (on another
//! instance too), lost positions get a reset, heartbeats flow, and bad
//! requests are refused in the contract's shape.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, TestApp, assert_error, claims_of};

crate::both_backends!(
    every_kind_of_revocation_reaches_a_subscriber,
    a_subscriber_resumes_exactly_after_its_last_event,
    a_new_subscriber_gets_the_retained_history_first,
    a_lost_position_gets_a_reset_then_the_history,
    bad_feed_requests_are_refused_in_the_error_shape,
    heartbeats_flow_while_the_feed_is_live,
    subscribers_past_the_cap_get_503_until_one_leaves,
);

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub data: Value,
}

/// A subscribed feed, read event by event.
pub struct Feed {
    res: Response,
    buf: String,
}

impl Feed {
    pub async fn open(app: &TestApp, last_event_id: Option<&str>) -> Feed {
        let mut req = app
            .api
            .get(app.url("/token/revocations"))
            .basic_auth("verify-only", Some(SECRET));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = req.send().await.expect("feed request");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Feed {
            res,
            buf: String::new(),
        }
    }

    /// The next event (heartbeats included), within 10 s.
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    name: "message".into(),
                    data: Value::Null,
                };
                for line in block.lines() {
                    match line.split_once(": ") {
                        Some(("id", v)) => event.id = Some(v.to_owned()),
                        Some(("event", v)) => event.name = v.to_owned(),
                        Some(("data", v)) => event.data = serde_json::from_str(v).unwrap(),
                        _ => {}
                    }
                }
                if event.name == "message" {
                    continue; // the `retry:` preamble
                }
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("a feed event within 10 s")
                .expect("feed read")
                .expect("the feed ended");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event that is not a heartbeat.
    pub async fn next_revocation(&mut self) -> Event {
        loop {
            let e = self.next().await;
            if e.name != "heartbeat" {
                return e;
            }
        }
    }

    /// Reads until the first heartbeat (the end of the replay); returns
    /// the events before it.
    pub async fn replay(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let e = self.next().await;
            if e.name == "heartbeat" {
                return out;
            }
            out.push(e);
        }
    }
}

async fn strict_app(b: Backend) -> TestApp {
    TestApp::builder(b)
        .configure(|s| s.tokens.refresh_grace_secs = 0)
        .spawn()
        .await
}

async fn every_kind_of_revocation_reaches_a_subscriber(b: Backend) {
    let app = strict_app(b).await;
    let mut feed = Feed::open(&app, None).await;
    assert!(feed.replay().await.is_empty());

    let token = app.access_token("alice").await;
    assert_eq!(app.revoke(&token).await.status(), 200);
    let e = feed.next_revocation().await;
    let claims = claims_of(&token);
    assert_eq!(e.name, "token");
    assert_eq!(e.data["type"], "token");
    assert_eq!(e.data["sub"], "alice");
    assert_eq!(e.data["jti"], claims["jti"]);
    assert_eq!(e.data["exp"], claims["exp"]);
    assert!(e.id.is_some());

    // Reuse detection revokes the session.
    let v = app.issue_ok(json!({"sub": "bob", "refresh": true})).await;
    let rt1 = v["refresh_token"].as_str().unwrap();
    let sid = claims_of(v["access_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(app.refresh(rt1).await.status(), 200);
    assert_eq!(app.refresh(rt1).await.status(), 401);
    let e = feed.next_revocation().await;
    assert_eq!(
        (e.name.as_str(), &e.data["sub"], &e.data["sid"]),
        ("session", &json!("bob"), &sid)
    );

    // A refresh-token revocation, and a session deleted by an admin.
    for by_delete in [false, true] {
        let v = app.issue_ok(json!({"sub": "carol", "refresh": true})).await;
        let sid = claims_of(v["access_token"].as_str().unwrap())["sid"].clone();
        let res = if by_delete {
            app.api
                .delete(app.url(&format!("/users/carol/sessions/{}", sid.as_str().unwrap())))
                .basic_auth("admin-app", Some(SECRET))
                .send()
                .await
                .unwrap()
        } else {
            let rt = v["refresh_token"].as_str().unwrap();
            app.revoke_as(
                "issuer-app",
                &[("token", rt), ("token_type_hint", "refresh_token")],
            )
            .await
        };
        assert!(res.status().is_success(), "{}", res.status());
        let e = feed.next_revocation().await;
        assert_eq!((e.name.as_str(), &e.data["sid"]), ("session", &sid));
        assert!(
            e.data["exp"].is_i64() || b == Backend::Cluster,
            "{:?}",
            e.data
        );
    }

    // Logout everywhere: one user event, `before` = the moment (ms).
    app.access_token("dave").await;
    let before = chrono::Utc::now().timestamp_millis();
    let res = app
        .post_json("/token/revoke", Some("admin-app"), &json!({"sub": "dave"}))
        .await;
    assert_eq!(res.status(), 200);
    let e = feed.next_revocation().await;
    assert_eq!((e.name.as_str(), &e.data["sub"]), ("user", &json!("dave")));
    let at = e.data["before"].as_i64().unwrap();
    assert!(
        at >= before - 1000 && at <= chrono::Utc::now().timestamp_millis(),
        "{at}"
    );
}

async fn a_subscriber_resumes_exactly_after_its_last_event(b: Backend) {
    let app = TestApp::builder(b).spawn().await;
    resume_on(&app, &app).await;
}

/// Subscribes on `a`, disconnects, revokes twice on `b`, resumes on `b`.
pub async fn resume_on(a: &TestApp, b: &TestApp) {
    let mut feed = Feed::open(a, None).await;
    feed.replay().await;
    let first = a.access_token("erin").await;
    assert_eq!(a.revoke(&first).await.status(), 200);
    let seen = feed.next_revocation().await;
    drop(feed);
    let mut missed = Vec::new();
    for _ in 0..2 {
        let t = b.access_token("erin").await;
        assert_eq!(b.revoke(&t).await.status(), 200);
        missed.push(claims_of(&t)["jti"].clone());
    }
    let mut feed = Feed::open(b, seen.id.as_deref()).await;
    let replayed: Vec<Value> = feed
        .replay()
        .await
        .into_iter()
        .map(|e| e.data["jti"].clone())
        .collect();
    assert_eq!(replayed, missed, "exactly what was missed, in order");
}

async fn a_new_subscriber_gets_the_retained_history_first(b: Backend) {
    let app = TestApp::builder(b).spawn().await;
    let mut jtis = Vec::new();
    for _ in 0..3 {
        let t = app.access_token("frank").await;
        assert_eq!(app.revoke(&t).await.status(), 200);
        jtis.push(claims_of(&t)["jti"].clone());
    }
    let mut feed = Feed::open(&app, None).await;
    let history: Vec<Value> = feed
        .replay()
        .await
        .into_iter()
        .map(|e| e.data["jti"].clone())
        .collect();
    assert_eq!(history, jtis);
}

async fn a_lost_position_gets_a_reset_then_the_history(b: Backend) {
    let app = TestApp::builder(b).spawn().await;
    let t = app.access_token("gina").await;
    assert_eq!(app.revoke(&t).await.status(), 200);
    // Older than the retention, and newer than anything the store holds
    // (as after a Redis that lost its data).
    for lost in ["1-0", "99999999999999-0"] {
        let mut feed = Feed::open(&app, Some(lost)).await;
        let replay = feed.replay().await;
        assert_eq!(replay[0].name, "reset", "{lost}: {replay:?}");
        assert_eq!(replay.len(), 2, "{lost}: the reset, then the history");
        assert_eq!(replay[1].data["jti"], claims_of(&t)["jti"]);
    }
}

async fn bad_feed_requests_are_refused_in_the_error_shape(b: Backend) {
    let app = TestApp::builder(b).spawn().await;
    let url = app.url("/token/revocations");
    let res = app.api.get(&url).send().await.unwrap();
    assert_error(res, 401, "invalid_client").await;
    let res = app
        .api
        .get(&url)
        .basic_auth("narrow-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a client without the verify grant");
    for bad in ["abc", "1-", "-1", "1-2-3"] {
        let res = app
            .api
            .get(&url)
            .basic_auth("verify-only", Some(SECRET))
            .header("Last-Event-ID", bad)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "invalid_request").await;
    }
    let res = app
        .api
        .get(format!("{url}?last_event_id="))
        .basic_auth("verify-only", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_request").await;
    let res = app
        .api
        .get(format!("{url}?since=1"))
        .basic_auth("verify-only", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_request").await;
}

async fn heartbeats_flow_while_the_feed_is_live(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| s.verify.feed_heartbeat_secs = 1)
        .spawn()
        .await;
    let mut feed = Feed::open(&app, None).await;
    feed.replay().await;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let e = feed.next().await;
        assert_eq!(e.name, "heartbeat");
        assert!(e.data["at"].is_i64());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

async fn subscribers_past_the_cap_get_503_until_one_leaves(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| {
            s.verify.feed_max_subscribers = 2;
            s.verify.feed_heartbeat_secs = 1;
        })
        .spawn()
        .await;
    let first = Feed::open(&app, None).await;
    let _second = Feed::open(&app, None).await;
    let over = || {
        app.api
            .get(app.url("/token/revocations"))
            .basic_auth("verify-only", Some(SECRET))
            .send()
    };
    let body = assert_error(over().await.unwrap(), 503, "temporarily_unavailable").await;
    assert!(body.to_string().contains("revocation feed"), "{body}");
    drop(first);
    // The slot frees when the server notices the closed connection (at
    // the latest when the next heartbeat cannot be written).
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = over().await.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_subscriber_resumes_on_another_instance() {
    let a = TestApp::builder(Backend::Cluster).spawn().await;
    let b = TestApp::builder(Backend::Cluster).peer(&a).spawn().await;
    resume_on(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_subscriber_resumes_on_another_instance() {
    let a = TestApp::builder(Backend::Sentinel).spawn().await;
    let b = TestApp::builder(Backend::Sentinel).peer(&a).spawn().await;
    resume_on(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_subscriber_resumes_on_another_instance() {
    let a = TestApp::builder(Backend::Redis).spawn().await;
    let b = TestApp::builder(Backend::Redis).peer(&a).spawn().await;
    resume_on(&a, &b).await;
}

/// The subscriber `docs/local-verification.md` shows (Python, standard
/// library only) follows the feed: a revocation reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_python_subscriber_sees_a_revocation() {
    use std::io::BufRead;
    let app = TestApp::builder(Backend::Memory).spawn().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/feed_subscriber.py"
    );
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .env("TESSERA_URL", &app.address)
        .env("TESSERA_CLIENT_ID", "verify-only")
        .env("TESSERA_CLIENT_SECRET", SECRET)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test.sh installs it)");
    let stdout = child.stdout.take().unwrap();
    let _child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{what}` line"));
            if line.contains(what) {
                return line;
            }
        }
    };
    wait_for("heartbeat");
    let token = app.access_token("henry").await;
    assert_eq!(app.revoke(&token).await.status(), 200);
    let jti = claims_of(&token)["jti"].as_str().unwrap().to_owned();
    let line = wait_for(&jti);
    assert!(line.starts_with("token "), "{line}");
}
