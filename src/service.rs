//! Token lifecycle: issue, verify, refresh, revoke. Combines the key set
//! (signatures) with the store (liveness); routes stay thin around it.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use crate::audit;
use crate::auth::Client;
use crate::domain::{Audience, CustomClaims, Jti, Scope, Sid, Subject};
use crate::error::ApiError;
use crate::store::{
    AccessRecord, NewSession, RotateOutcome, Rotation, SessionRecord, Store, TokenStore,
};
use crate::token::{AccessClaims, KeySet, RefreshToken, Rejection, VerifiedCache};

/// A validated issue request.
#[derive(Debug)]
pub struct IssueRequest {
    pub sub: Subject,
    pub aud: Option<Audience>,
    pub scope: Scope,
    pub ttl: Option<u64>,
    pub claims: CustomClaims,
    pub refresh: Option<bool>,
}

/// A freshly minted pair. `refresh_token` is the only copy of that secret.
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: Option<i64>,
    pub scope: String,
    pub claims: AccessClaims,
}

/// Which kind of token a revocation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Clone)]
pub struct Tokens {
    pub keys: KeySet,
    pub store: Store,
    pub issuer: String,
    pub leeway_secs: u64,
    pub default_access_ttl: u64,
    pub max_sessions: usize,
    /// This app's Prometheus counters.
    pub metrics: crate::telemetry::Metrics,
    /// Tokens whose signature was already checked (see `token::cache`).
    pub verified: Arc<VerifiedCache>,
}

impl Tokens {
    fn sign(&self, claims: &AccessClaims) -> Result<String, ApiError> {
        self.keys
            .sign(claims)
            .map_err(|e| ApiError::Server(e.to_string()))
    }

