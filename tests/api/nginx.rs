//! Forward auth through a real nginx (`auth_request` to `GET /token/verify`).
//! Each test runs its own nginx on free loopback ports, with its prefix,
//! config, pid file, logs and temp paths in a temp dir; killed on drop.
//! The config is the one documented in docs/gateways.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::redis_server::free_port;

pub struct Nginx {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn nginx_binary() -> PathBuf {
    for candidate in [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("nginx")
}

/// The gateway: `/api/` is protected by `auth_request` against Tessera and
/// proxied to an upstream (a second server block) that echoes the subject.
pub fn nginx_conf(dir: &Path, port: u16, upstream: u16, tessera: u16) -> String {
    let d = dir.display();
    let user = if running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    format!(
        r#"{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location /api/ {{
            auth_request /_tessera_verify;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_scope $upstream_http_x_auth_scope;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Scope $auth_scope;
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location = /_tessera_verify {{
            internal;
            proxy_pass http://127.0.0.1:{tessera}/token/verify?aud=orders-api;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}

        # DPoP (docs/dpop.md): `Authorization: DPoP` and the `DPoP` header
        # reach Tessera with the subrequest; the original method and URL
        # come from these headers, which nginx sets (overwriting any the
        # client sent).
        # With server nonces on, Tessera's `DPoP-Nonce` goes back to the
        # client, on the 401 too ("always"); nginx relays only
        # WWW-Authenticate by itself.
        location /dpop-api/ {{
            auth_request /_tessera_verify_dpop;
            auth_request_set $dpop_nonce $upstream_http_dpop_nonce;
            add_header DPoP-Nonce $dpop_nonce always;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_scope $upstream_http_x_auth_scope;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Scope $auth_scope;
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location = /_tessera_verify_dpop {{
            internal;
            proxy_pass http://127.0.0.1:{tessera}/token/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}

    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            default_type text/plain;
            return 200 "subject=$http_x_auth_subject scope=$http_x_auth_scope\n";
        }}
    }}
}}
"#
    )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Nginx {
    /// Starts nginx in front of Tessera on `tessera_port`; panics (the test
    /// fails loudly) if nginx is missing: scripts/test.sh installs it.
    pub fn start(tessera_port: u16) -> Self {
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let (port, upstream) = (free_port(), free_port());
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, nginx_conf(dir.path(), port, upstream, tessera_port))
                .expect("write nginx.conf");
            let child = Command::new(nginx_binary())
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run `nginx` ({e}); install it (scripts/test.sh does: apt-get install -y nginx)")
                });
            let mut nginx = Nginx {
                port,
                child: Some(child),
                dir,
            };
            if nginx.wait_until_listening(&[port, upstream]) {
                return nginx;
            }
            last_log =
                std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
        }
        panic!("nginx did not start after 5 attempts; last error.log:\n{last_log}");
    }

    fn wait_until_listening(&mut self, ports: &[u16]) -> bool {
        match self.child.as_mut() {
            Some(child) => crate::binary::wait_until_listening(child, ports),
            None => false,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            // TERM lets the master stop its worker; KILL only if it hangs.
            crate::binary::stop(child);
        }
    }
}

