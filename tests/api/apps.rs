//! Test apps the shared helpers do not build: one signing with another key
//! algorithm (ES256 for the CVE-2022-21449 case), one from custom YAML.

use tessera::config::{Environment, Settings};
use tessera::domain::KeyAlg;

use crate::helpers::{Backend, TestApp, base_yaml};
use crate::redis_server::RedisServer;

/// Like `spawn_app_with`, but the key `k1` has algorithm `alg`.
pub async fn spawn_app_keyed(backend: Backend, alg: KeyAlg, overrides: &[(&str, &str)]) -> TestApp {
    let redis = match backend {
        Backend::Memory => None,
        Backend::Redis => Some(RedisServer::start()),
        Backend::Cluster | Backend::Sentinel => {
            panic!("spawn_app_keyed builds memory or standalone Redis apps only")
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("k1.pem");
    tessera::token::write_new_key(&key_path, alg).expect("keygen");
    let prefix = format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let yaml = base_yaml(
        &key_path.display().to_string(),
        &prefix,
        redis.as_ref().map(|r| r.url()).as_deref(),
    )
    .replace(r#"alg: "EdDSA""#, &format!(r#"alg: "{}""#, alg.as_str()));
    let vars = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let settings =
        Settings::from_yaml_with_env(&yaml, Environment::Dev, vars).expect("test config");
    TestApp::start(settings, redis, prefix, dir).await
}
