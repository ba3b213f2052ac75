//! Tessera inside another Rust program: build the service from settings,
//! serve it on a free port, then issue, verify and revoke a token over HTTP
//! the way a login service and a backend would. Useful in a service's own
//! integration tests, where a real token service beats a mock.
//!
//! Run: `cargo run --example embedded`

use serde_json::{Value, json};
use tessera::app::Application;
use tessera::config::{Environment, Settings};
use tessera::domain::SecretHash;

const SECRET: &str = "example-secret-0123456789";

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A dev configuration: memory store, a signing key generated in a
    // temporary directory, one client allowed to issue and revoke.
    let dir = tempfile::tempdir()?;
    let hash = SecretHash::generate(SECRET)?;
    let yaml = format!(
        r#"
server: {{ listen: "127.0.0.1:0", workers: 1 }}
issuer: "http://tessera.example"
tokens: {{ dev_key_path: "{key}" }}
clients:
  - {{ id: "login-service", secret_hash: "{hash}", grants: [issue, revoke] }}
"#,
        key = dir.path().join("dev.pem").display(),
        hash = hash.expose(),
    );
    let settings = Settings::from_yaml_with_env(&yaml, Environment::Dev, Vec::new())?;
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());

    let http = reqwest::Client::new();
    let issued: Value = http
        .post(format!("{base}/token/issue"))
        .basic_auth("login-service", Some(SECRET))
        .json(&json!({"sub": "user-42", "scope": "read"}))
        .send()
        .await?
        .json()
        .await?;
    let token = issued["access_token"].as_str().ok_or("no access_token")?;
    println!(
        "issued a token for user-42, expires in {}s",
        issued["expires_in"]
    );

    let verify = |token: String| {
        let http = http.clone();
        let url = format!("{base}/token/verify");
        async move { http.get(url).bearer_auth(token).send().await }
    };
    let res = verify(token.to_owned()).await?;
    println!("verify: {} {}", res.status(), res.text().await?);

    http.post(format!("{base}/token/revoke"))
        .basic_auth("login-service", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await?
        .error_for_status()?;
    let res = verify(token.to_owned()).await?;
    println!(
        "verify after revoke: {} {}",
        res.status(),
        res.text().await?
    );

    server.stop(true).await;
    Ok(())
}