async fn get(url: &str, token: Option<&str>, extra: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request through nginx");
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    (status, www, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_lets_valid_tokens_through_and_stops_the_rest() {
    let app = spawn_app(Backend::Redis).await;
    let tessera_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let nginx = Nginx::start(tessera_port);
    let url = nginx.url("/api/orders");

    // Valid: 200, the subject reaches the upstream, a forged header does not.
    let v = app
        .issue_ok(json!({"sub": "alice", "scope": "read", "aud": "orders-api"}))
        .await;
    let token = v["access_token"].as_str().unwrap().to_owned();
    let (status, _, body) = get(&url, Some(&token), &[("X-Auth-Subject", "mallory")]).await;
    assert_eq!(status, 200, "{body}\n{}", nginx.error_log());
    assert_eq!(body, "subject=alice scope=read\n");

    // A valid token for another API: the audience in the check URL stops it.
    let v = app
        .issue_ok(json!({"sub": "alice", "aud": "billing-api"}))
        .await;
    let other = v["access_token"].as_str().unwrap();
    let (status, www, body) = get(&url, Some(other), &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(www.contains("wrong audience"), "WWW-Authenticate: {www}");
    assert!(!body.contains("subject="), "upstream reached: {body}");

    // Missing token.
    let (status, www, body) = get(&url, None, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(www.starts_with("Bearer"), "WWW-Authenticate: {www}");
    assert!(!body.contains("subject="), "upstream reached: {body}");

    // Garbage token.
    let (status, _, body) = get(&url, Some("not-a-jwt"), &[]).await;
    assert_eq!(status, 401, "{body}");

    // Revoked token.
    assert_eq!(app.revoke(&token).await.status(), 200);
    let (status, www, body) = get(&url, Some(&token), &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(www.contains(r#"error="invalid_token""#), "{www}");
    assert!(!body.contains("subject="), "upstream reached: {body}");

    // Expired token (the test config has no leeway; `exp` is at least 2 s away).
    let v = app
        .issue_ok(json!({"sub": "bob", "ttl": 3, "aud": "orders-api"}))
        .await;
    let short = v["access_token"].as_str().unwrap().to_owned();
    let (status, _, body) = get(&url, Some(&short), &[]).await;
    assert_eq!(status, 200, "not yet expired: {body}");
    assert_eq!(body, "subject=bob scope=\n");
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (status, _, body) = get(&url, Some(&short), &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("subject="), "upstream reached: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_passes_dpop_proofs_and_the_original_request_to_tessera() {
    let app = crate::dpop::app(Backend::Redis).await;
    let tessera_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let nginx = Nginx::start(tessera_port);
    let url = nginx.url("/dpop-api/orders?page=2");
    let htu = nginx.url("/dpop-api/orders");

    let keys = crate::dpop::Keys::new("ES256");
    let res = app
        .issue_as(
            "dpop-app",
            json!({"sub": "erin", "scope": "read", "cnf": {"jkt": keys.jkt("a")}}),
        )
        .await;
    let token = res.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = keys.proofs(json!([
        {"key": "a", "htu": htu, "htm": "GET", "access_token": token},
        {"key": "a", "htu": htu, "htm": "POST", "access_token": token},
        {"key": "a", "htu": nginx.url("/dpop-api/admin"), "htm": "GET", "access_token": token},
    ]));
    let dpop = |proof: &str| {
        vec![
            ("authorization".to_owned(), format!("DPoP {token}")),
            ("dpop".to_owned(), proof.to_owned()),
        ]
    };
    let send = |headers: Vec<(String, String)>| {
        let url = url.clone();
        async move {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            get(&url, None, &pairs).await
        }
    };

    // A fresh proof for this very request: through, the subject upstream.
    let (status, _, body) = send(dpop(&p[0])).await;
    assert_eq!(status, 200, "{body}\n{}", nginx.error_log());
    assert_eq!(body, "subject=erin scope=read\n");

    // The same proof again, a proof for another method or path, Bearer.
    let bearer = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    for (what, headers, code) in [
        ("replayed", dpop(&p[0]), "invalid_dpop_proof"),
        ("another method", dpop(&p[1]), "invalid_dpop_proof"),
        ("another path", dpop(&p[2]), "invalid_dpop_proof"),
        ("Bearer downgrade", bearer, "invalid_token"),
    ] {
        let (status, www, body) = send(headers).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            www.starts_with("DPoP ") && www.contains(code),
            "{what}: {www}"
        );
        assert!(
            !body.contains("subject="),
            "{what}: upstream reached: {body}"
        );
    }
}

/// Server nonces through nginx: the `use_dpop_nonce` 401 reaches the
/// client with Tessera's `DPoP-Nonce`, and so does the success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_relays_the_dpop_nonce_to_the_client() {
    let file = crate::dpop_nonce::secret_file("nginx-secret-0123456789abcdef0123456789");
    let app = crate::dpop_nonce::nonce_app(Backend::Redis, &file, None).await;
    let tessera_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let nginx = Nginx::start(tessera_port);
    let url = nginx.url("/dpop-api/orders");
    let keys = crate::dpop::Keys::new("Ed25519");
    let res = app
        .issue_as(
            "dpop-app",
            json!({"sub": "ivy", "cnf": {"jkt": keys.jkt("a")}}),
        )
        .await;
    let token = res.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |nonce: Option<String>| {
        let (url, token) = (url.clone(), token.clone());
        let mut spec = json!({"key": "a", "htu": url, "htm": "GET", "access_token": token});
        if let Some(n) = nonce {
            spec["nonce"] = json!(n);
        }
        let proof = keys.proof(spec);
        async move {
            reqwest::Client::new()
                .get(&url)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .send()
                .await
                .unwrap()
        }
    };
    let nonce_of = |res: &reqwest::Response| {
        res.headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned())
            .filter(|v| !v.is_empty())
    };
    let res = send(None).await;
    assert_eq!(res.status(), 401, "{}", nginx.error_log());
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(www.contains(r#"error="use_dpop_nonce""#), "{www}");
    let nonce = nonce_of(&res).expect("the 401 carries DPoP-Nonce through nginx");
    let res = send(Some(nonce)).await;
    assert_eq!(res.status(), 200, "{}", nginx.error_log());
    assert!(
        nonce_of(&res).is_some(),
        "the success carries the next nonce"
    );
    let _ = std::fs::remove_file(file);
}
