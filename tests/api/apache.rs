//! Apache httpd with `mod_auth_openidc` as an OAuth 2.0 resource server,
//! introspecting bearer tokens at Tessera's RFC 7662 endpoint. The module
//! only accepts an https introspection URL, so a second virtual host of the
//! same Apache terminates TLS (a throwaway self-signed certificate) in front
//! of Tessera. Everything lives in a temp dir; killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use serde_json::json;

use crate::helpers::{Backend, SECRET, spawn_app};
use crate::redis_server::free_port;

/// Seconds Apache may reuse an introspection answer (the revocation delay).
const INTROSPECTION_INTERVAL_SECS: u64 = 2;

struct Apache {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

const MODULES: &str = "/usr/lib/apache2/modules";

fn apache_conf(d: &Path, port: u16, tls_port: u16, tessera: u16, upstream: u16) -> String {
    let d = d.display();
    format!(
        r#"ServerRoot {d}
ServerName 127.0.0.1
DefaultRuntimeDir {d}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel warn
User nobody
Group nogroup
Listen 127.0.0.1:{port}
Listen 127.0.0.1:{tls_port}
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule proxy_module {MODULES}/mod_proxy.so
LoadModule proxy_http_module {MODULES}/mod_proxy_http.so
LoadModule socache_shmcb_module {MODULES}/mod_socache_shmcb.so
LoadModule ssl_module {MODULES}/mod_ssl.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so

OIDCOAuthIntrospectionEndpoint       https://127.0.0.1:{tls_port}/token/introspect
OIDCOAuthIntrospectionEndpointAuth   client_secret_basic
OIDCOAuthClientID                    issuer-app
OIDCOAuthClientSecret                "{SECRET}"
OIDCOAuthSSLValidateServer           Off
OIDCOAuthRemoteUserClaim             sub
OIDCAuthNHeader                      X-Auth-Subject
OIDCOAuthTokenIntrospectionInterval  {INTROSPECTION_INTERVAL_SECS}
OIDCCryptoPassphrase                 "test-only-passphrase"

<VirtualHost 127.0.0.1:{port}>
    <Location /api/>
        AuthType oauth20
        Require claim aud:orders-api
        ProxyPass http://127.0.0.1:{upstream}/api/
    </Location>
</VirtualHost>

<VirtualHost 127.0.0.1:{tls_port}>
    SSLEngine on
    SSLCertificateFile {d}/cert.pem
    SSLCertificateKeyFile {d}/key.pem
    ProxyPass / http://127.0.0.1:{tessera}/
</VirtualHost>
"#
    )
}

fn self_signed_certificate(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}); scripts/test.sh installs it (apt-get install -y openssl)")
        });
    assert!(out.status.success(), "openssl: {out:?}");
}

impl Apache {
    fn start(tessera: u16, upstream: u16) -> Self {
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            // Apache's children run as `nobody`.
            let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
            self_signed_certificate(dir.path());
            let (port, tls_port) = (free_port(), free_port());
            let conf = dir.path().join("httpd.conf");
            std::fs::write(
                &conf,
                apache_conf(dir.path(), port, tls_port, tessera, upstream),
            )
            .expect("write httpd.conf");
            let child = Command::new("/usr/sbin/apache2")
                .arg("-f")
                .arg(&conf)
                .arg("-DFOREGROUND")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run /usr/sbin/apache2 ({e}); scripts/test.sh installs it (apt-get install -y apache2 libapache2-mod-auth-openidc)")
                });
            let mut apache = Apache {
                port,
                child: Some(child),
                dir,
            };
            if apache.wait_until_listening(&[port, tls_port]) {
                return apache;
            }
            last_log = apache.error_log();
        }
        panic!("apache2 did not start after 5 attempts; last error.log:\n{last_log}");
    }

    fn wait_until_listening(&mut self, ports: &[u16]) -> bool {
        match self.child.as_mut() {
            Some(child) => crate::binary::wait_until_listening(child, ports),
            None => false,
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::binary::stop(child);
        }
    }
}

/// An upstream that echoes the `X-Auth-Subject` it receives.
fn spawn_echo() -> (u16, ServerHandle) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest| async move {
            let sub = req
                .headers()
                .get("x-auth-subject")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            HttpResponse::Ok().body(format!("subject={sub}\n"))
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind echo upstream");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (port, handle)
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .get(url)
        .header("X-Auth-Subject", "mallory");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request through apache");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_mod_auth_openidc_introspects_tokens() {
    let app = spawn_app(Backend::Redis).await;
    let tessera: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let (upstream, _echo) = spawn_echo();
    let apache = Apache::start(tessera, upstream);
    let url = format!("http://127.0.0.1:{}/api/orders", apache.port);
    let token_of = |v: serde_json::Value| v["access_token"].as_str().unwrap().to_owned();

    // Valid: the subject reaches the upstream, the client's header does not.
    let token = token_of(
        app.issue_ok(json!({"sub": "alice", "aud": "orders-api"}))
            .await,
    );
    let (status, body) = get(&url, Some(&token)).await;
    assert_eq!(status, 200, "{body}\n{}", apache.error_log());
    assert_eq!(body, "subject=alice\n");

    // A valid token for another API: `Require claim aud:` stops it.
    let other = token_of(
        app.issue_ok(json!({"sub": "alice", "aud": "billing-api"}))
            .await,
    );
    let (status, body) = get(&url, Some(&other)).await;
    assert!(status == 401 || status == 403, "{status} {body}");
    assert!(!body.contains("subject="), "upstream reached: {body}");

    // Missing and garbage tokens.
    assert_eq!(get(&url, None).await.0, 401);
    assert_eq!(get(&url, Some("not-a-token")).await.0, 401);

    // Revoked before first use: refused at once.
    let fresh = token_of(
        app.issue_ok(json!({"sub": "bob", "aud": "orders-api"}))
            .await,
    );
    assert_eq!(app.revoke(&fresh).await.status(), 200);
    assert_eq!(get(&url, Some(&fresh)).await.0, 401);

    // Revoked after use: refused once the cached answer is older than
    // OIDCOAuthTokenIntrospectionInterval.
    assert_eq!(app.revoke(&token).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(
        INTROSPECTION_INTERVAL_SECS * 1000 + 1200,
    ))
    .await;
    assert_eq!(get(&url, Some(&token)).await.0, 401);

    // Expired (no leeway in the test config; `exp` at least 2 s away).
    let short = token_of(
        app.issue_ok(json!({"sub": "carol", "ttl": 3, "aud": "orders-api"}))
            .await,
    );
    let (status, body) = get(&url, Some(&short)).await;
    assert_eq!((status, body.as_str()), (200, "subject=carol\n"));
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(get(&url, Some(&short)).await.0, 401);
}
