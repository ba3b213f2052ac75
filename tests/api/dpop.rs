//! DPoP (RFC 9449) end to end, with keys and proofs made by panva's `dpop`
//! and thumbprints by `jose` (tests/node/dpop_proofs.mjs; scripts/test.sh
//! installs both under target/node-interop), for ES256 and Ed25519 proof
//! keys, on both stores: binding at issue (`dpop` proof or `cnf.jkt`), the
//! bound session's refresh, every use through `/token/verify` (body, and
//! the gateway form with `Authorization: DPoP`), introspection, and each
//! misuse refused with its `DPoP` challenge.

use reqwest::Response;
use serde_json::{Value, json};
use tessera::config::ClientSettings;
use tessera::domain::{DpopMode, Grant};

use crate::helpers::{Backend, TestApp, assert_error, claims_of};
use crate::oauth_interop::{local_node, run_node_json};

crate::both_backends!(
    fresh_proofs_bind_tokens_and_pass_every_verify_route,
    each_misuse_of_a_bound_token_is_refused,
    a_bound_session_refreshes_only_with_a_proof_by_its_key,
    each_client_mode_is_kept,
    forged_and_hostile_proofs_are_refused_in_the_error_shape,
);

/// The login service's token endpoint, in `dpop-app`'s `dpop_proof_urls`.
pub(crate) const LOGIN: &str = "https://login.example/token";
/// The resource a gateway protects.
pub(crate) const API: &str = "https://api.example.com/orders";
const ALGS: [&str; 2] = ["ES256", "Ed25519"];

pub(crate) fn dpop_client(id: &str, mode: DpopMode) -> ClientSettings {
    let mut c = crate::oauth_token::client(
        id,
        &[Grant::Issue, Grant::Verify, Grant::Introspect],
        &[],
        "",
    );
    c.dpop = mode;
    if mode != DpopMode::Off {
        c.dpop_proof_urls = vec![LOGIN.to_owned()];
    }
    c
}

pub(crate) async fn app(b: Backend) -> TestApp {
    TestApp::builder(b)
        .configure(|s| {
            s.clients.push(dpop_client("dpop-app", DpopMode::Allowed));
            s.clients.push(dpop_client("dpop-only", DpopMode::Required));
        })
        .spawn()
        .await
}

/// Two proof keys (`a`, `b`) of one algorithm, held by the Node script.
pub(crate) struct Keys {
    alg: &'static str,
    keys: Value,
    jkt: Value,
}

impl Keys {
    pub(crate) fn new(alg: &'static str) -> Keys {
        let out = run(json!({ "alg": alg }));
        Keys {
            alg,
            keys: out["keys"].clone(),
            jkt: out["jkt"].clone(),
        }
    }

    pub(crate) fn jkt(&self, key: &str) -> &str {
        self.jkt[key].as_str().unwrap()
    }

    /// One proof per spec: `{"key", "htu", "htm", "access_token"?, "age_secs"?, "nonce"?}`.
    pub(crate) fn proofs(&self, specs: Value) -> Vec<String> {
        let out = run(json!({ "alg": self.alg, "keys": self.keys, "proofs": specs }));
        out["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }

    pub(crate) fn proof(&self, spec: Value) -> String {
        self.proofs(json!([spec])).remove(0)
    }
}

fn run(input: Value) -> Value {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node/dpop_proofs.mjs"
    ))
    .unwrap();
    tokio::task::block_in_place(|| {
        let mut cmd = local_node(&["dpop", "jose"]);
        cmd.args(["--input-type=module", "-e", &script]);
        run_node_json("dpop/jose proofs", cmd, &input.to_string())
    })
}

/// `POST /token/verify` with the token and, when given, its proof for `GET API`.
pub(crate) async fn verify_body(
    app: &TestApp,
    token: &str,
    proof: Option<&str>,
    htm: &str,
    htu: &str,
) -> Response {
    let mut body = json!({ "token": token });
    if let Some(p) = proof {
        body["dpop"] = json!(p);
        body["htm"] = json!(htm);
        body["htu"] = json!(htu);
    }
    app.verify_post(body).await
}

