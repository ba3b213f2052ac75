//! `clients:` in config.yaml: each client as declared, parsed into domain
//! types while the file is read, and its policy with the token defaults.

use serde::{Deserialize, Serialize};

use super::TokenSettings;
use crate::domain::{
    Audience, Client, ClientId, DpopMode, Grant, IntrospectScope, Scope, SecretHash,
};

/// A client as declared; every value is parsed into its domain type while
/// the file is read, so a bad id, hash, audience or scope names its key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub id: ClientId,
    /// Argon2id PHC string made by `tessera hash-secret`.
    pub secret_hash: SecretHash,
    pub grants: Vec<Grant>,
    /// Longest access-token lifetime this client may ask for.
    #[serde(default)]
    pub max_ttl_secs: Option<u64>,
    /// Session lifetime for this client's refresh tokens.
    #[serde(default)]
    pub refresh_ttl_secs: Option<u64>,
    /// Audiences the client may request; empty means any.
    #[serde(default)]
    pub audiences: Vec<Audience>,
    /// Scopes the client may request; empty means any.
    #[serde(default, with = "scope_list")]
    pub scopes: Scope,
    /// Whether `issue` returns a refresh token when the request is silent.
    #[serde(default)]
    pub refresh_by_default: bool,
    /// Whether tokens issued to this client must be verified with an
    /// audience (`verify.require_audience` for this client's tokens only).
    #[serde(default)]
    pub require_audience: bool,
    /// Which tokens introspection describes to this client: `all` (the
    /// default: a gateway introspects tokens other clients issued, which is
    /// what the `introspect` grant is for) or `own` (tokens of other
    /// clients answer `{"active": false}`).
    #[serde(default)]
    pub introspect: IntrospectScope,
    /// This client's own request rate, instead of `rate_limit.per_client_*`
    /// (a gateway introspecting for many users is one client).
    #[serde(default)]
    pub rate_limit: Option<ClientRate>,
    /// DPoP (RFC 9449, docs/dpop.md): `off` (the default: `cnf` and `dpop`
    /// in an issue request are refused), `allowed` (a request may bind its
    /// tokens to a key) or `required` (every token is bound).
    #[serde(default)]
    pub dpop: DpopMode,
    /// The login service's own token endpoints (`htu`, method POST) that
    /// the DPoP proofs it forwards in `/token/issue` and `/token/refresh`
    /// may name; normalised as the file is read.
    #[serde(default, with = "htu_list")]
    pub dpop_proof_urls: Vec<String>,
}

/// A per-client request rate (token bucket).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRate {
    /// Sustained requests per second.
    pub per_sec: u32,
    /// Requests at once above the sustained rate.
    pub burst: u32,
}

impl ClientSettings {
    /// The client and its policy, with the token defaults filled in.
    pub fn to_client(&self, tokens: &TokenSettings) -> Client {
        Client {
            id: self.id.clone(),
            grants: self.grants.clone(),
            max_ttl_secs: self.max_ttl_secs.unwrap_or(tokens.access_ttl_secs),
            refresh_ttl_secs: self.refresh_ttl_secs.unwrap_or(tokens.refresh_ttl_secs),
            audiences: self.audiences.clone(),
            scopes: (!self.scopes.is_empty()).then(|| self.scopes.clone()),
            refresh_by_default: self.refresh_by_default,
            require_audience: self.require_audience,
            introspect: self.introspect,
            secret_hash: self.secret_hash.clone(),
            dpop: self.dpop,
            dpop_proof_urls: self.dpop_proof_urls.clone(),
        }
    }
}

/// `scopes: [read, write]` in the file, a [`Scope`] in memory.
mod scope_list {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Scope;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        Scope::parse(&list.join(" ")).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(scope: &Scope, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(scope.iter())
    }
}

/// `dpop_proof_urls`: absolute http(s) URIs, kept in their normal form.
mod htu_list {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::normalise_htu;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|u| {
                normalise_htu(u)
                    .map_err(|e| serde::de::Error::custom(format!("dpop_proof_urls: {e}")))
            })
            .collect()
    }

    pub fn serialize<S: Serializer>(urls: &[String], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(urls)
    }
}
