//! actix-web: [`RequireToken`] wraps a scope or resource
//! (`.wrap(RequireToken::new(verifier).scope("read"))`); handlers take the
//! claims with the [`VerifiedClaims`] extractor.

use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::{LocalBoxFuture, Ready, ready};

use super::{Denial, VerifiedClaims, bearer_token};
use crate::error::Rejection;
use crate::{Demands, Verifier};

/// The middleware factory: the verifier and what the wrapped routes demand.
#[derive(Clone)]
pub struct RequireToken {
    verifier: Verifier,
    demands: Arc<Demands>,
}

impl RequireToken {
    /// Any valid token.
    pub fn new(verifier: Verifier) -> Self {
        RequireToken {
            verifier,
            demands: Arc::new(Demands::none()),
        }
    }

    /// The token's `aud` must be `aud`.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.demands).audience = Some(aud.into());
        self
    }

    /// The token must hold `scope` (and any scope demanded before).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.demands).scopes.push(scope.into());
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireToken
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireTokenService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireTokenService {
            service: Rc::new(service),
            verifier: self.verifier.clone(),
            demands: self.demands.clone(),
        }))
    }
}

/// The middleware itself (made by [`RequireToken`]).
pub struct RequireTokenService<S> {
    service: Rc<S>,
    verifier: Verifier,
    demands: Arc<Demands>,
}

impl<S, B> Service<ServiceRequest> for RequireTokenService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let token = bearer_token(
            req.headers()
                .get(AUTHORIZATION)
                .map(actix_web::http::header::HeaderValue::as_bytes),
        )
        .map(str::to_owned);
        let service = self.service.clone();
        let verifier = self.verifier.clone();
        let demands = self.demands.clone();
        Box::pin(async move {
            let outcome = match token {
                Some(token) => verifier.verify(&token, &demands).await,
                None => Err(Rejection::Malformed.into()),
            };
            match outcome {
                Ok(claims) => {
                    req.extensions_mut().insert(VerifiedClaims(claims));
                    Ok(service.call(req).await?.map_into_left_body())
                }
                Err(e) => {
                    let response = to_response(&Denial::from_error(&e));
                    Ok(req.into_response(response).map_into_right_body())
                }
            }
        })
    }
}

/// The denial as an actix-web response.
pub fn to_response(denial: &Denial) -> HttpResponse {
    let status = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = HttpResponse::build(status);
    response.insert_header(("cache-control", "no-store"));
    for (name, value) in &denial.headers {
        response.insert_header((*name, value.as_str()));
    }
    response
        .content_type("application/json")
        .body(denial.body.clone())
}

/// Takes the claims [`RequireToken`] put into the request; a handler that
/// is not wrapped by it answers 401 (it never sees an unverified request).
impl FromRequest for VerifiedClaims {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<VerifiedClaims>()
                .cloned()
                .ok_or_else(|| {
                    log::error!(
                        "tessera-client: VerifiedClaims used on a route without RequireToken"
                    );
                    let denial = Denial::invalid_token(Rejection::Malformed);
                    actix_web::error::InternalError::from_response(
                        "no verified token",
                        to_response(&denial),
                    )
                    .into()
                }),
        )
    }
}
