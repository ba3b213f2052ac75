//! Managed Redis: TLS (standalone, Cluster, Sentinel), refused
//! certificates that say why, mutual TLS, an ACL user with exactly the
//! line docs/deploy.md gives, and a password file read on reconnect.
//! Every server is real and private (`redis_server.rs`, `redis_cluster.rs`,
//! certificates from `tls_pki.rs`).

use std::sync::Arc;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use tessera::config::RedisTlsSettings;
use tessera::store::TokenStore;
use tessera::store::redis::RedisStore;

use crate::helpers::{Backend, Settings, TestApp, assert_revoked};
use crate::redis_cluster::{Node, RedisCluster, RedisSentinel};
use crate::redis_server::{RedisServer, Secured};
use crate::tls_pki::pki;

const PASSWORD: &str = "acl-pass-4f9c2e";
const PREFIX: &str = "tessera:";

const SENTINEL_PASSWORD: &str = "sentinel-pass-8d1a7b";

/// The ACL line of docs/deploy.md that starts with `user tessera on`
/// and the `placeholder` password, with `password` in its place: the docs
/// and the tests cannot drift.
fn documented_line(placeholder: &str, password: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md"))
        .expect("docs/deploy.md");
    let start = format!("user tessera on >{placeholder} ");
    let line = doc
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("docs/deploy.md gives the ACL line `{start}…`"));
    line.replace(&format!(">{placeholder}"), &format!(">{password}"))
}

/// The data nodes' line, for key prefix `tessera:`.
fn documented_acl_line() -> String {
    let line = documented_line("CHANGE-ME", PASSWORD);
    assert!(
        line.contains(&format!("~{PREFIX}*")),
        "the documented line names the default prefix: {line}"
    );
    line
}

/// Adds the documented user to a running node (`ACL SETUSER`), so that a
/// Cluster or Sentinel group made by the shared fixtures serves Tessera
/// as that user only.
fn add_documented_user(node: &Node, line: &str) {
    let mut cmd = deadpool_redis::redis::cmd("ACL");
    cmd.arg("SETUSER");
    for word in line.split_whitespace().skip(1) {
        cmd.arg(word);
    }
    let mut conn = node.connection().expect("connect");
    let _: () = cmd.query(&mut conn).expect("ACL SETUSER");
}

/// A TLS-only server whose only enabled user has exactly the documented
/// ACL (`default` is off).
fn acl_tls_server(cert: &'static str, auth_clients: bool) -> RedisServer {
    RedisServer::start_secured(Secured {
        tls_cert: Some(cert),
        auth_clients,
        conf: format!("user default off\n{}\n", documented_acl_line()),
        login: Some(("tessera".into(), PASSWORD.into())),
    })
}

fn tls(ca: &str, client_cert: bool) -> RedisTlsSettings {
    RedisTlsSettings {
        ca_file: Some(pki().path(ca)),
        cert_file: client_cert.then(|| pki().path("client.pem")),
        key_file: client_cert.then(|| pki().path("client.key")),
    }
}

/// Settings for user `tessera` over TLS trusting `ca`.
fn secured(s: &mut Settings, ca: &str, client_cert: bool) {
    s.redis.key_prefix = PREFIX.into();
    s.redis.username = Some("tessera".into());
    s.redis.password = Some(SecretString::from(PASSWORD));
    s.redis.tls = Some(tls(ca, client_cert));
}

async fn app_on(server: RedisServer, change: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::builder(Backend::Redis)
        .redis_server(Arc::new(server))
        .configure(change)
        .spawn()
        .await
}

/// The error a store built from `app`-like settings gets on its first call.
async fn first_error(server: &RedisServer, change: impl FnOnce(&mut Settings)) -> String {
    let mut settings = TestApp::builder(Backend::Redis).settings();
    settings.redis.url = Some(SecretString::from(server.url()));
    // Room for a handshake on a loaded machine: the refusal, not a timeout.
    settings.redis.timeout_ms = 3000;
    change(&mut settings);
    let store = RedisStore::from_settings(&settings.redis).expect("the store builds lazily");
    let err = store
        .ping()
        .await
        .expect_err("the handshake must be refused");
    tessera::ops::with_causes(&err)
}

