//! Small HTTP helpers shared by the verifier's parts.

use crate::Credentials;

/// The whole body, refusing one over `limit` bytes.
pub(crate) async fn bounded_body(
    mut res: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("body: {e}"))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("body over {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `request` with HTTP Basic client credentials when there are any.
pub(crate) fn with_credentials(
    request: reqwest::RequestBuilder,
    credentials: Option<&Credentials>,
) -> reqwest::RequestBuilder {
    match credentials {
        Some(c) => request.basic_auth(&c.client_id, Some(c.secret())),
        None => request,
    }
}
