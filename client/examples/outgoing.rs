//! The outgoing interceptor: every request this client makes carries a
//! `client_credentials` token from Tessera, reused until shortly before it
//! expires and refreshed once on a 401.
//!
//! ```sh
//! TESSERA_URL=http://127.0.0.1:8080 TESSERA_CLIENT_ID=svc-a TESSERA_CLIENT_SECRET=... \
//! TARGET_URL=http://127.0.0.1:9090/whoami cargo run -p tessera-client --example outgoing
//! ```
#![allow(clippy::unwrap_used)] // an example: a missing variable ends it loudly

use tessera_client::Credentials;
use tessera_client::outgoing::ClientCredentials;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut auth = ClientCredentials::new(
        &env("TESSERA_URL"),
        Credentials::new(env("TESSERA_CLIENT_ID"), env("TESSERA_CLIENT_SECRET")),
    );
    if let Ok(aud) = std::env::var("AUDIENCE") {
        auth = auth.audience(aud);
    }
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build();
    for _ in 0..2 {
        let res = client.get(env("TARGET_URL")).send().await?;
        println!("{} {}", res.status().as_u16(), res.text().await?);
    }
    Ok(())
}
