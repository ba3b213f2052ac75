//! DPoP in the flows (RFC 9449, docs/dpop.md): which key a new token is
//! bound to (issue), the proof a bound session's refresh needs, and the
//! proof every use of a bound token needs (verify). The proof's own checks
//! are `token::dpop`; here they meet the client's mode, the token's
//! `cnf.jkt` and the replay cache.
//!
//! A bound token carries `cnf: {"jkt": …}` among its claims; the session
//! keeps the same claims, so every access token a refresh mints is bound
//! to the same key, and the session's own key is read from them.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{ServiceError, TokenService};
use crate::config::DpopNonceSettings;
use crate::domain::{
    Client, DomainError, DpopMode, Jkt, ProofError, ProofKey, normalise_htu, parse_method,
};
use crate::store::TokenStore;
use crate::token::NonceIssuer;
use crate::token::dpop::{ProofCheck, check_proof};

/// A DPoP proof as it arrived, with the request it authorises (method and
/// URI as the caller or the gateway gave them; normalised here).
#[derive(Debug, Clone, Copy)]
pub struct DpopProof<'a> {
    pub proof: &'a str,
    pub htm: &'a str,
    pub htu: &'a str,
}

/// How an issue request binds its tokens to a key.
#[derive(Debug, Clone)]
pub enum DpopBinding {
    /// The login service checked the client's proof and passes its key's
    /// thumbprint.
    Jkt(Jkt),
    /// The client's proof, sent to the login service's token endpoint
    /// (`htm` POST, `htu` one of the client's `dpop_proof_urls`), for
    /// Tessera to check.
    Proof(String),
}

/// The key a set of claims is bound to (`cnf.jkt`), if any.
pub fn bound_key(claims: &Map<String, Value>) -> Option<&str> {
    claims.get("cnf")?.get("jkt")?.as_str()
}

/// The server nonces `verify.dpop_nonce` asks for (none when `off`).
pub(super) fn nonce_issuer(s: &DpopNonceSettings) -> Result<Option<NonceIssuer>, DomainError> {
    // The config loader read the same file; the message names no content.
    let secrets = s.read_secrets().map_err(|e| DomainError(e.to_string()))?;
    Ok(NonceIssuer::new(&secrets, s.step_secs))
}

