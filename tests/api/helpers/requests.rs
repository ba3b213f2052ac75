//! One `TestApp` helper per endpoint (HTTP Basic as a test client, or
//! anonymous), and the assertions on the contract's answers.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{SECRET, TestApp};

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `POST path` with a JSON body, as `client` (HTTP Basic) or anonymously.
    pub async fn post_json(&self, path: &str, client: Option<&str>, body: &Value) -> Response {
        let mut req = self.api.post(self.url(path)).json(body);
        if let Some(c) = client {
            req = req.basic_auth(c, Some(SECRET));
        }
        req.send().await.expect("POST request")
    }

    /// `POST path` with a form body, as `client` (HTTP Basic) or anonymously.
    pub async fn post_form(
        &self,
        path: &str,
        client: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut req = self.api.post(self.url(path)).form(form);
        if let Some(c) = client {
            req = req.basic_auth(c, Some(SECRET));
        }
        req.send().await.expect("POST request")
    }

    /// `POST path` with raw bytes and a content type, as `client`.
    pub async fn post_raw(
        &self,
        path: &str,
        client: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.api
            .post(self.url(path))
            .basic_auth(client, Some(SECRET))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST request")
    }

    pub async fn issue_as(&self, client: &str, body: Value) -> Response {
        self.api
            .post(self.url("/token/issue"))
            .basic_auth(client, Some(SECRET))
            .json(&body)
            .send()
            .await
            .expect("issue request")
    }

    pub async fn issue(&self, body: Value) -> Response {
        self.issue_as("issuer-app", body).await
    }

    /// Issues for `sub` and returns the token response, asserting `200`.
    pub async fn issue_ok(&self, body: Value) -> Value {
        let res = self.issue(body).await;
        assert_eq!(res.status(), StatusCode::OK, "issue failed");
        res.json().await.expect("json")
    }

    pub async fn access_token(&self, sub: &str) -> String {
        let v = self.issue_ok(json!({ "sub": sub })).await;
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn verify_get(&self, token: &str) -> Response {
        self.api
            .get(self.url("/token/verify"))
            .bearer_auth(token)
            .send()
            .await
            .expect("verify request")
    }

    pub async fn verify_post(&self, body: Value) -> Response {
        self.api
            .post(self.url("/token/verify"))
            .json(&body)
            .send()
            .await
            .expect("verify request")
    }

    pub async fn revoke_as(&self, client: &str, form: &[(&str, &str)]) -> Response {
        self.api
            .post(self.url("/token/revoke"))
            .basic_auth(client, Some(SECRET))
            .form(form)
            .send()
            .await
            .expect("revoke request")
    }

    pub async fn revoke(&self, token: &str) -> Response {
        self.revoke_as("issuer-app", &[("token", token)]).await
    }

    pub async fn refresh_as(&self, client: &str, refresh_token: &str) -> Response {
        self.api
            .post(self.url("/token/refresh"))
            .basic_auth(client, Some(SECRET))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("refresh request")
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.refresh_as("issuer-app", refresh_token).await
    }

    pub async fn introspect(&self, form: &[(&str, &str)]) -> Response {
        self.introspect_as("issuer-app", form).await
    }

    pub async fn introspect_as(&self, client: &str, form: &[(&str, &str)]) -> Response {
        self.api
            .post(self.url("/token/introspect"))
            .basic_auth(client, Some(SECRET))
            .form(form)
            .send()
            .await
            .expect("introspect request")
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        self.api
            .get(self.url(path))
            .basic_auth("admin-app", Some(SECRET))
            .send()
            .await
            .expect("admin request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api.get(self.url(path)).send().await.expect("request")
    }

    /// `PTTL` of a key, in milliseconds (Redis backend only).
    pub fn pttl(&self, key: &str) -> i64 {
        deadpool_redis::redis::cmd("PTTL")
            .arg(key)
            .query(&mut self.redis().connection())
            .expect("PTTL")
    }
}

/// Asserts the contract's error shape and status; returns the body.
pub async fn assert_error(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"].is_string(),
        "no description in {body}"
    );
    body
}

/// Asserts a `401 invalid_token` "token revoked" with its Bearer challenge.
pub async fn assert_revoked(res: Response) {
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(www.contains(r#"error="invalid_token""#), "{www}");
    let body = assert_error(res, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token revoked");
}

/// Decodes the (unverified) claims of a JWT for assertions.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&raw).expect("claims json")
}
