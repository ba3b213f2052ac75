//! tower (axum, tonic, hyper): [`RequireTokenLayer`] wraps a service of
//! `http::Request`s; the inner service finds [`VerifiedClaims`] in the
//! request's extensions. The response body type must be buildable from a
//! `String` (axum's `Body`, `http_body_util::Full<Bytes>`, `String`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::{Denial, VerifiedClaims, bearer_token};
use crate::error::Rejection;
use crate::{Demands, Verifier};

/// The layer: the verifier and what the wrapped routes demand.
#[derive(Clone)]
pub struct RequireTokenLayer {
    verifier: Verifier,
    demands: Arc<Demands>,
}

impl RequireTokenLayer {
    pub fn new(verifier: Verifier, demands: Demands) -> Self {
        RequireTokenLayer {
            verifier,
            demands: Arc::new(demands),
        }
    }
}

impl<S> Layer<S> for RequireTokenLayer {
    type Service = RequireToken<S>;

    fn layer(&self, inner: S) -> RequireToken<S> {
        RequireToken {
            inner,
            verifier: self.verifier.clone(),
            demands: self.demands.clone(),
        }
    }
}

/// The service the layer makes.
#[derive(Clone)]
pub struct RequireToken<S> {
    inner: S,
    verifier: Verifier,
    demands: Arc<Demands>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequireToken<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let demands = self.demands.clone();
        let token = bearer_token(req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes))
            .map(str::to_owned);
        Box::pin(async move {
            let outcome = match token {
                Some(token) => verifier.verify(&token, &demands).await,
                None => Err(Rejection::Malformed.into()),
            };
            match outcome {
                Ok(claims) => {
                    req.extensions_mut().insert(VerifiedClaims(claims));
                    inner.call(req).await
                }
                Err(e) => Ok(to_response(&Denial::from_error(&e))),
            }
        })
    }
}

/// The denial as an `http::Response`.
pub fn to_response<B: From<String>>(denial: &Denial) -> Response<B> {
    let mut response = Response::new(B::from(denial.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(denial.status).unwrap_or(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    for (name, value) in &denial.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(*name, v);
        }
    }
    response
}