impl TokenService {
    /// A fresh `DPoP-Nonce` for an answer, when server nonces are on.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop_nonces
            .as_ref()
            .map(|n| n.current(Utc::now().timestamp()))
    }

    /// The key the tokens of an issue request are bound to, by the
    /// client's mode: `off` refuses a binding, `required` demands one.
    pub(super) async fn issue_binding(
        &self,
        client: &Client,
        binding: Option<DpopBinding>,
        sub: &str,
    ) -> Result<Option<Jkt>, ServiceError> {
        match (client.dpop, binding) {
            (DpopMode::Off, Some(_)) => Err(ServiceError::InvalidRequest(
                "this client does not use DPoP (`cnf` and `dpop` are refused)".into(),
            )),
            (DpopMode::Required, None) => Err(ServiceError::InvalidRequest(
                "this client's tokens must be DPoP-bound: give `cnf.jkt` or `dpop`".into(),
            )),
            (_, None) => Ok(None),
            (_, Some(DpopBinding::Jkt(jkt))) => Ok(Some(jkt)),
            (_, Some(DpopBinding::Proof(proof))) => {
                let targets: Vec<&str> =
                    client.dpop_proof_urls.iter().map(String::as_str).collect();
                if targets.is_empty() {
                    return Err(ServiceError::InvalidRequest(
                        "this client has no `dpop_proof_urls` to check a proof against".into(),
                    ));
                }
                self.checked_proof(&proof, "POST", &targets, None, sub)
                    .await
                    .map(Some)
            }
        }
    }

    /// At a refresh of a session bound to `jkt`: a proof by that key, for
    /// Tessera's own endpoint `own_path` or one of the client's
    /// `dpop_proof_urls` (a login service refreshing for its client).
    pub(super) async fn check_refresh_proof(
        &self,
        client: &Client,
        jkt: &str,
        proof: Option<&str>,
        own_path: &str,
        sub: &str,
    ) -> Result<(), ServiceError> {
        let proof = proof.ok_or(ServiceError::InvalidDpopProof(ProofError::Missing))?;
        let own = normalise_htu(&format!(
            "{}{own_path}",
            self.policy().issuer.trim_end_matches('/')
        ))
        .unwrap_or_default();
        let mut targets: Vec<&str> = vec![own.as_str()];
        targets.extend(client.dpop_proof_urls.iter().map(String::as_str));
        let key = self
            .checked_proof(proof, "POST", &targets, None, sub)
            .await?;
        if key.as_str() == jkt {
            Ok(())
        } else {
            Err(ServiceError::InvalidDpopProof(ProofError::WrongKey))
        }
    }

    /// At a use of a token with these claims, every check but the store's:
    /// a bound token needs a proof by its key for this request, with its
    /// `ath`; an unbound one must not come as DPoP. Returns the proof to
    /// remember (the caller asks the store once for it and the token).
    pub(super) fn proof_for_use(
        &self,
        claims: &Map<String, Value>,
        token: &str,
        dpop: Option<DpopProof<'_>>,
    ) -> Result<Option<(ProofKey, u64)>, ServiceError> {
        match (bound_key(claims), dpop) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ServiceError::DpopBinding(
                "the token is not DPoP-bound: present it as Bearer",
            )),
            (Some(_), None) => Err(ServiceError::DpopBinding(
                "the token is DPoP-bound: present it as DPoP with a proof",
            )),
            (Some(jkt), Some(p)) => {
                let htm = parse_method(p.htm)
                    .map_err(|_| ServiceError::InvalidDpopProof(ProofError::WrongMethod))?;
                let htu = normalise_htu(p.htu)
                    .map_err(|_| ServiceError::InvalidDpopProof(ProofError::WrongUri))?;
                let (key, seen, ttl) =
                    self.stateless_proof(p.proof, htm, &[htu.as_str()], Some(token))?;
                if key.as_str() == jkt {
                    Ok(Some((seen, ttl)))
                } else {
                    Err(ServiceError::InvalidDpopProof(ProofError::WrongKey))
                }
            }
        }
    }

    /// Every stateless check, then the replay cache in `sub`'s slot (so
    /// garbage never reaches the store). Returns the proof's key.
    async fn checked_proof(
        &self,
        proof: &str,
        htm: &str,
        htu: &[&str],
        access_token: Option<&str>,
        sub: &str,
    ) -> Result<Jkt, ServiceError> {
        let (jkt, seen, ttl) = self.stateless_proof(proof, htm, htu, access_token)?;
        if self.store.remember_proof(sub, &seen, ttl).await? {
            Ok(jkt)
        } else {
            Err(ServiceError::InvalidDpopProof(ProofError::Replayed))
        }
    }

    /// The proof's checks that need no store: its key, and the name and
    /// time its `jti` is remembered under.
    fn stateless_proof(
        &self,
        proof: &str,
        htm: &str,
        htu: &[&str],
        access_token: Option<&str>,
    ) -> Result<(Jkt, ProofKey, u64), ServiceError> {
        let check = ProofCheck {
            htm,
            htu,
            access_token,
            now: Utc::now().timestamp(),
            window_secs: self.policy().dpop_window_secs,
            nonces: self.dpop_nonces.as_ref(),
        };
        let checked = check_proof(proof, &check).map_err(ServiceError::InvalidDpopProof)?;
        let seen = ProofKey::new(&checked.jkt, &checked.jti);
        let ttl = checked.replay_ttl_secs(&check);
        Ok((checked.jkt, seen, ttl))
    }
}

/// The `cnf` claim binding a token to `jkt` (RFC 9449 §6.1).
pub(super) fn confirmation(jkt: &Jkt) -> Value {
    json!({ "jkt": jkt.as_str() })
}