/// `GET /token/verify` as nginx `auth_request` sends it for `GET API?page=2`.
pub(crate) async fn verify_gateway(
    app: &TestApp,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> Response {
    let mut req = app
        .api
        .get(app.url("/token/verify"))
        .header("authorization", format!("{scheme} {token}"))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/orders?page=2")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "API.example.com");
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    req.send().await.unwrap()
}

/// A 401 with `code`, in the OAuth error shape, and a `DPoP` challenge naming it.
pub(crate) async fn assert_dpop_401(res: Response, code: &str, what: &str) -> Value {
    let www = res
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(www.starts_with("DPoP "), "{what}: {www}");
    assert!(www.contains(&format!(r#"error="{code}""#)), "{what}: {www}");
    assert_eq!(res.status().as_u16(), 401, "{what}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], code, "{what}: {body}");
    body
}

/// Issues a token (and session) bound by a proof for the login endpoint.
async fn issue_bound(app: &TestApp, keys: &Keys, sub: &str) -> Value {
    let proof = keys.proof(json!({"key": "a", "htu": LOGIN, "htm": "POST"}));
    let res = app
        .issue_as(
            "dpop-app",
            json!({"sub": sub, "dpop": proof, "refresh": true}),
        )
        .await;
    assert_eq!(res.status(), 200, "issue with a proof ({})", keys.alg);
    res.json().await.unwrap()
}

fn api_proof(token: &str) -> Value {
    json!({"key": "a", "htu": API, "htm": "GET", "access_token": token})
}

async fn fresh_proofs_bind_tokens_and_pass_every_verify_route(b: Backend) {
    let app = app(b).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        let issued = issue_bound(&app, &keys, "alice").await;
        assert_eq!(issued["token_type"], "DPoP", "{alg}");
        let at = issued["access_token"].as_str().unwrap();
        assert_eq!(
            claims_of(at)["cnf"]["jkt"],
            keys.jkt("a"),
            "{alg}: cnf.jkt is jose's thumbprint"
        );

        let proofs = keys.proofs(json!([api_proof(at), api_proof(at)]));
        let res = verify_body(&app, at, Some(&proofs[0]), "GET", API).await;
        assert_eq!(res.status(), 200, "{alg}: body form");
        let res = verify_gateway(&app, "DPoP", at, Some(&proofs[1])).await;
        assert_eq!(
            res.status(),
            200,
            "{alg}: gateway form (query, host case dropped)"
        );
        assert_eq!(res.headers()["x-auth-subject"], "alice");

        let res = app.introspect(&[("token", at)]).await;
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["active"], true);
        assert_eq!(v["token_type"], "DPoP", "{alg}: RFC 9449 §6.2");
        assert_eq!(v["cnf"]["jkt"], keys.jkt("a"));
    }
}

async fn each_misuse_of_a_bound_token_is_refused(b: Backend) {
    let app = app(b).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        // Bound by the login service's word (`cnf.jkt`) this time.
        let res = app
            .issue_as(
                "dpop-app",
                json!({"sub": "bob", "cnf": {"jkt": keys.jkt("a")}}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let at = res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = at.as_str();
        let p = keys.proofs(json!([
            api_proof(at),
            {"key": "b", "htu": API, "htm": "GET", "access_token": at},
            {"key": "a", "htu": "https://api.example.com/admin", "htm": "GET", "access_token": at},
            {"key": "a", "htu": API, "htm": "DELETE", "access_token": at},
            {"key": "a", "htu": API, "htm": "GET", "access_token": at, "age_secs": 3600},
            {"key": "a", "htu": API, "htm": "GET", "access_token": "another-token"},
            api_proof(at),
        ]));
        let ok = verify_body(&app, at, Some(&p[0]), "GET", API).await;
        assert_eq!(ok.status(), 200, "{alg}: the fresh proof");
        let cases: Vec<(&str, Response, &str)> = vec![
            (
                "replayed",
                verify_body(&app, at, Some(&p[0]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "replayed at the gateway",
                verify_gateway(&app, "DPoP", at, Some(&p[0])).await,
                "invalid_dpop_proof",
            ),
            (
                "missing (body)",
                verify_body(&app, at, None, "GET", API).await,
                "invalid_token",
            ),
            (
                "missing (gateway)",
                verify_gateway(&app, "DPoP", at, None).await,
                "invalid_dpop_proof",
            ),
            (
                "another key",
                verify_body(&app, at, Some(&p[1]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "wrong htu",
                verify_body(&app, at, Some(&p[2]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "wrong htm",
                verify_body(&app, at, Some(&p[3]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "stale iat",
                verify_body(&app, at, Some(&p[4]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "wrong ath",
                verify_body(&app, at, Some(&p[5]), "GET", API).await,
                "invalid_dpop_proof",
            ),
            (
                "Bearer downgrade",
                verify_gateway(&app, "Bearer", at, None).await,
                "invalid_token",
            ),
            (
                "Bearer downgrade with a proof",
                verify_gateway(&app, "Bearer", at, Some(&p[6])).await,
                "invalid_token",
            ),
        ];
        for (what, res, code) in cases {
            let body = assert_dpop_401(res, code, &format!("{alg}: {what}")).await;
            assert!(
                !body.to_string().contains(at),
                "{what}: the token is not echoed"
            );
        }
        // The refusals spent nothing the holder needs: a fresh proof works.
        let res = verify_gateway(&app, "DPoP", at, Some(&p[6])).await;
        assert_eq!(res.status(), 200, "{alg}: a fresh proof after the refusals");
    }
}

async fn a_bound_session_refreshes_only_with_a_proof_by_its_key(b: Backend) {
    let app = app(b).await;
    for alg in ALGS {
        let keys = Keys::new(alg);
        let issued = issue_bound(&app, &keys, "carol").await;
        let rt = issued["refresh_token"].as_str().unwrap();
        let own = "http://tessera.test/token/refresh";
        let p = keys.proofs(json!([
            {"key": "b", "htu": own, "htm": "POST"},
            {"key": "a", "htu": "http://tessera.test/elsewhere", "htm": "POST"},
            {"key": "a", "htu": own, "htm": "POST"},
            {"key": "a", "htu": LOGIN, "htm": "POST"},
            {"key": "a", "htu": "http://tessera.test/oauth2/token", "htm": "POST"},
        ]));
        let refresh = |proof: Option<String>, token: String| {
            let app = &app;
            async move {
                let mut req = app
                    .api
                    .post(app.url("/token/refresh"))
                    .basic_auth("dpop-app", Some(crate::helpers::SECRET))
                    .json(&json!({ "refresh_token": token }));
                if let Some(p) = proof {
                    req = req.header("dpop", p);
                }
                req.send().await.unwrap()
            }
        };
        for (what, proof) in [
            ("no proof", None),
            ("another key", Some(p[0].clone())),
            ("wrong htu", Some(p[1].clone())),
        ] {
            assert_error(
                refresh(proof, rt.to_owned()).await,
                400,
                "invalid_dpop_proof",
            )
            .await;
            let _ = what;
        }
        let res = refresh(Some(p[2].clone()), rt.to_owned()).await;
        assert_eq!(res.status(), 200, "{alg}: a proof by the session's key");
        let next: Value = res.json().await.unwrap();
        assert_eq!(next["token_type"], "DPoP");
        let at = next["access_token"].as_str().unwrap();
        assert_eq!(
            claims_of(at)["cnf"]["jkt"],
            keys.jkt("a"),
            "the new token keeps the key"
        );
        let rt2 = next["refresh_token"].as_str().unwrap().to_owned();
        // Replayed: refused before the rotation, so the token still works.
        assert_error(
            refresh(Some(p[2].clone()), rt2.clone()).await,
            400,
            "invalid_dpop_proof",
        )
        .await;
        // The login service refreshing for its client: its own endpoint's proof.
        let res = refresh(Some(p[3].clone()), rt2).await;
        assert_eq!(res.status(), 200, "{alg}: a proof for the login endpoint");
        let rt3 = res.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        // The token endpoint's refresh grant: its own URI.
        let res = app
            .api
            .post(app.url("/oauth2/token"))
            .basic_auth("dpop-app", Some(crate::helpers::SECRET))
            .header("dpop", &p[4])
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt3.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{alg}: /oauth2/token refresh grant");
        let rt4 = res.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app
            .api
            .post(app.url("/oauth2/token"))
            .basic_auth("dpop-app", Some(crate::helpers::SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt4.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "invalid_dpop_proof").await;
    }
}

async fn each_client_mode_is_kept(b: Backend) {
    let app = app(b).await;
    let keys = Keys::new("ES256");
    let cnf = json!({"sub": "dave", "cnf": {"jkt": keys.jkt("a")}});
    // off (issuer-app): no binding at all.
    assert_error(app.issue(cnf.clone()).await, 400, "invalid_request").await;
    // required: no token without one.
    assert_error(
        app.issue_as("dpop-only", json!({"sub": "dave"})).await,
        400,
        "invalid_request",
    )
    .await;
    let res = app.issue_as("dpop-only", cnf.clone()).await;
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "DPoP");
    // allowed: without a binding, a Bearer token that refuses a DPoP use.
    let res = app.issue_as("dpop-app", json!({"sub": "dave"})).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    let at = v["access_token"].as_str().unwrap();
    assert!(claims_of(at).get("cnf").is_none());
    assert_eq!(verify_gateway(&app, "Bearer", at, None).await.status(), 200);
    let proof = keys.proof(api_proof(at));
    assert_dpop_401(
        verify_gateway(&app, "DPoP", at, Some(&proof)).await,
        "invalid_token",
        "unbound as DPoP",
    )
    .await;
    // A thumbprint that is not one, and both forms at once.
    assert_error(
        app.issue_as("dpop-app", json!({"sub": "dave", "cnf": {"jkt": "short"}}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    let both = json!({"sub": "dave", "cnf": {"jkt": keys.jkt("a")}, "dpop": "x.y.z"});
    assert_error(app.issue_as("dpop-app", both).await, 400, "invalid_request").await;
    // A proof for an endpoint the client did not list.
    let stray = keys.proof(json!({"key": "a", "htu": "https://evil.example/token", "htm": "POST"}));
    assert_error(
        app.issue_as("dpop-app", json!({"sub": "dave", "dpop": stray}))
            .await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}

/// Hand-made hostile proofs and headers, over HTTP: each a `401
/// invalid_dpop_proof` in the error shape, never a 5xx, never an echo.
async fn forged_and_hostile_proofs_are_refused_in_the_error_shape(b: Backend) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = app(b).await;
    let keys = Keys::new("ES256");
    let res = app
        .issue_as(
            "dpop-app",
            json!({"sub": "frank", "cnf": {"jkt": keys.jkt("a")}}),
        )
        .await;
    let at = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"jti": "j", "htm": "GET", "htu": API, "iat": now,
        "ath": tessera::domain::access_token_hash(&at)});
    let public = {
        let mut k = keys.keys["a"].clone();
        k.as_object_mut().unwrap().remove("d");
        k
    };
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let forge = |header: Value, sig: &str| format!("{}.{}.{sig}", enc(&header), enc(&claims));
    let cases = [
        (
            "alg none",
            forge(json!({"typ": "dpop+jwt", "alg": "none", "jwk": public}), ""),
        ),
        (
            "HS256 with a symmetric jwk",
            forge(
                json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
                "AAAA",
            ),
        ),
        (
            "the private key embedded",
            forge(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": keys.keys["a"]}),
                "AAAA",
            ),
        ),
        (
            "an unsigned copy of a real header",
            forge(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public}),
                "AAAA",
            ),
        ),
        ("5 KiB of garbage", "a".repeat(5000)),
        ("not base64", "@@@.@@@.@@@".to_owned()),
    ];
    for (what, proof) in cases {
        let res = verify_gateway(&app, "DPoP", &at, Some(&proof)).await;
        let body = assert_dpop_401(res, "invalid_dpop_proof", what).await;
        assert!(!body.to_string().contains(&at), "{what}: echoed");
    }
    // Two DPoP headers (RFC 9449 §4.3: exactly one), and bytes that are not text.
    let good = keys.proof(api_proof(&at));
    let res = app
        .api
        .get(app.url("/token/verify"))
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", &good)
        .header("dpop", &good)
        .header("x-original-method", "GET")
        .header("x-original-url", API)
        .send()
        .await
        .unwrap();
    assert_dpop_401(res, "invalid_dpop_proof", "two DPoP headers").await;
    let res = app
        .api
        .get(app.url("/token/verify"))
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        )
        .header("x-original-method", "GET")
        .header("x-original-url", API)
        .send()
        .await
        .unwrap();
    assert_dpop_401(res, "invalid_dpop_proof", "a non-UTF-8 DPoP header").await;
    // A gateway that sends no original request: 400, never a guess.
    let res = app
        .api
        .get(app.url("/token/verify"))
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", &good)
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_request").await;
    // `dpop` without `htm`/`htu` in the body.
    let res = app.verify_post(json!({"token": at, "dpop": good})).await;
    assert_error(res, 400, "invalid_request").await;
    // The good proof was never spent by the refusals above: it works now.
    let res = app
        .api
        .get(app.url("/token/verify"))
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", &good)
        .header("x-original-method", "GET")
        .header("x-original-url", API)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
