//! Configuration reload on the real binary: `kill -HUP` re-reads
//! config.yaml on the running process. Each test keeps a light load of
//! verify requests running through every reload (`Load`): every answer
//! must be 200 or 401 as expected, never a connection error or a 5xx.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::binary::{Tessera, log4rs_yaml};
use crate::helpers::{KeyAlg, SECRET, secret_hash, write_key};
use crate::redis_server::RedisServer;

/// The second secret some clients get (a secret rotation).
const OTHER_SECRET: &str = "another-secret-9876543210";

fn other_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        tessera::domain::SecretHash::generate(OTHER_SECRET)
            .unwrap()
            .expose()
            .to_owned()
    })
}

/// A config: `clients` as YAML list items, `keys` as YAML list items, and
/// any further top-level YAML.
fn config(
    port: u16,
    redis: Option<&str>,
    keys: &[String],
    clients: &[String],
    more: &str,
) -> String {
    let redis = redis.map_or(String::new(), |url| {
        format!("redis: {{ url: \"{url}\" }}\n")
    });
    format!(
        "server: {{ listen: \"127.0.0.1:{port}\", workers: 2 }}\nissuer: \"http://tessera.test\"\n\
         {redis}logging: {{ config: \"log4rs.yaml\" }}\nkeys:\n{}clients:\n{}{more}\n",
        keys.iter()
            .map(|k| format!("  - {k}\n"))
            .collect::<String>(),
        clients
            .iter()
            .map(|c| format!("  - {c}\n"))
            .collect::<String>(),
    )
}

fn key(kid: &str, status: &str, verify_until: Option<String>) -> String {
    let until = verify_until.map_or(String::new(), |u| format!(", verify_until: \"{u}\""));
    format!("{{ kid: \"{kid}\", path: \"{kid}.pem\", status: \"{status}\"{until} }}")
}

fn client(id: &str, hash: &str) -> String {
    format!("{{ id: \"{id}\", secret_hash: \"{hash}\", grants: [issue, verify] }}")
}

/// One request on its own connection: (status, body).
fn request(port: u16, req: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or(format!("no head: {raw:?}"))?;
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok());
    Ok((
        status.ok_or(format!("no status: {head:?}"))?,
        body.to_owned(),
    ))
}

fn verify(port: u16, token: &str) -> Result<u16, String> {
    let req = format!(
        "GET /token/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    request(port, &req).map(|(status, _)| status)
}

/// `POST /token/issue` as `id:secret`: (status, access token or body).
fn issue(t: &Tessera, id: &str, secret: &str) -> (u16, String) {
    let auth = STANDARD.encode(format!("{id}:{secret}"));
    let body = r#"{"sub":"user-1"}"#;
    let req = format!(
        "POST /token/issue HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, body) = request(t.port, &req).expect("issue request");
    let token = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned));
    (status, token.unwrap_or(body))
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let head = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let head: serde_json::Value = serde_json::from_slice(&head).unwrap();
    head["kid"].as_str().unwrap().to_owned()
}

