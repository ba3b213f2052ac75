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
use crate::domain::{Client, DpopMode, Jkt, ProofError, ProofKey, normalise_htu, parse_method};
use crate::store::TokenStore;
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

impl TokenService {
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

    /// At a use of a token with these claims: a bound token needs a proof
    /// by its key for this request, with its `ath`; an unbound one must not
    /// come as DPoP.
    pub(super) async fn check_use(
        &self,
        claims: &Map<String, Value>,
        sub: &str,
        token: &str,
        dpop: Option<DpopProof<'_>>,
    ) -> Result<(), ServiceError> {
        match (bound_key(claims), dpop) {
            (None, None) => Ok(()),
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
                let key = self
                    .checked_proof(p.proof, htm, &[htu.as_str()], Some(token), sub)
                    .await?;
                if key.as_str() == jkt {
                    Ok(())
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
        let check = ProofCheck {
            htm,
            htu,
            access_token,
            now: Utc::now().timestamp(),
            window_secs: self.policy().dpop_window_secs,
        };
        let checked = check_proof(proof, &check).map_err(ServiceError::InvalidDpopProof)?;
        let seen = ProofKey::new(&checked.jkt, &checked.jti);
        if self
            .store
            .remember_proof(sub, &seen, checked.replay_ttl_secs(&check))
            .await?
        {
            Ok(checked.jkt)
        } else {
            Err(ServiceError::InvalidDpopProof(ProofError::Replayed))
        }
    }
}

/// The `cnf` claim binding a token to `jkt` (RFC 9449 §6.1).
pub(super) fn confirmation(jkt: &Jkt) -> Value {
    json!({ "jkt": jkt.as_str() })
}