    /// The claims of a new access token described by `rec`.
    fn claims_for(&self, rec: &AccessRecord, now: i64) -> (Jti, AccessClaims) {
        let jti = Jti::new_random();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: rec.sub.clone(),
            aud: rec.aud.clone(),
            exp: rec.exp,
            iat: now,
            nbf: now,
            jti: jti.to_string(),
            client_id: rec.client_id.clone(),
            scope: rec.scope.clone(),
            sid: rec.sid.to_string(),
            extra: rec.claims.clone(),
        };
        (jti, claims)
    }

    /// Issues an access token, and a refresh token when asked or by default.
    pub async fn issue(
        &self,
        client: &Client,
        req: IssueRequest,
        rid: &str,
    ) -> Result<Issued, ApiError> {
        let aud = match (&req.aud, client.audiences.first()) {
            (Some(aud), _) => {
                if !client.audiences.is_empty() && !client.audiences.contains(aud) {
                    return Err(ApiError::InvalidRequest(format!(
                        "audience `{aud}` is not allowed for this client"
                    )));
                }
                aud.to_string()
            }
            (None, Some(default)) => default.to_string(),
            (None, None) => self.issuer.clone(),
        };
        if let Some(allowed) = &client.scopes
            && let Some(extra) = req.scope.first_outside(allowed)
        {
            return Err(ApiError::InvalidRequest(format!(
                "scope `{extra}` is not allowed for this client"
            )));
        }
        let ttl = match req.ttl {
            Some(0) => return Err(ApiError::InvalidRequest("`ttl` must be above 0".into())),
            Some(t) => t.min(client.max_ttl_secs),
            None => self.default_access_ttl.min(client.max_ttl_secs),
        } as i64;
        let now = Utc::now().timestamp();
        let sid = Sid::new_random();
        let scope = req.scope.to_string();
        let want_refresh = req.refresh.unwrap_or(client.refresh_by_default);
        let session_exp = now + client.refresh_ttl_secs as i64;
        let exp = if want_refresh {
            (now + ttl).min(session_exp)
        } else {
            now + ttl
        };
        let record = AccessRecord {
            sub: req.sub.to_string(),
            client_id: client.id.to_string(),
            sid,
            scope: scope.clone(),
            aud: aud.clone(),
            claims: req.claims.0.clone(),
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign(&claims)?;
        let mut refresh_token = None;
        if want_refresh {
            let refresh = RefreshToken::generate(&req.sub, sid)
                .map_err(|e| ApiError::Server(e.to_string()))?;
            let session = SessionRecord {
                sid,
                sub: req.sub.to_string(),
                client_id: client.id.to_string(),
                scope: scope.clone(),
                aud: aud.clone(),
                claims: req.claims.0,
                created: now,
                refreshed: now,
                exp: session_exp,
                refresh: String::new(),
                previous: Vec::new(),
            };
            let evicted = self
                .store
                .create_session(NewSession {
                    session: &session,
                    refresh: &refresh.digest(),
                    first_jti: &jti,
                    first_access: &record,
                    max_sessions: self.max_sessions,
                })
                .await?;
            for old in evicted {
                audit::event(
                    "session_evicted",
                    rid,
                    json!({"client_id": client.id.as_str(), "sub": req.sub.as_str(), "sid": old.to_string(), "reason": "max_sessions_per_user"}),
                );
            }
            refresh_token = Some(refresh);
        } else {
            self.store.put_access(&jti, &record).await?;
        }
        self.metrics.token_issued();
        audit::event(
            "token_issued",
            rid,
            json!({"client_id": client.id.as_str(), "sub": req.sub.as_str(), "sid": sid.to_string(), "jti": jti.to_string(), "refresh": want_refresh, "outcome": "ok"}),
        );
        Ok(Issued {
            access_token,
            expires_in: exp - now,
            refresh_expires_in: refresh_token.as_ref().map(|_| session_exp - now),
            refresh_token: refresh_token.map(|r| r.expose().to_owned()),
            scope,
            claims,
        })
    }

    /// Signature and claim checks only (no store look-up).
    pub fn verify_signature(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<AccessClaims, Rejection> {
        self.keys
            .verify(token, &self.issuer, self.leeway_secs, aud, Utc::now())
    }

    /// Signature and claims, from the cache when this token was checked
    /// before (until its `exp`), else in full and then remembered.
    fn checked_claims(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<Arc<AccessClaims>, Rejection> {
        if token.len() > crate::token::MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let digest = VerifiedCache::digest(token);
        if let Some(claims) = self.verified.get(&digest, now_ms) {
            return match aud {
                Some(aud) if claims.aud != aud.as_str() => Err(Rejection::WrongAudience),
                _ => Ok(claims),
            };
        }
        let (claims, key_until) =
            self.keys
                .verify_with_deadline(token, &self.issuer, self.leeway_secs, aud, now)?;
        let claims = Arc::new(claims);
        let until_ms = key_until.map_or(i64::MAX, |t| t.timestamp_millis());
        let until_ms = until_ms.min(claims.exp.saturating_mul(1000));
        self.verified
            .insert(digest, claims.clone(), until_ms, now_ms);
        Ok(claims)
    }

    /// Full verification: signature first (garbage never costs a round
    /// trip; a token seen before skips it, see `checked_claims`), then the
    /// store record must be live: one Redis `EXISTS` on every call, cached or
    /// not, so revocation is immediate.
    pub async fn verify(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<Arc<AccessClaims>, ApiError> {
        let claims = self
            .checked_claims(token, aud)
            .map_err(ApiError::InvalidToken)?;
        let jti =
            Jti::parse(&claims.jti).map_err(|_| ApiError::InvalidToken(Rejection::Malformed))?;
        if self.store.is_access_live(&claims.sub, &jti).await? {
            Ok(claims)
        } else {
            Err(ApiError::InvalidToken(Rejection::Revoked))
        }
    }

    /// Rotates a refresh token. Reuse of a rotated one revokes the family.
    pub async fn refresh(
        &self,
        client: &Client,
        token: &str,
        scope: Option<Scope>,
        rid: &str,
    ) -> Result<Issued, ApiError> {
        const UNKNOWN: &str = "unknown or expired refresh token";
        let presented =
            RefreshToken::parse(token).map_err(|_| ApiError::InvalidRefreshToken(UNKNOWN))?;
        let session = self
            .store
            .get_session(presented.sub.as_str(), &presented.sid)
            .await?
            .ok_or(ApiError::InvalidRefreshToken(UNKNOWN))?;
        if session.client_id != client.id.as_str() {
            audit::event(
                "refresh_denied",
                rid,
                json!({"client_id": client.id.as_str(), "sub": session.sub, "sid": session.sid.to_string(), "reason": "issued to another client"}),
            );
            return Err(ApiError::InvalidRefreshToken(UNKNOWN));
        }
        let granted = Scope::parse(&session.scope).map_err(|e| ApiError::Server(e.to_string()))?;
        let scope = match scope {
            Some(requested) if !requested.is_empty() => {
                if let Some(extra) = requested.first_outside(&granted) {
                    return Err(ApiError::InvalidRequest(format!(
                        "scope `{extra}` was not granted to this session"
                    )));
                }
                requested
            }
            _ => granted,
        }
        .to_string();
        let now = Utc::now().timestamp();
        let ttl = self.default_access_ttl.min(client.max_ttl_secs) as i64;
        let exp = (now + ttl).min(session.exp);
        let record = AccessRecord {
            sub: session.sub.clone(),
            client_id: session.client_id.clone(),
            sid: session.sid,
            scope: scope.clone(),
            aud: session.aud.clone(),
            claims: session.claims.clone(),
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign(&claims)?;
        let next = RefreshToken::generate(&presented.sub, session.sid)
            .map_err(|e| ApiError::Server(e.to_string()))?;
        let outcome = self
            .store
            .rotate(Rotation {
                sub: &session.sub,
                sid: &session.sid,
                presented: &presented.digest(),
                next: &next.digest(),
                jti: &jti,
                access: &record,
                now,
            })
            .await?;
        let fields = json!({"client_id": client.id.as_str(), "sub": session.sub, "sid": session.sid.to_string()});
        match outcome {
            RotateOutcome::Rotated => {
                self.metrics.token_refreshed();
                audit::event(
                    "token_refreshed",
                    rid,
                    with(fields, "jti", jti.to_string().into()),
                );
                Ok(Issued {
                    access_token,
                    expires_in: exp - now,
                    refresh_token: Some(next.expose().to_owned()),
                    refresh_expires_in: Some(session.exp - now),
                    scope,
                    claims,
                })
            }
            RotateOutcome::Reused => {
                self.metrics.refresh_reuse_detected();
                audit::warn_event(
                    "refresh_token_reuse",
                    rid,
                    with(fields, "action", "family_revoked".into()),
                );
                Err(ApiError::InvalidRefreshToken(
                    "refresh token reused; session revoked",
                ))
            }
            RotateOutcome::Unknown => Err(ApiError::InvalidRefreshToken(UNKNOWN)),
        }
    }

    /// RFC 7009 revocation of one token, access or refresh; the hint only
    /// orders the attempts. Unknown or invalid tokens are not an error.
    pub async fn revoke_token(
        &self,
        client: &Client,
        token: &str,
        hint: Option<TokenKind>,
        rid: &str,
    ) -> Result<Option<TokenKind>, ApiError> {
        let order = match hint {
            Some(TokenKind::Refresh) => [TokenKind::Refresh, TokenKind::Access],
            _ => [TokenKind::Access, TokenKind::Refresh],
        };
        for kind in order {
            let done = match kind {
                TokenKind::Access => self.revoke_access(token).await?,
                TokenKind::Refresh => self.revoke_refresh(token).await?,
            };
            if let Some((sub, sid)) = done {
                self.metrics.tokens_revoked(
                    match kind {
                        TokenKind::Access => "access_token",
                        TokenKind::Refresh => "refresh_token",
                    },
                    1,
                );
                audit::event(
                    "token_revoked",
                    rid,
                    json!({"client_id": client.id.as_str(), "sub": sub, "sid": sid, "token_type": match kind { TokenKind::Access => "access_token", TokenKind::Refresh => "refresh_token" }}),
                );
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    async fn revoke_access(&self, token: &str) -> Result<Option<(String, String)>, ApiError> {
        let Ok(claims) = self.verify_signature(token, None) else {
            return Ok(None);
        };
        let Ok(jti) = Jti::parse(&claims.jti) else {
            return Ok(None);
        };
        let revoked = self.store.revoke_access(&claims.sub, &jti).await?;
        Ok(revoked.then_some((claims.sub, claims.sid)))
    }

    async fn revoke_refresh(&self, token: &str) -> Result<Option<(String, String)>, ApiError> {
        let Ok(presented) = RefreshToken::parse(token) else {
            return Ok(None);
        };
        let sub = presented.sub.as_str();
        let Some(session) = self.store.get_session(sub, &presented.sid).await? else {
            return Ok(None);
        };
        if !session_knows(&session, &presented) {
            return Ok(None);
        }
        let revoked = self.store.revoke_family(sub, &presented.sid).await?;
        Ok(revoked.then(|| (sub.to_owned(), presented.sid.to_string())))
    }

    /// Ends every session and token of a user; returns the sessions ended.
    pub async fn revoke_user(
        &self,
        client: &Client,
        sub: &Subject,
        rid: &str,
    ) -> Result<u64, ApiError> {
        let n = self.store.revoke_user(sub.as_str()).await?;
        self.metrics.tokens_revoked("session", n);
        audit::event(
            "user_revoked",
            rid,
            json!({"client_id": client.id.as_str(), "sub": sub.as_str(), "sessions": n}),
        );
        Ok(n)
    }

    /// The session a live refresh token belongs to, if it is live.
    pub async fn refresh_session(&self, token: &str) -> Result<Option<SessionRecord>, ApiError> {
        let Ok(presented) = RefreshToken::parse(token) else {
            return Ok(None);
        };
        let session = self
            .store
            .get_session(presented.sub.as_str(), &presented.sid)
            .await?;
        Ok(session.filter(|s| s.refresh == presented.digest().to_hex()))
    }
}

/// Whether the presented token is the session's current or a recent one.
fn session_knows(session: &SessionRecord, presented: &RefreshToken) -> bool {
    use subtle::ConstantTimeEq;
    let digest = presented.digest().to_hex();
    let eq = |known: &String| -> bool { known.as_bytes().ct_eq(digest.as_bytes()).into() };
    eq(&session.refresh) || session.previous.iter().any(eq)
}

fn with(mut v: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    if let Some(map) = v.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
    v
}