fn jwks_kids(t: &Tessera) -> Vec<String> {
    let (status, _, body) = t.get("/.well-known/jwks.json", &[]).unwrap();
    assert_eq!(status, 200);
    let set: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut kids: Vec<String> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// `tessera_config_reloads_total` by outcome: (ok, error).
fn reloads(t: &Tessera) -> (u64, u64) {
    let (_, _, body) = t.get("/metrics", &[]).unwrap();
    let count = |outcome: &str| {
        let prefix = format!("tessera_config_reloads_total{{outcome=\"{outcome}\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
            .trim()
            .parse::<f64>()
            .unwrap() as u64
    };
    (count("ok"), count("error"))
}

/// Writes `text` as config.yaml, sends SIGHUP and waits (5 s at most)
/// until the reload counted `ok` (or `error` when `!ok`).
fn reload(t: &Tessera, text: String, ok: bool) {
    let before = reloads(t);
    std::fs::write(t.path("config.yaml"), text).unwrap();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &t.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -HUP failed");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (good, bad) = reloads(t);
        if (ok && good > before.0) || (!ok && bad > before.1) {
            assert_eq!(
                (good - before.0) + (bad - before.1),
                1,
                "one reload, one outcome"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {} reload within 5 s; stdout:\n{}",
            if ok { "ok" } else { "error" },
            t.read("stdout.log")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A background loop of verify requests for one token.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Result<u16, String>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, token: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let answer = verify(port, &token);
                v.lock().unwrap().push(answer);
            }
        });
        Load {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// Stops the loop once it has `min` answers (10 s at most: a busy
    /// machine answers slowly); every answer in order.
    fn finish(mut self, min: usize) -> Vec<Result<u16, String>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.seen.lock().unwrap().len() < min && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// Asserts every answer is `first` until some point and `then` after it
    /// (never back), with no error and at least `min` answers.
    fn assert_only(self, what: &str, first: u16, then: u16, min: usize) -> usize {
        let seen = self.finish(min);
        let errors: Vec<_> = seen.iter().filter(|r| r.is_err()).take(3).collect();
        assert!(errors.is_empty(), "the load saw errors: {errors:?}");
        let statuses: Vec<u16> = seen.into_iter().map(Result::unwrap).collect();
        let turned = statuses
            .iter()
            .position(|s| *s != first)
            .unwrap_or(statuses.len());
        assert!(
            statuses[turned..].iter().all(|s| *s == then),
            "answers other than {first} then {then}: {:?}",
            statuses
                .iter()
                .filter(|s| **s != first && **s != then)
                .take(5)
                .collect::<Vec<_>>()
        );
        assert!(
            statuses.len() >= min,
            "only {} requests in the load",
            statuses.len()
        );
        let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
        let then_part = if first == then {
            String::new()
        } else {
            format!(" then {} answered {then}", count(then))
        };
        println!(
            "{what}: {} verify requests under load, {} answered {first}{then_part}, no error or 5xx",
            statuses.len(),
            count(first),
        );
        statuses.len()
    }
}

/// Polls `f` until it returns true, 5 s at most.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(redis: Option<&RedisServer>, clients: &[String]) -> Tessera {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("k1.pem"), KeyAlg::EdDSA);
    let url = redis.map(RedisServer::url);
    let (keys, clients) = (vec![key("k1", "active", None)], clients.to_vec());
    Tessera::start_in(
        dir,
        move |port| config(port, url.as_deref(), &keys, &clients, ""),
        &log4rs_yaml("info"),
        &[],
    )
}

fn clients_come_and_go(redis: Option<&RedisServer>) {
    let t = start(redis, &[client("app", secret_hash())]);
    let url = redis.map(RedisServer::url);
    let keys = [key("k1", "active", None)];
    let (status, token) = issue(&t, "app", SECRET);
    assert_eq!(status, 200, "{token}");
    let load = Load::start(t.port, token);

    // Added: it issues at once, no restart.
    assert_eq!(issue(&t, "late", SECRET).0, 401);
    let both = [client("app", secret_hash()), client("late", secret_hash())];
    reload(&t, config(t.port, url.as_deref(), &keys, &both, ""), true);
    assert_eq!(issue(&t, "late", SECRET).0, 200, "an added client issues");
    let audit = t.wait_for_line("logs/audit.log", "config_reload", |l| {
        l.contains("config_reload")
    });
    assert!(audit.contains(r#""clients_added":["late"]"#), "{audit}");

    // Removed, and app's secret changed: the success cache (which holds
    // both, proved a moment ago) keeps neither valid.
    assert_eq!(issue(&t, "app", SECRET).0, 200);
    let rotated = [client("app", other_hash())];
    reload(
        &t,
        config(t.port, url.as_deref(), &keys, &rotated, ""),
        true,
    );
    assert_eq!(
        issue(&t, "late", SECRET).0,
        401,
        "a removed client is refused"
    );
    assert_eq!(issue(&t, "app", SECRET).0, 401, "the old secret is refused");
    assert_eq!(
        issue(&t, "app", OTHER_SECRET).0,
        200,
        "the new secret works"
    );
    let store = if redis.is_some() { "redis" } else { "memory" };
    load.assert_only(&format!("clients come and go ({store})"), 200, 200, 20);
}

#[test]
fn a_client_added_by_sighup_issues_and_a_removed_one_is_refused_memory() {
    clients_come_and_go(None);
}

#[test]
fn a_client_added_by_sighup_issues_and_a_removed_one_is_refused_redis() {
    let redis = RedisServer::start();
    clients_come_and_go(Some(&redis));
}

#[test]
fn a_key_rotated_by_sighup_signs_at_once_and_the_old_one_verifies_until_it_is_retired() {
    let t = start(None, &[client("app", secret_hash())]);
    let clients = [client("app", secret_hash())];
    let (_, t1) = issue(&t, "app", SECRET);
    assert_eq!(kid_of(&t1), "k1");
    let load = Load::start(t.port, t1.clone());

    // k2 signs, k1 retired for an hour: both in the JWKS at once.
    write_key(&t.path("k2.pem"), KeyAlg::EdDSA);
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let rotated = [
        key("k2", "active", None),
        key("k1", "retired", Some(in_an_hour)),
    ];
    reload(&t, config(t.port, None, &rotated, &clients, ""), true);
    assert_eq!(jwks_kids(&t), ["k1", "k2"]);
    let (_, t2) = issue(&t, "app", SECRET);
    assert_eq!(kid_of(&t2), "k2", "the new active key signs");
    assert_eq!(verify(t.port, &t1), Ok(200), "the old key still verifies");

    // k3 signs, k2 retired in 3 s, k1 removed: k1's token (checked and
    // cached many times by now) is refused at once; k2's until its
    // verify_until.
    write_key(&t.path("k3.pem"), KeyAlg::EdDSA);
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let next = [
        key("k3", "active", None),
        key("k2", "retired", Some(until.to_rfc3339())),
    ];
    reload(&t, config(t.port, None, &next, &clients, ""), true);
    assert_eq!(
        verify(t.port, &t1),
        Ok(401),
        "a removed key's token is refused at once"
    );
    assert_eq!(jwks_kids(&t), ["k2", "k3"]);
    assert_eq!(
        verify(t.port, &t2),
        Ok(200),
        "k2 verifies until its verify_until"
    );
    load.assert_only("two key rotations (k1 removed)", 200, 401, 20);
    eventually("k2's token refused after its verify_until", || {
        verify(t.port, &t2) == Ok(401)
    });
    assert!(
        chrono::Utc::now() >= until,
        "refused before its verify_until"
    );
    assert_eq!(jwks_kids(&t), ["k3"]);
    let (_, t3) = issue(&t, "app", SECRET);
    assert_eq!((kid_of(&t3), verify(t.port, &t3)), ("k3".into(), Ok(200)));
}

#[test]
fn a_broken_edit_keeps_the_last_good_configuration_entirely_and_says_why() {
    let t = start(None, &[client("app", secret_hash())]);
    let keys = [key("k1", "active", None)];
    let (_, token) = issue(&t, "app", SECRET);
    let load = Load::start(t.port, token);
    // Each edit adds client `half`: applied in part, it would issue.
    let with_half = |more: &str, keys: &[String]| {
        let clients = [client("app", secret_hash()), client("half", secret_hash())];
        config(t.port, None, keys, &clients, more)
    };
    let broken = [
        (
            "YAML error",
            with_half("", &keys).replace("grants: [issue, verify] }", "grants: [issue, verify }"),
            "bracket",
        ),
        (
            "validation error",
            with_half("tokens: { access_ttl_secs: 0 }", &keys),
            "tokens.access_ttl_secs",
        ),
        (
            "unreadable key file",
            with_half("", &[key("k9", "active", None)]),
            "k9",
        ),
    ];
    for (i, (what, text, reason)) in broken.into_iter().enumerate() {
        reload(&t, text, false);
        let line = t.wait_for_line("stdout.log", what, |l| {
            l.starts_with("ERROR") && l.contains("configuration reload") && l.contains(reason)
        });
        assert!(
            line.contains("keeping the last good configuration"),
            "{what}: {line}"
        );
        for secret in [SECRET, secret_hash()] {
            assert!(!line.contains(secret), "{what}: a secret in {line}");
        }
        assert_eq!(issue(&t, "half", SECRET).0, 401, "{what}: applied in part");
        assert_eq!(
            issue(&t, "app", SECRET).0,
            200,
            "{what}: the old configuration serves"
        );
        assert_eq!(reloads(&t), (0, i as u64 + 1));
    }
    let audit = t.wait_for_line("logs/audit.log", "config_reload error", |l| {
        l.contains("config_reload") && l.contains(r#""stage":"keys""#)
    });
    assert!(audit.contains(r#""outcome":"error""#), "{audit}");

    // Fixed: applied.
    reload(&t, with_half("", &keys), true);
    assert_eq!(issue(&t, "half", SECRET).0, 200);
    assert_eq!(reloads(&t), (1, 3));
    load.assert_only("three broken edits, then the fix", 200, 200, 20);
}

#[test]
fn restart_only_settings_are_named_in_a_warning_and_left_while_the_rest_applies() {
    let t = start(None, &[client("app", secret_hash())]);
    let (_, token) = issue(&t, "app", SECRET);
    let load = Load::start(t.port, token.clone());
    let other_port = crate::binary::free_port();
    let keys = [key("k1", "active", None)];
    // app gets its own rate (1 a second, burst 1) and verify needs an
    // audience: both reload. The listen address and the workers do not.
    let limited = [format!(
        "{{ id: \"app\", secret_hash: \"{}\", grants: [issue, verify], rate_limit: {{ per_sec: 1, burst: 1 }} }}",
        secret_hash()
    )];
    let text = config(
        t.port,
        None,
        &keys,
        &limited,
        "verify: { require_audience: true }",
    )
    .replace(
        &format!("127.0.0.1:{}\", workers: 2", t.port),
        &format!("127.0.0.1:{other_port}\", workers: 3"),
    );
    reload(&t, text, true);
    let line = t.wait_for_line("stdout.log", "the restart warning", |l| {
        l.starts_with("WARN") && l.contains("after a restart")
    });
    assert!(line.contains("server.listen, server.workers"), "{line}");
    // Still served where it was, nothing on the new address.
    assert!(TcpStream::connect(("127.0.0.1", other_port)).is_err());
    let (status, _, body) = t
        .get(
            "/token/verify",
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .unwrap();
    assert_eq!(status, 400, "verify.require_audience applied: {body}");
    let statuses: Vec<u16> = (0..3).map(|_| issue(&t, "app", SECRET).0).collect();
    assert!(
        statuses.contains(&429),
        "app's own rate applied: {statuses:?}"
    );
    load.assert_only(
        "restart-only keys (verify.require_audience on)",
        200,
        400,
        20,
    );
}

#[test]
fn sighup_is_caught_from_the_moment_the_port_accepts() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("k1.pem"), KeyAlg::EdDSA);
    std::fs::write(dir.path().join("log4rs.yaml"), log4rs_yaml("info")).unwrap();
    let port = crate::binary::free_port();
    let keys = [key("k1", "active", None)];
    let text = config(port, None, &keys, &[client("app", secret_hash())], "");
    std::fs::write(dir.path().join("config.yaml"), text).unwrap();
    let mut child = crate::binary::command(dir.path())
        .args(["serve", "--config", "config.yaml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // SIGHUP at the first accepted connection (its default action would
    // end the process).
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera never listened");
        assert!(
            child.try_wait().unwrap().is_none(),
            "tessera exited at start-up"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_millis(300));
    let alive = child.try_wait().unwrap().is_none();
    let health = request(
        port,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    crate::binary::stop(child);
    assert!(alive, "SIGHUP ended the process");
    assert_eq!(health.map(|(s, _)| s), Ok(200));
}

#[test]
fn prod_safety_rules_refuse_a_reloaded_file_as_they_refuse_it_at_start_up() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("k1.pem"), KeyAlg::EdDSA);
    let url = redis.url();
    let keys = [key("k1", "active", None)];
    let prod = move |port: u16, clients: &[String]| {
        config(port, Some(&url), &keys, clients, "")
            .replace("http://tessera.test", "https://auth.example.com")
    };
    let first = prod.clone();
    let t = Tessera::start_in(
        dir,
        move |port| first(port, &[client("app", secret_hash())]),
        &log4rs_yaml("info"),
        &[("TESSERA_ENV", "prod")],
    );
    // The dev demo client, refused in prod: the reload is refused whole.
    let demo = client(
        tessera::config::DEMO_CLIENT_ID,
        tessera::config::DEMO_SECRET_HASH,
    );
    reload(
        &t,
        prod(t.port, &[client("app", secret_hash()), demo]),
        false,
    );
    let line = t.wait_for_line("stdout.log", "the prod refusal", |l| {
        l.starts_with("ERROR") && l.contains("configuration reload")
    });
    assert!(line.contains("clients[1].id"), "{line}");
    let demo_secret = "demo-secret-not-for-production";
    assert_eq!(
        issue(&t, tessera::config::DEMO_CLIENT_ID, demo_secret).0,
        401
    );
    assert_eq!(issue(&t, "app", SECRET).0, 200);
}
