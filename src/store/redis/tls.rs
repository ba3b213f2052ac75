//! TLS to Redis: the certificates of `redis.tls` (read once, at start-up)
//! and the words for a refused handshake. Verification is rustls's own,
//! through redis-rs: the server's chain against `ca_file` (or the system
//! roots) and its name or IP against the URL's host. There is no switch
//! that turns either off.

use deadpool_redis::redis::{ClientTlsConfig, RedisError, TlsCertificates};

use crate::config::RedisTlsSettings;
use crate::store::StoreError;

fn read(key: &str, path: &std::path::Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|e| {
        StoreError::Backend(format!("{key}: cannot read {}: {e}", path.display()).into())
    })
}

/// The trust anchors and client certificate of `tls`, or `None` for the
/// system roots and no client certificate.
pub(super) fn certificates(
    tls: Option<&RedisTlsSettings>,
) -> Result<Option<TlsCertificates>, StoreError> {
    let Some(tls) = tls else { return Ok(None) };
    let root_cert = tls
        .ca_file
        .as_deref()
        .map(|p| read("redis.tls.ca_file", p))
        .transpose()?;
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("redis.tls.cert_file", cert)?,
            client_key: read("redis.tls.key_file", key)?,
        }),
        _ => None,
    };
    if root_cert.is_none() && client_tls.is_none() {
        return Ok(None);
    }
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// Which TLS check failed, in words an operator can act on; `None` when
/// `e` is no TLS refusal.
pub(super) fn explain(e: &RedisError) -> Option<&'static str> {
    let text = format!("{e} {e:?}");
    let has = |needle: &str| text.contains(needle);
    if has("UnknownIssuer") || has("BadSignature") || has("UnknownCA") {
        Some(
            "TLS refused: the Redis server's certificate is not signed by a trusted CA (redis.tls.ca_file, or the system roots without it)",
        )
    } else if has("NotValidForName") || has("not valid for name") {
        Some(
            "TLS refused: the Redis server's certificate does not match the host name or IP address in the URL",
        )
    } else if has("Expired") || has("NotValidYet") {
        Some("TLS refused: the Redis server's certificate has expired or is not valid yet")
    } else if has("CertificateRequired") || (has("alert") && has("Certificate")) {
        Some(
            "TLS refused by the Redis server: it wants a client certificate it trusts (redis.tls.cert_file and redis.tls.key_file)",
        )
    } else if has("InvalidContentType") || has("CorruptMessage") {
        Some(
            "TLS failed: the server does not speak TLS on this port (a plain redis:// port behind a rediss:// URL?)",
        )
    } else {
        None
    }
}

/// `e` as a store error, prefixed with [`explain`]'s words if it is a TLS
/// refusal.
pub(super) fn connect_error(e: RedisError) -> StoreError {
    match explain(&e) {
        Some(why) => StoreError::Unavailable(format!("{why}: {e}").into()),
        None => StoreError::Unavailable(e.into()),
    }
}
