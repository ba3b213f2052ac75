//! `/oauth2/token` with libraries nobody here wrote, for each key
//! algorithm (EdDSA, ES256, RS256): Python Authlib (client_credentials with
//! both client authentication methods, token exchange) verified by joserfc,
//! and Node openid-client (discovery + client_credentials) verified by
//! jose, both from the discovered `jwks_uri`. scripts/test.sh installs the
//! libraries (target/py-venv, target/node-interop); a missing one fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::{Backend, KeyAlg, SECRET, TestApp, active_key};
use crate::oauth_token::{ACCESS_TYPE, with_service_clients};

const ISSUER: &str = "http://tessera.test";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn python() -> PathBuf {
    let path = PathBuf::from(format!("{ROOT}/target/py-venv/bin/python"));
    assert!(
        path.exists(),
        "no Python venv at {}: run scripts/test.sh, which creates it with authlib and joserfc",
        path.display()
    );
    path
}

fn node_dir() -> PathBuf {
    let dir = PathBuf::from(format!("{ROOT}/target/node-interop"));
    for pkg in ["openid-client", "jose"] {
        assert!(
            dir.join("node_modules")
                .join(pkg)
                .join("package.json")
                .exists(),
            "no {pkg} in {}: run scripts/test.sh, which installs it",
            dir.display()
        );
    }
    dir
}

/// `node` run in target/node-interop, where `pkgs` must be installed
/// (tests/api/dpop.rs uses `dpop` and `jose`).
pub(crate) fn local_node(pkgs: &[&str]) -> Command {
    let dir = PathBuf::from(format!("{ROOT}/target/node-interop"));
    for pkg in pkgs {
        assert!(
            dir.join("node_modules")
                .join(pkg)
                .join("package.json")
                .exists(),
            "no {pkg} in {}: run scripts/test.sh, which installs it",
            dir.display()
        );
    }
    let mut cmd = local("node");
    cmd.current_dir(dir);
    cmd
}

/// [`run_json`] for other suites.
pub(crate) fn run_node_json(what: &str, cmd: Command, stdin: &str) -> Value {
    run_json(what, cmd, stdin)
}

/// [`loopback_command`](crate::helpers::loopback_command) with the interop clients' settings and pipes.
fn local(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = crate::helpers::loopback_command(program);
    cmd.env("CLIENT_SECRET", SECRET)
        .env("CC_CLIENT", "svc-a")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` with `stdin`, expecting success and one JSON object.
fn run_json(what: &str, mut cmd: Command, stdin: &str) -> Value {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed: {:?}\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn authlib_and_joserfc(app: &TestApp, subject_token: &str) -> Value {
    let mut cmd = local(python());
    cmd.arg(format!("{ROOT}/tests/py/oauth_interop.py"))
        .arg(&app.address)
        .arg(ISSUER)
        .env("EXCHANGE_CLIENT", "gateway");
    run_json("Authlib/joserfc", cmd, subject_token)
}

fn openid_client_and_jose(app: &TestApp) -> Value {
    let script = std::fs::read_to_string(format!("{ROOT}/tests/node/oauth_interop.mjs")).unwrap();
    let mut cmd = local("node");
    cmd.args(["--input-type=module", "-"])
        .current_dir(node_dir())
        .env("TESSERA_BASE", &app.address)
        .env("TESSERA_ISSUER", ISSUER)
        .env("AUDIENCE", "https://video.example/api");
    run_json("openid-client/jose", cmd, &script)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_libraries_get_and_verify_tokens_for_every_key_algorithm() {
    for (kid, alg) in [
        ("ed", KeyAlg::EdDSA),
        ("ec", KeyAlg::ES256),
        ("rsa", KeyAlg::RS256),
    ] {
        let app = TestApp::builder(Backend::Memory)
            .keys([active_key(kid, alg)])
            .configure(with_service_clients)
            .spawn()
            .await;
        let user = app
            .issue_ok(json!({"sub": "user-7", "refresh": true, "scope": "read write"}))
            .await;
        let subject = user["access_token"].as_str().unwrap().to_owned();

        let py = tokio::task::block_in_place(|| authlib_and_joserfc(&app, &subject));
        assert_eq!(
            py["token_endpoint"],
            format!("{ISSUER}/oauth2/token"),
            "{kid}"
        );
        for method in ["client_secret_basic", "client_secret_post"] {
            let step = &py[method];
            assert_eq!(step["alg"], alg.as_str(), "{kid} {method}: {step}");
            assert_eq!(step["kid"], kid);
            assert_eq!(step["claims"]["sub"], "svc-a");
            assert_eq!(step["response"]["token_type"], "Bearer");
            assert_eq!(step["response"]["scope"], "read");
            assert!(step["response"].get("refresh_token").is_none());
        }
        assert_eq!(py["wrong_audience"], "InvalidClaimError", "{kid}: {py}");
        assert_eq!(py["tampered"], "BadSignatureError", "{kid}: {py}");
        let ex = &py["exchange"];
        assert_eq!(
            ex["response"]["issued_token_type"], ACCESS_TYPE,
            "{kid}: {ex}"
        );
        assert_eq!(ex["claims"]["sub"], "user-7");
        assert_eq!(ex["claims"]["act"], json!({"sub": "gateway"}));
        assert_eq!(ex["claims"]["aud"], "photo-api");
        assert_eq!(ex["claims"]["scope"], "read");
        let exchanged = ex["response"]["access_token"].as_str().unwrap();
        assert_eq!(app.verify_get(exchanged).await.status(), 200);

        let node = tokio::task::block_in_place(|| openid_client_and_jose(&app));
        assert_eq!(
            node["token_endpoint"],
            format!("{ISSUER}/oauth2/token"),
            "{kid}"
        );
        assert_eq!(node["header"]["alg"], alg.as_str(), "{kid}: {node}");
        assert_eq!(node["header"]["typ"], "at+jwt");
        assert_eq!(node["claims"]["sub"], "svc-a");
        assert_eq!(node["claims"]["aud"], "https://video.example/api");
        assert_eq!(
            node["response"]["token_type"], "bearer",
            "openid-client lower-cases it"
        );
        assert_eq!(node["response"]["refresh_token"], Value::Null);
        assert_eq!(node["wrong_audience"], "ERR_JWT_CLAIM_VALIDATION_FAILED");
        assert_eq!(node["client_secret_post_sub"], "svc-a");
        let at = node["access_token"].as_str().unwrap();
        assert_eq!(app.verify_get(at).await.status(), 200, "{kid}");
        app.stop().await;
    }
}
