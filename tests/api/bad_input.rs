//! Malformed and oversized requests: one table of HTTP cases, each a clear
//! 4xx in the contract's error shape, never a 5xx; then the cases that need
//! a raw socket (huge headers, slow clients, chunked bodies).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tessera::domain::RESERVED_CLAIMS;

use crate::helpers::{Backend, SECRET, TestApp, assert_error, spawn_app};

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

struct Case {
    name: String,
    method: Method,
    path: &'static str,
    client: Option<&'static str>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    /// Text the `error_description` must contain (e.g. the field's name).
    mentions: Option<&'static str>,
}

fn case(name: impl Into<String>, path: &'static str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name: name.into(),
        method: Method::POST,
        path,
        client: Some("issuer-app"),
        content_type: JSON,
        body: body.into(),
        status: 400,
        code: "invalid_request",
        mentions: None,
    }
}

impl Case {
    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
    fn mentions(mut self, text: &'static str) -> Self {
        self.mentions = Some(text);
        self
    }
    fn content_type(mut self, ct: Option<&'static str>) -> Self {
        self.content_type = ct;
        self
    }
    fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }
    fn client(mut self, c: Option<&'static str>) -> Self {
        self.client = c;
        self
    }
}

fn issue(name: impl Into<String>, body: Value) -> Case {
    case(name, "/token/issue", body.to_string())
}

