//! The records a store keeps, and their compact encoding. No record ever
//! holds token text: refresh tokens appear only as SHA-256 digests.

use subtle::ConstantTimeEq;

use super::StoreError;
use crate::domain::{RefreshDigest, RotationSeed, Sid};

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A new access token as the service describes it to the store. The
/// store keeps only what verify needs that the signed token does not
/// already prove: that these exact token bytes are live. Its key
/// (`{sub}:at:<key22>`, a digest of the compact token: `domain::TokenKey`)
/// and TTL (until `exp`) say it all; sub, sid, client, scope, aud and
/// claims are in the verified token itself, and a token with any other
/// bytes (one forged with a leaked key for the same sub and jti) has
/// another key, so it never meets this record.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    pub sub: String,
    pub client_id: String,
    pub sid: Sid,
    pub scope: String,
    pub aud: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Expiry, Unix seconds; the store's TTL ends with it.
    pub exp: i64,
}

impl AccessRecord {
    /// Whether a record's value (`record`, `None` when the key is gone)
    /// is live under the user's generation (`generation`, `None` = 1): it
    /// was written under the current one, not before a logout everywhere.
    pub fn is_live(record: Option<&str>, generation: Option<&str>) -> Result<bool, StoreError> {
        let Some(record) = record else {
            return Ok(false);
        };
        let parse = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                StoreError::Backend("corrupt access record or generation (not a number)".into())
            })
        };
        Ok(parse(record)? >= parse(generation.unwrap_or(LIVE))?)
    }
}

/// The value of a live access-token key written before any logout
/// everywhere of its user: generation 1. Every generation is a small
/// integer, one of Redis's shared integers (below 10,000), so the value
/// costs no memory of its own.
pub const LIVE: &str = "1";

/// A session (refresh family): what a refresh needs to mint the next pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub sid: Sid,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub aud: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Unix seconds.
    pub created: i64,
    pub refreshed: i64,
    pub exp: i64,
    /// Hex SHA-256 of the current refresh token.
    pub refresh: String,
    /// Hex SHA-256 of recently superseded refresh tokens (for reuse detection).
    pub previous: Vec<String>,
    /// Derives each refresh token from the one it replaces; `None` in a
    /// session written before seeds existed (its retries are not recognised).
    pub seed: Option<RotationSeed>,
}

impl SessionRecord {
    /// Whether `digest` is this session's current refresh token (compared
    /// in constant time).
    pub fn is_current(&self, digest: &RefreshDigest) -> bool {
        ct_eq(&self.refresh, &digest.to_hex())
    }

    /// Whether `digest` is the current or a recently superseded refresh
    /// token of this session.
    pub fn knows(&self, digest: &RefreshDigest) -> bool {
        let hex = digest.to_hex();
        ct_eq(&self.refresh, &hex) || self.previous.iter().any(|p| ct_eq(p, &hex))
    }

    /// Field/value pairs of the Redis hash.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("c", self.client_id.clone()),
            ("s", self.scope.clone()),
            ("a", self.aud.clone()),
            (
                "x",
                serde_json::Value::Object(self.claims.clone()).to_string(),
            ),
            ("cr", self.created.to_string()),
            ("rf", self.refreshed.to_string()),
            ("e", self.exp.to_string()),
            ("rt", self.refresh.clone()),
            ("p", self.previous.join(",")),
        ];
        if let Some(seed) = &self.seed {
            fields.push(("k", seed.to_hex()));
        }
        fields
    }

    /// Rebuilds a record from the hash's field/value pairs.
    pub(crate) fn from_fields(
        sub: &str,
        sid: Sid,
        fields: &[(String, String)],
    ) -> Result<Self, StoreError> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let corrupt =
            |what: &str| StoreError::Backend(format!("corrupt session record: {what}").into());
        let num = |name: &str| -> Result<i64, StoreError> {
            get(name)
                .ok_or_else(|| corrupt(name))?
                .parse()
                .map_err(|_| corrupt(name))
        };
        let claims = match get("x") {
            Some(raw) if !raw.is_empty() => {
                serde_json::from_str(raw).map_err(|_| corrupt("claims"))?
            }
            _ => serde_json::Map::new(),
        };
        Ok(SessionRecord {
            sid,
            sub: sub.to_owned(),
            client_id: get("c").ok_or_else(|| corrupt("client"))?.to_owned(),
            scope: get("s").unwrap_or_default().to_owned(),
            aud: get("a").unwrap_or_default().to_owned(),
            claims,
            created: num("cr")?,
            refreshed: num("rf")?,
            exp: num("e")?,
            refresh: get("rt").unwrap_or_default().to_owned(),
            previous: get("p")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            seed: match get("k") {
                Some(hex) => Some(RotationSeed::from_hex(hex).ok_or_else(|| corrupt("seed"))?),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_below_the_generation_is_dead() {
        assert!(!AccessRecord::is_live(None, None).unwrap());
        assert!(AccessRecord::is_live(Some("1"), None).unwrap());
        assert!(!AccessRecord::is_live(Some("1"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("2"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("3"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("x"), None).is_err());
    }

    #[test]
    fn session_record_round_trips_through_fields() {
        let mut claims = serde_json::Map::new();
        claims.insert("role".into(), "editor".into());
        let rec = SessionRecord {
            sid: Sid::new_random(),
            sub: "u".into(),
            client_id: "c".into(),
            scope: "a b".into(),
            aud: "api".into(),
            claims,
            created: 1,
            refreshed: 2,
            exp: 3,
            refresh: "ab".into(),
            previous: vec!["cd".into(), "ef".into()],
            seed: Some(RotationSeed([7; 32])),
        };
        let fields: Vec<(String, String)> = rec
            .to_fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(
            SessionRecord::from_fields("u", rec.sid, &fields).unwrap(),
            rec
        );
        let legacy: Vec<_> = fields.iter().filter(|(k, _)| k != "k").cloned().collect();
        let read = SessionRecord::from_fields("u", rec.sid, &legacy).unwrap();
        assert_eq!(read.seed, None);
    }
}