/// issue, verify, refresh, reuse, revoke, sessions, logout-everywhere,
/// readyz and metrics, each answering as it should (a NOPERM would be a 5xx
/// or a wrong answer).
async fn every_flow(app: &TestApp) {
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK, "readyz");
    let v = app
        .issue_ok(json!({"sub": "acl-user", "refresh": true}))
        .await;
    let access = v["access_token"].as_str().expect("access").to_owned();
    let refresh = v["refresh_token"].as_str().expect("refresh").to_owned();
    assert_eq!(
        app.verify_get(&access).await.status(),
        StatusCode::OK,
        "verify"
    );
    let rotate = |rt: String| async move {
        let res = app.refresh(&rt).await;
        assert_eq!(res.status(), StatusCode::OK, "refresh");
        res.json::<Value>().await.expect("json")
    };
    let second = rotate(refresh.clone()).await;
    // A retry within the grace window: the same successor.
    assert_eq!(
        rotate(refresh.clone()).await["refresh_token"],
        second["refresh_token"]
    );
    let rotated = rotate(
        second["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
    .await;
    let reuse = app.refresh(&refresh).await;
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED, "reuse is refused");
    let new_access = rotated["access_token"].as_str().expect("access");
    assert_revoked(app.verify_get(new_access).await).await;
    let other = app.access_token("acl-user").await;
    assert_eq!(app.revoke(&other).await.status(), StatusCode::OK, "revoke");
    assert_revoked(app.verify_get(&other).await).await;
    // The revocation feed (written by the scripts, read by the replay).
    let mut feed = crate::revocation_feed::Feed::open(app, None).await;
    let replay = feed.replay().await;
    let jti = crate::helpers::claims_of(&other)["jti"].clone();
    assert!(replay.iter().any(|e| e.data["jti"] == jti), "{replay:?}");
    app.issue_ok(json!({"sub": "acl-user", "refresh": true}))
        .await;
    let sessions = app.admin_get("/users/acl-user/sessions").await;
    assert_eq!(sessions.status(), StatusCode::OK, "sessions");
    let logout = app
        .post_json(
            "/token/revoke",
            Some("admin-app"),
            &json!({"sub": "acl-user"}),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::OK, "logout everywhere");
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK, "metrics");
    let text = metrics.text().await.expect("text");
    assert!(!text.contains(PASSWORD), "no password in metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_works_over_tls_as_an_acl_user_with_the_documented_line() {
    let app = app_on(acl_tls_server("server", false), |s| {
        secured(s, "ca.pem", false)
    })
    .await;
    every_flow(&app).await;
    // The ACL is enforced: the same user cannot reach another prefix.
    let denied: Result<i64, _> = deadpool_redis::redis::cmd("EXISTS")
        .arg("elsewhere:x")
        .query(&mut app.redis().connection());
    let denied = denied.expect_err("keys outside the prefix are refused");
    assert!(denied.to_string().contains("no permissions"), "{denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused_and_the_error_says_so() {
    let server = acl_tls_server("server", false);
    let err = first_error(&server, |s| secured(s, "other-ca.pem", false)).await;
    assert!(err.contains("not signed by a trusted CA"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
    let app = app_on(server, |s| secured(s, "other-ca.pem", false)).await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_for_another_name_is_refused_and_the_error_says_so() {
    let server = acl_tls_server("wrong-name", false);
    let err = first_error(&server, |s| secured(s, "ca.pem", false)).await;
    assert!(err.contains("does not match the host name or IP"), "{err}");
    let app = app_on(server, |s| secured(s, "ca.pem", false)).await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_works_with_the_client_certificate_and_is_refused_without() {
    let server = acl_tls_server("server", true);
    let err = first_error(&server, |s| secured(s, "ca.pem", false)).await;
    assert!(err.contains("client certificate"), "{err}");
    let app = app_on(server, |s| secured(s, "ca.pem", true)).await;
    every_flow(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_file_is_read_again_on_reconnect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("redis-password");
    std::fs::write(&file, "not-the-password\n").expect("write");
    let app = app_on(acl_tls_server("server", false), |s| {
        secured(s, "ca.pem", false);
        s.redis.password = None;
        s.redis.password_file = Some(file.clone());
    })
    .await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    std::fs::write(&file, format!("{PASSWORD}\n")).expect("rotate");
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::OK,
        "no restart needed"
    );
    every_flow(&app).await;
}

/// Issue, verify, revoke on a scale-out app.
async fn issue_verify_revoke(app: &TestApp) {
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "readyz");
    let token = app.access_token("tls-user").await;
    assert_eq!(app.verify_get(&token).await.status(), StatusCode::OK);
    assert_eq!(app.revoke(&token).await.status(), StatusCode::OK);
    assert_revoked(app.verify_get(&token).await).await;
    let v = app
        .issue_ok(json!({"sub": "tls-user", "refresh": true}))
        .await;
    let refresh = v["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.refresh(refresh).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls_serves_every_flow_as_the_documented_acl_user() {
    let cluster = tokio::task::block_in_place(RedisCluster::start_tls);
    for node in &cluster.nodes {
        add_documented_user(node, &documented_acl_line());
    }
    let app = TestApp::builder(Backend::Cluster)
        .urls(cluster.urls())
        .configure(|s| secured(s, "ca.pem", false))
        .spawn()
        .await;
    assert!(cluster.urls()[0].starts_with("rediss://"));
    issue_verify_revoke(&app).await;
    every_flow(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_with_tls_to_sentinels_and_data_nodes_serves_every_flow_as_the_documented_users() {
    let group = tokio::task::block_in_place(RedisSentinel::start_tls);
    add_documented_user(&group.primary, &documented_acl_line());
    for sentinel in &group.sentinels {
        add_documented_user(
            sentinel,
            &documented_line("SENTINEL-CHANGE-ME", SENTINEL_PASSWORD),
        );
    }
    // The sentinels' user in their URLs; the data nodes' in redis.username/password.
    let urls = group
        .urls()
        .iter()
        .map(|u| {
            u.replace(
                "rediss://",
                &format!("rediss://tessera:{SENTINEL_PASSWORD}@"),
            )
        })
        .collect();
    let app = TestApp::builder(Backend::Sentinel)
        .urls(urls)
        .configure(|s| secured(s, "ca.pem", false))
        .spawn()
        .await;
    assert!(group.urls()[0].starts_with("rediss://"));
    issue_verify_revoke(&app).await;
    every_flow(&app).await;
}

/// `INFO section` on `conn`.
fn info(conn: &mut deadpool_redis::redis::Connection, section: &str) -> String {
    deadpool_redis::redis::cmd("INFO")
        .arg(section)
        .query(conn)
        .expect("INFO")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_over_tls_is_one_mget_with_no_ping_and_no_new_connection() {
    let server = Arc::new(RedisServer::start_secured(Secured {
        tls_cert: Some("server"),
        ..Secured::default()
    }));
    let app = TestApp::builder(Backend::Redis)
        .redis_server(server.clone())
        .configure(|s| s.redis.tls = Some(tls("ca.pem", false)))
        .spawn()
        .await;
    let token = app.access_token("fast-user").await;
    for _ in 0..5 {
        assert_eq!(app.verify_get(&token).await.status(), StatusCode::OK);
    }
    let mut admin = server.connection();
    let _: () = deadpool_redis::redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut admin)
        .expect("CONFIG RESETSTAT");
    for _ in 0..50 {
        assert_eq!(app.verify_get(&token).await.status(), StatusCode::OK);
    }
    let stats = info(&mut admin, "stats");
    let connections: usize = stats
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received");
    // At most the shared connection of a worker slot the warm-up did not
    // use: connections are made once per slot, never per request.
    let slots = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    assert!(
        connections < slots,
        "{connections} connections for 50 verifies"
    );
    // Every command since the reset, the test's own INFO and RESETSTAT aside (a new
    // connection's CLIENT SETINFO is unknown to Redis 7.0, not counted), and
    // the revocation feed's reads (`XREAD` tails and `XRANGE` catch-ups, on
    // a connection of its own; a loaded machine can put one in the window).
    let calls: Vec<String> = info(&mut admin, "commandstats")
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter(|l| !l.starts_with("cmdstat_config|resetstat:"))
        .filter(|l| !l.starts_with("cmdstat_xread:") && !l.starts_with("cmdstat_xrange:"))
        .map(|l| l.split(",usec=").next().unwrap_or(l).to_owned())
        .collect();
    assert_eq!(calls, vec!["cmdstat_mget:calls=50"], "50 verifies over TLS");
}