fn table() -> Vec<Case> {
    let mut many_claims = serde_json::Map::new();
    for i in 0..33 {
        many_claims.insert(format!("c{i}"), json!(i));
    }
    let nested = format!(
        r#"{{"sub":"u","claims":{{"deep":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let mut t = vec![
        issue(
            "body over the 16 KiB default limit",
            json!({"sub": "u", "claims": {"blob": "x".repeat(17 * 1024)}}),
        )
        .expect(413, "payload_too_large")
        .mentions("16384"),
        case("content type text/plain", "/token/issue", r#"{"sub":"u"}"#)
            .content_type(Some("text/plain"))
            .expect(415, "unsupported_media_type"),
        case(
            "content type application/xml",
            "/token/issue",
            "<sub>u</sub>",
        )
        .content_type(Some("application/xml"))
        .expect(415, "unsupported_media_type"),
        case(
            "a body without a content type",
            "/token/issue",
            r#"{"sub":"u"}"#,
        )
        .content_type(None)
        .expect(415, "unsupported_media_type"),
        case(
            "a form body on the JSON-only issue endpoint",
            "/token/issue",
            "sub=u",
        )
        .content_type(FORM)
        .expect(415, "unsupported_media_type"),
        case("malformed JSON (cut short)", "/token/issue", r#"{"sub": "#),
        case("JSON that is an array, not an object", "/token/issue", "[]"),
        case("JSON null", "/token/issue", "null"),
        case(
            "JSON with a byte-order mark",
            "/token/issue",
            "\u{feff}{\"sub\":\"u\"}",
        ),
        case("an empty body", "/token/issue", "").mentions("required"),
        issue("an unknown field", json!({"sub": "u", "admin": true})).mentions("`admin`"),
        issue("sub missing", json!({"scope": "read"})).mentions("`sub`"),
        issue("sub empty", json!({"sub": ""})).mentions("sub"),
        issue("sub of 257 bytes", json!({"sub": "x".repeat(257)})).mentions("sub"),
        issue("sub with a space", json!({"sub": "a b"})).mentions("sub"),
        issue("sub with a control character", json!({"sub": "a\u{7}b"})).mentions("sub"),
        issue("sub with hash-tag braces", json!({"sub": "{victim}"})).mentions("sub"),
        issue("sub of the wrong type", json!({"sub": 42})),
        issue("aud with a space", json!({"sub": "u", "aud": "a b"})).mentions("aud"),
        issue(
            "scope over 1024 bytes",
            json!({"sub": "u", "scope": "s".repeat(1025)}),
        )
        .mentions("scope"),
        issue(
            "scope with a quote",
            json!({"sub": "u", "scope": "read \"x"}),
        )
        .mentions("scope"),
        issue(
            "scope with a non-ASCII letter",
            json!({"sub": "u", "scope": "lecture-é"}),
        )
        .mentions("scope"),
        issue(
            "claims with 33 entries",
            json!({"sub": "u", "claims": many_claims}),
        )
        .mentions("claims"),
        issue(
            "claims over 4096 bytes",
            json!({"sub": "u", "claims": {"blob": "x".repeat(5000)}}),
        )
        .mentions("claims"),
        issue(
            "a claim name with a space",
            json!({"sub": "u", "claims": {"a b": 1}}),
        )
        .mentions("claim name"),
        issue(
            "a claim name of 65 characters",
            json!({"sub": "u", "claims": {"c".repeat(65): 1}}),
        )
        .mentions("claim name"),
        issue(
            "claims that are an array",
            json!({"sub": "u", "claims": [1, 2]}),
        ),
        issue("ttl negative", json!({"sub": "u", "ttl": -5})),
        issue("ttl as a string", json!({"sub": "u", "ttl": "900"})),
        case(
            "ttl beyond u64",
            "/token/issue",
            r#"{"sub":"u","ttl":1e30}"#,
        ),
        issue("ttl zero", json!({"sub": "u", "ttl": 0})).mentions("ttl"),
        issue("refresh as a string", json!({"sub": "u", "refresh": "yes"})),
        case(
            "a repeated field (sub twice)",
            "/token/issue",
            r#"{"sub":"u","sub":"admin"}"#,
        )
        .mentions("repeated"),
        case(
            "a repeated key inside claims",
            "/token/issue",
            r#"{"sub":"u","claims":{"role":"editor","role":"admin"}}"#,
        )
        .mentions("repeated"),
        case("claims nested 200 levels deep", "/token/issue", nested),
        case(
            "non-UTF-8 bytes in a JSON string",
            "/token/issue",
            b"{\"sub\":\"u\xff\xfe\"}".to_vec(),
        ),
        case(
            "verify: an unknown field",
            "/token/verify",
            r#"{"token":"x","x":1}"#,
        )
        .client(None)
        .mentions("`x`"),
        case(
            "verify: token of the wrong type",
            "/token/verify",
            r#"{"token":7}"#,
        )
        .client(None),
        case(
            "verify: aud with a space",
            "/token/verify",
            r#"{"token":"x","aud":"a b"}"#,
        )
        .client(None)
        .mentions("aud"),
        case("verify: a form body", "/token/verify", "token=x")
            .client(None)
            .content_type(FORM)
            .expect(415, "unsupported_media_type"),
        case(
            "revoke: a repeated form parameter",
            "/token/revoke",
            "token=a&token=b",
        )
        .content_type(FORM)
        .mentions("repeated"),
        case(
            "revoke: non-UTF-8 bytes in a form body",
            "/token/revoke",
            b"token=%FF%FE\xff".to_vec(),
        )
        .content_type(FORM),
        case(
            "revoke: both token and sub",
            "/token/revoke",
            r#"{"token":"x","sub":"u"}"#,
        )
        .client(Some("admin-app"))
        .mentions("either"),
        case("revoke: text/plain", "/token/revoke", "token=x")
            .content_type(Some("text/plain"))
            .expect(415, "unsupported_media_type"),
        case(
            "refresh: grant_type password",
            "/token/refresh",
            r#"{"refresh_token":"x","grant_type":"password"}"#,
        )
        .mentions("grant_type"),
        case(
            "refresh: an unknown field",
            "/token/refresh",
            r#"{"refresh_token":"x","y":1}"#,
        )
        .mentions("`y`"),
        case(
            "refresh: an empty refresh_token",
            "/token/refresh",
            r#"{"refresh_token":""}"#,
        )
        .mentions("refresh_token"),
        case(
            "refresh: a token that is not ours",
            "/token/refresh",
            r#"{"refresh_token":"abc"}"#,
        )
        .expect(401, "invalid_token"),
        case(
            "introspect: token missing",
            "/token/introspect",
            "token_type_hint=x",
        )
        .content_type(FORM)
        .mentions("token"),
        case(
            "introspect: an unknown JSON field",
            "/token/introspect",
            r#"{"token":"x","z":1}"#,
        )
        .mentions("`z`"),
        case("unknown path", "/nope", "")
            .method(Method::GET)
            .expect(404, "not_found"),
        case("a path below an endpoint", "/token/issue/extra", "").expect(404, "not_found"),
        case("GET on the POST-only issue endpoint", "/token/issue", "")
            .method(Method::GET)
            .expect(405, "method_not_allowed"),
        case(
            "PUT on the issue endpoint",
            "/token/issue",
            r#"{"sub":"u"}"#,
        )
        .method(Method::PUT)
        .expect(405, "method_not_allowed"),
        case("DELETE on verify", "/token/verify", "")
            .method(Method::DELETE)
            .expect(405, "method_not_allowed"),
        case("POST on the revocation feed", "/token/revocations", "{}")
            .expect(405, "method_not_allowed"),
        case(
            "sessions of a sub with braces",
            "/users/%7Bx%7D/sessions",
            "",
        )
        .method(Method::GET)
        .client(Some("admin-app"))
        .mentions("sub"),
        case(
            "a session page larger than the maximum",
            "/users/u/sessions?limit=1000000",
            "",
        )
        .method(Method::GET)
        .client(Some("admin-app"))
        .mentions("limit"),
        case("an empty session page", "/users/u/sessions?limit=0", "")
            .method(Method::GET)
            .client(Some("admin-app"))
            .mentions("limit"),
        case(
            "a session cursor no page gave",
            "/users/u/sessions?cursor=%27%20OR%201%3D1--",
            "",
        )
        .method(Method::GET)
        .client(Some("admin-app"))
        .mentions("cursor"),
        case(
            "a session cursor with a sid that is not a UUID",
            "/users/u/sessions?cursor=1764553650123.not-a-uuid",
            "",
        )
        .method(Method::GET)
        .client(Some("admin-app"))
        .mentions("cursor"),
        case(
            "an unknown query parameter on sessions",
            "/users/u/sessions?page=2",
            "",
        )
        .method(Method::GET)
        .client(Some("admin-app")),
        case(
            "deleting a session whose sid is not a UUID",
            "/users/u/sessions/not-a-uuid",
            "",
        )
        .method(Method::DELETE)
        .client(Some("admin-app")),
    ];
    for name in RESERVED_CLAIMS {
        t.push(
            issue(
                format!("reserved claim name `{name}`"),
                json!({"sub": "u", "claims": { *name: "x" }}),
            )
            .mentions("reserved"),
        );
    }
    t
}

async fn send(app: &TestApp, c: &Case) -> Result<(), String> {
    let mut req = app.api.request(c.method.clone(), app.url(c.path));
    if let Some(client) = c.client {
        req = req.basic_auth(client, Some(SECRET));
    }
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    let res = req
        .body(c.body.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status().as_u16();
    let v: Value = res
        .json()
        .await
        .map_err(|e| format!("{status}: body is not JSON ({e})"))?;
    let description = v["error_description"].as_str().unwrap_or_default();
    if status != c.status || v["error"] != c.code || description.is_empty() {
        return Err(format!(
            "expected {} {}, got {status} {v}",
            c.status, c.code
        ));
    }
    if let Some(text) = c.mentions
        && !description.contains(text)
    {
        return Err(format!("description does not mention `{text}`: {v}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_a_clear_4xx_in_the_error_shape() {
    let app = spawn_app(Backend::Memory).await;
    let cases = table();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(why) = send(&app, c).await {
            failures.push(format!("- {}: {why}", c.name));
        }
    }
    eprintln!("bad input: {} table cases checked", cases.len());
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_limit_is_configurable() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| s.server.body_limit_bytes = 1024)
        .spawn()
        .await;
    let body = json!({"sub": "u", "claims": {"blob": "x".repeat(1500)}});
    let res = app.issue(body).await;
    let v = assert_error(res, 413, "payload_too_large").await;
    assert_eq!(v["error_description"], "request body exceeds 1024 bytes");
    let default = spawn_app(Backend::Memory).await;
    let body = json!({"sub": "u", "claims": {"blob": "x".repeat(1500)}});
    assert_eq!(default.issue(body).await.status(), 200);
}

fn port_of(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends raw bytes, returns what the server answered until it closed (or
/// `limit` passed) and how long that took.
fn raw_exchange(port: u16, request: &[u8], limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    // A server may answer and close before reading everything: ignore EPIPE.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_get_a_4xx_not_a_5xx() {
    let app = spawn_app(Backend::Memory).await;
    let port = port_of(&app);
    // `/healthz` answers 200 to anything else, so only the limit can
    // refuse these; the exact status shows which limit did.
    for (what, extra, want) in [
        (
            "one 100 KiB header",
            format!("X-Big: {}\r\n", "a".repeat(100 * 1024)),
            431,
        ),
        (
            "headers just over the 16 KiB limit",
            format!("X-A: {}\r\nX-B: {}\r\n", "a".repeat(8192), "b".repeat(8192)),
            431,
        ),
        (
            "a 1 MB bearer token",
            format!("Authorization: Bearer {}\r\n", "a".repeat(1 << 20)),
            431,
        ),
        (
            "200 headers",
            (0..200).map(|i| format!("X-H{i}: v\r\n")).collect(),
            431,
        ),
        (
            "a negative Content-Length",
            "Content-Length: -1\r\n".to_owned(),
            400,
        ),
    ] {
        let req = format!("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
        let (res, _) = tokio::task::spawn_blocking(move || {
            raw_exchange(port, req.as_bytes(), Duration::from_secs(10))
        })
        .await
        .unwrap();
        let status = status_of(&res);
        eprintln!("huge headers: {what} -> {status}");
        assert_eq!(status, want, "{what}: {:?}", res.lines().next());
    }
    // Just under the limit passes.
    let under = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-A: {}\r\n\r\n",
        "a".repeat(15 * 1024)
    );
    let (res, _) = tokio::task::spawn_blocking(move || {
        raw_exchange(port, under.as_bytes(), Duration::from_secs(10))
    })
    .await
    .unwrap();
    assert_eq!(status_of(&res), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_within_the_request_timeout() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| s.server.client_request_timeout_ms = 1000)
        .spawn()
        .await;
    let port = port_of(&app);
    let (res, took) = tokio::task::spawn_blocking(move || {
        raw_exchange(
            port,
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    eprintln!(
        "slow client: cut off after {took:?} with {:?}",
        res.lines().next()
    );
    // The contract (docs/http-api.md): `408`, then the connection closes,
    // once `server.client_request_timeout_ms` has passed without a whole
    // request head. actix-http reckons the deadline from a clock it
    // updates every 500 ms (its `DateService`), so the cut can come up to
    // 500 ms early (453 ms with a 500 ms timeout was seen); not much after.
    assert_eq!(status_of(&res), 408, "{res:?}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(3000),
        "cut off after {took:?} with a 1000 ms request timeout"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_chunked_requests_get_a_4xx() {
    let app = spawn_app(Backend::Memory).await;
    let port = port_of(&app);
    let chunk = "x".repeat(8 * 1024);
    let mut chunked = String::from(
        "POST /token/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..4 {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    chunked.push_str("0\r\n\r\n");
    for (what, req, expected) in [
        ("a chunked body over the limit", chunked, Some(413)),
        (
            "a request line of garbage",
            "\x01\x02 nonsense\r\n\r\n".to_owned(),
            None,
        ),
        (
            "a negative Content-Length",
            "POST /token/verify HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n".to_owned(),
            None,
        ),
    ] {
        let (res, _) = tokio::task::spawn_blocking(move || {
            raw_exchange(port, req.as_bytes(), Duration::from_secs(10))
        })
        .await
        .unwrap();
        let status = status_of(&res);
        eprintln!("raw: {what} -> {status}");
        match expected {
            Some(code) => assert_eq!(status, code, "{what}: {res:?}"),
            None => assert!((400..500).contains(&status), "{what}: {res:?}"),
        }
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}
