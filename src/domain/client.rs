//! `Client`: a configured caller and its policy. Every rule about what a
//! client may ask for (grants, audiences, scopes, lifetimes) lives here.

use serde::{Deserialize, Serialize};

use super::{Audience, ClientId, DpopMode, Grant, Scope, SecretHash};

/// Which tokens a client with the `introspect` grant may see as active
/// (RFC 7662 §4 lets the server limit it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntrospectScope {
    /// Tokens of every client: what a gateway introspecting tokens other
    /// clients issued needs.
    #[default]
    All,
    /// Only tokens issued to this client; others answer `{"active": false}`.
    Own,
}

/// A configured client, after validation. Equal when every setting is
/// (a reload keeps an unchanged client as it was).
#[derive(Debug, PartialEq)]
pub struct Client {
    pub id: ClientId,
    pub grants: Vec<Grant>,
    /// Longest access-token life this client may ask for, in seconds.
    pub max_ttl_secs: u64,
    /// Life of this client's sessions (refresh tokens), in seconds.
    pub refresh_ttl_secs: u64,
    /// Audiences the client may ask for; empty means any.
    pub audiences: Vec<Audience>,
    /// Scopes the client may ask for; `None` means any.
    pub scopes: Option<Scope>,
    /// Whether issue hands out a refresh token when the request is silent.
    pub refresh_by_default: bool,
    /// Whether its tokens may only be verified with an audience.
    pub require_audience: bool,
    /// Which tokens introspection describes to this client.
    pub introspect: IntrospectScope,
    pub secret_hash: SecretHash,
    /// Whether its tokens are bound to a DPoP key.
    pub dpop: DpopMode,
    /// Normalised `htu`s the DPoP proofs this client forwards may name.
    pub dpop_proof_urls: Vec<String>,
}

/// A request the client's policy refuses. The text is safe to show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("client is not allowed to use grant `{}`", .0.as_str())]
    MissingGrant(Grant),
    #[error("audience `{0}` is not allowed for this client")]
    AudienceNotAllowed(Audience),
    #[error("scope `{0}` is not allowed for this client")]
    ScopeNotAllowed(String),
    #[error("`ttl` must be above 0")]
    ZeroTtl,
}

impl Client {
    /// Whether introspection may describe a token issued to `owner`.
    pub fn may_introspect(&self, owner: &str) -> bool {
        match self.introspect {
            IntrospectScope::All => true,
            IntrospectScope::Own => owner == self.id.as_str(),
        }
    }

    /// Refuses unless the client holds `grant`.
    pub fn require(&self, grant: Grant) -> Result<(), PolicyError> {
        if self.grants.contains(&grant) {
            Ok(())
        } else {
            Err(PolicyError::MissingGrant(grant))
        }
    }

    /// The `aud` of a new token: the requested one if allowed, else the
    /// client's first audience, else `fallback` (the issuer).
    pub fn audience(
        &self,
        requested: Option<&Audience>,
        fallback: &str,
    ) -> Result<String, PolicyError> {
        match (requested, self.audiences.first()) {
            (Some(aud), _) => {
                if !self.audiences.is_empty() && !self.audiences.contains(aud) {
                    return Err(PolicyError::AudienceNotAllowed(aud.clone()));
                }
                Ok(aud.to_string())
            }
            (None, Some(default)) => Ok(default.to_string()),
            (None, None) => Ok(fallback.to_owned()),
        }
    }

    /// Refuses a scope with a member the client may not ask for.
    pub fn check_scope(&self, scope: &Scope) -> Result<(), PolicyError> {
        match &self.scopes {
            Some(allowed) => match scope.first_outside(allowed) {
                Some(extra) => Err(PolicyError::ScopeNotAllowed(extra.to_owned())),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// An access token's life: the requested seconds (or `default`), capped
    /// by the client's maximum.
    pub fn access_ttl(&self, requested: Option<u64>, default: u64) -> Result<u64, PolicyError> {
        match requested {
            Some(0) => Err(PolicyError::ZeroTtl),
            Some(t) => Ok(t.min(self.max_ttl_secs)),
            None => Ok(default.min(self.max_ttl_secs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(audiences: &[&str], scopes: Option<&str>) -> Client {
        Client {
            id: ClientId::parse("app").unwrap(),
            grants: vec![Grant::Issue],
            max_ttl_secs: 60,
            refresh_ttl_secs: 3600,
            audiences: audiences
                .iter()
                .map(|a| Audience::parse(a).unwrap())
                .collect(),
            scopes: scopes.map(|s| Scope::parse(s).unwrap()),
            refresh_by_default: false,
            require_audience: false,
            introspect: IntrospectScope::All,
            secret_hash: SecretHash::generate("a-client-secret-123").unwrap(),
            dpop: DpopMode::Off,
            dpop_proof_urls: Vec::new(),
        }
    }

    #[test]
    fn audiences_default_to_the_first_allowed_then_the_issuer() {
        let narrow = client(&["video-api", "photo-api"], None);
        assert_eq!(narrow.audience(None, "http://iss").unwrap(), "video-api");
        let photo = Audience::parse("photo-api").unwrap();
        assert_eq!(narrow.audience(Some(&photo), "x").unwrap(), "photo-api");
        let other = Audience::parse("other").unwrap();
        assert_eq!(
            narrow.audience(Some(&other), "x"),
            Err(PolicyError::AudienceNotAllowed(other.clone()))
        );
        let open = client(&[], None);
        assert_eq!(open.audience(None, "http://iss").unwrap(), "http://iss");
        assert_eq!(open.audience(Some(&other), "x").unwrap(), "other");
    }

    #[test]
    fn scopes_and_lifetimes_follow_the_policy() {
        let c = client(&[], Some("read write"));
        assert!(c.check_scope(&Scope::parse("read").unwrap()).is_ok());
        assert_eq!(
            c.check_scope(&Scope::parse("read admin").unwrap()),
            Err(PolicyError::ScopeNotAllowed("admin".into()))
        );
        assert_eq!(c.access_ttl(Some(0), 900), Err(PolicyError::ZeroTtl));
        assert_eq!(c.access_ttl(Some(3600), 900), Ok(60));
        assert_eq!(c.access_ttl(None, 30), Ok(30));
        assert_eq!(
            c.require(Grant::Admin),
            Err(PolicyError::MissingGrant(Grant::Admin))
        );
    }

    #[test]
    fn introspection_of_other_clients_tokens_follows_the_setting() {
        let mut c = client(&[], None);
        assert!(c.may_introspect("app") && c.may_introspect("other"));
        c.introspect = IntrospectScope::Own;
        assert!(c.may_introspect("app"));
        assert!(!c.may_introspect("other"));
    }
}
