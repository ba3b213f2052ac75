//! DPoP at the edge (RFC 9449): the `DPoP` header, the `Authorization:
//! DPoP` scheme, and the method and URI of the request a gateway is
//! authorising, from the headers nginx and Traefik send.
//!
//! Trust: `X-Original-*` and `X-Forwarded-*` are believed as the gateway
//! sets them. A gateway must overwrite them (nginx `proxy_set_header`,
//! Traefik's ForwardAuth does); a caller reaching Tessera directly can put
//! anything there, but learns only a verdict about a token it already
//! holds, and a proof it captured is spent once it has been used (the
//! replay cache), so lying about the URI gains it nothing it can use at
//! the resource. See docs/dpop.md.

use actix_web::HttpRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::domain::ProofError;
use crate::http::ApiError;
use crate::http::client_auth::strip_scheme;

/// `DPoP-Nonce` (RFC 9449 §8.1).
pub static DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The routes that take DPoP proofs: their answers carry the nonce.
const PROOF_ROUTES: [&str; 4] = [
    "/token/issue",
    "/token/refresh",
    "/oauth2/token",
    "/token/verify",
];

/// Whether `path` (a request's, or an OpenAPI template) takes DPoP proofs.
pub(crate) fn takes_proofs(path: &str) -> bool {
    PROOF_ROUTES.iter().any(|r| {
        path.strip_prefix(r)
            .is_some_and(|t| t.is_empty() || t.starts_with('/'))
    })
}

/// Adds a fresh `DPoP-Nonce` to every answer of a route that takes proofs,
/// success or refusal, when server nonces are on (`verify.dpop_nonce`): a
/// `use_dpop_nonce` refusal carries the nonce to retry with, a success the
/// one for the next request (§8.2).
pub(crate) fn add_nonce<B>(res: &mut ServiceResponse<B>) {
    if !takes_proofs(res.request().path()) {
        return;
    }
    let nonce = res
        .request()
        .app_data::<super::State>()
        .and_then(|s| s.service.dpop_nonce());
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        res.headers_mut().insert(DPOP_NONCE.clone(), v);
    }
}

/// A token as presented, with its proof and the request it authorises.
#[derive(Debug, Default)]
pub(crate) struct Presentation {
    pub token: Option<String>,
    pub dpop: Option<ProofFor>,
}

/// A proof and the method and URI it must name.
#[derive(Debug)]
pub(crate) struct ProofFor {
    pub proof: String,
    pub htm: String,
    pub htu: String,
}

impl ProofFor {
    pub fn as_service(&self) -> crate::service::DpopProof<'_> {
        crate::service::DpopProof {
            proof: &self.proof,
            htm: &self.htm,
            htu: &self.htu,
        }
    }
}

/// The one `DPoP` header's value, if any (RFC 9449 §4.3: two are refused).
pub(crate) fn proof_header(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all("dpop");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidDpopProof(ProofError::Malformed));
    }
    let text = first
        .to_str()
        .map_err(|_| ApiError::InvalidDpopProof(ProofError::Malformed))?;
    Ok(Some(text.trim().to_owned()))
}

/// The token of `Authorization` (Bearer or DPoP) and, with the DPoP
/// scheme, the `DPoP` header and the gateway's original request.
/// `own_method` is the method to assume when no gateway header names one
/// (the forward-auth routes keep the original method).
pub(crate) fn from_headers(
    req: &HttpRequest,
    own_method: Option<&str>,
) -> Result<Presentation, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(Presentation::default());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken(crate::domain::Rejection::Malformed))?;
    if let Some(token) = strip_scheme(value, "dpop") {
        let proof = proof_header(req)?.ok_or(ApiError::InvalidDpopProof(ProofError::Missing))?;
        let (htm, htu) = original_request(req.headers(), own_method)?;
        return Ok(Presentation {
            token: Some(token.to_owned()),
            dpop: Some(ProofFor { proof, htm, htu }),
        });
    }
    Ok(Presentation {
        token: strip_scheme(value, "bearer").map(str::to_owned),
        dpop: None,
    })
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The method and absolute URI of the request being authorised:
/// `X-Original-Method` or `X-Forwarded-Method` (else `own_method`), and
/// `X-Original-URL` (absolute), or `X-Original-URI` / `X-Forwarded-Uri`
/// (path and query) under `X-Forwarded-Proto` and `X-Forwarded-Host`.
fn original_request(
    headers: &HeaderMap,
    own_method: Option<&str>,
) -> Result<(String, String), ApiError> {
    let missing = |what: &str| {
        ApiError::InvalidRequest(format!(
            "a DPoP token needs the original request's {what} from the gateway (see docs/dpop.md)"
        ))
    };
    let method = text(headers, "x-original-method")
        .or_else(|| text(headers, "x-forwarded-method"))
        .or(own_method)
        .ok_or_else(|| missing("method (X-Original-Method or X-Forwarded-Method)"))?;
    if let Some(url) = text(headers, "x-original-url") {
        return Ok((method.to_owned(), url.to_owned()));
    }
    let path = text(headers, "x-original-uri")
        .or_else(|| text(headers, "x-forwarded-uri"))
        .ok_or_else(|| missing("URI (X-Original-URI or X-Forwarded-Uri)"))?;
    let proto =
        text(headers, "x-forwarded-proto").ok_or_else(|| missing("scheme (X-Forwarded-Proto)"))?;
    let host =
        text(headers, "x-forwarded-host").ok_or_else(|| missing("host (X-Forwarded-Host)"))?;
    if !path.starts_with('/') {
        return Err(missing("URI as an absolute path"));
    }
    Ok((method.to_owned(), format!("{proto}://{host}{path}")))
}
