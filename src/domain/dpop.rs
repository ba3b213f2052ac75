//! DPoP (RFC 9449) values: the key thumbprint a token is bound to (`Jkt`),
//! a client's DPoP mode, the normalised target URI a proof names (`htu`),
//! and the access-token hash a proof carries (`ath`). The proof's
//! signature is checked in `token::dpop`; these are the rules that need
//! no key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{DomainError, err};

/// Longest `htu` accepted, before or after normalising.
pub const MAX_HTU_BYTES: usize = 2048;

/// Whether a client's tokens are bound to a DPoP key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DpopMode {
    /// Issue ignores DPoP: `cnf` and `dpop` in a request are refused.
    #[default]
    Off,
    /// A request may bind its tokens to a key; without one they are Bearer.
    Allowed,
    /// Every token of this client is bound to a key.
    Required,
}

/// An RFC 7638 JWK SHA-256 thumbprint, base64url without padding (43
/// characters): the `cnf.jkt` of a bound token (RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jkt(String);

impl Jkt {
    /// A thumbprint as a caller sends it: exactly 32 bytes in canonical
    /// base64url.
    pub fn parse(s: &str) -> Result<Jkt, DomainError> {
        let ok = s.len() == 43
            && URL_SAFE_NO_PAD
                .decode(s)
                .is_ok_and(|bytes| bytes.len() == 32);
        if ok {
            Ok(Jkt(s.to_owned()))
        } else {
            Err(err(
                "`cnf.jkt` must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)",
            ))
        }
    }

    /// The thumbprint of the canonical JWK members (RFC 7638 §3.2).
    pub fn of_canonical_jwk(canonical: &str) -> Jkt {
        Jkt(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compared in constant time.
    pub fn matches(&self, other: &Jkt) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl TryFrom<String> for Jkt {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Jkt::parse(&s)
    }
}

impl From<Jkt> for String {
    fn from(j: Jkt) -> String {
        j.0
    }
}

/// Why a proof is refused; the text is safe to show the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("DPoP proof is not a compact JWS of JSON objects")]
    Malformed,
    #[error("DPoP proof is over the size limit")]
    TooLarge,
    #[error("DPoP proof `typ` must be dpop+jwt")]
    WrongType,
    #[error("DPoP proof `alg` is not an allowed asymmetric algorithm")]
    Algorithm,
    #[error("DPoP proof `jwk` must be a public key")]
    PrivateKey,
    #[error("DPoP proof `jwk` does not match `alg`")]
    KeyMismatch,
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    #[error("DPoP proof lacks a required claim")]
    MissingClaim,
    #[error("DPoP proof `htm` does not match the request")]
    WrongMethod,
    #[error("DPoP proof `htu` does not match the request")]
    WrongUri,
    #[error("DPoP proof `iat` is outside the accepted window")]
    Stale,
    #[error("DPoP proof `ath` does not match the access token")]
    WrongAth,
    #[error("DPoP proof has been used before")]
    Replayed,
    #[error("a DPoP proof is required")]
    Missing,
    #[error("DPoP proof is not signed by the key the token is bound to")]
    WrongKey,
    /// Server nonces are on and the proof has none, or a stale or forged
    /// one (RFC 9449 §8): the answer carries a fresh `DPoP-Nonce`.
    #[error("DPoP proof must carry the nonce the server gives in `DPoP-Nonce`")]
    UseNonce,
}

impl ProofError {
    /// The metric and audit label (also the OAuth `error` code).
    pub fn label(self) -> &'static str {
        match self {
            ProofError::UseNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// The replay-cache name of a proof: the first 16 bytes of
/// SHA-256(jkt "." jti), so a `jti` is unique per key and the cache never
/// holds caller text (RFC 9449 §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofKey([u8; 16]);

impl ProofKey {
    pub fn new(jkt: &Jkt, jti: &str) -> ProofKey {
        let mut hasher = Sha256::new();
        hasher.update(jkt.as_str().as_bytes());
        hasher.update(b".");
        hasher.update(jti.as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ProofKey(key)
    }

    /// As the Redis key spells it: 22 base64url characters.
    pub fn key_part(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

/// `ath` for an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// An HTTP method as `htm` names it: an RFC 9110 token of at most 16
/// characters. Methods are case-sensitive, so no case folding.
pub fn parse_method(m: &str) -> Result<&str, DomainError> {
    let ok = !m.is_empty()
        && m.len() <= 16
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
    if ok {
        Ok(m)
    } else {
        Err(err("`htm` must be an HTTP method"))
    }
}

/// An `htu` in the form proofs and requests are compared in (RFC 9449
/// §4.3 step 9, RFC 3986 §6.2.2–6.2.3): scheme and host lowercase, the
/// scheme's default port dropped, an empty path as `/`, no query and no
/// fragment. Only `http` and `https`; user information is refused.
pub fn normalise_htu(uri: &str) -> Result<String, DomainError> {
    let bad = || err("`htu` must be an absolute http(s) URI");
    if uri.len() > MAX_HTU_BYTES || uri.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(bad());
    }
    let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err(bad()),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(bad());
    }
    let (host, port) = split_port(authority).ok_or_else(bad)?;
    if host.is_empty() {
        return Err(bad());
    }
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}{path}"),
        _ => format!("{scheme}://{host}{path}"),
    })
}

/// `host[:port]` (an IPv6 literal in brackets); the port digits only, without
/// leading zeros that would make `:080` differ from `:80`.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, tail) = authority.split_at(end + 1);
        match tail {
            "" => (host, None),
            t => (host, Some(t.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    match port {
        None | Some("") => Some((host, None)),
        Some(p) => {
            let p = p.trim_start_matches('0');
            let valid = p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n > 0 && n <= 65_535);
            valid.then_some((host, Some(p)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_is_compared_in_its_normal_form() {
        let cases = [
            (
                "HTTPS://API.Example.COM:443/a/B?x=1#f",
                "https://api.example.com/a/B",
            ),
            ("http://h:80", "http://h/"),
            ("http://h:8080/p", "http://h:8080/p"),
            ("https://h:080/p", "https://h:80/p"),
            ("https://[::1]:443/p", "https://[::1]/p"),
            ("https://[::1]:8443/p", "https://[::1]:8443/p"),
            ("https://h:/p", "https://h/p"),
        ];
        for (given, normal) in cases {
            assert_eq!(normalise_htu(given).as_deref(), Ok(normal), "{given}");
        }
    }

    #[test]
    fn htu_that_is_not_an_absolute_http_uri_is_refused() {
        let long = format!("https://h/{}", "a".repeat(MAX_HTU_BYTES));
        for bad in [
            "/relative",
            "ftp://h/p",
            "https://user@h/p",
            "https://h:99999/p",
            "https://h:x/p",
            "https:///p",
            "https://h/a b",
            long.as_str(),
        ] {
            assert!(normalise_htu(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jkt_is_43_base64url_characters_of_32_bytes() {
        let jkt = Jkt::of_canonical_jwk("{}");
        assert_eq!(Jkt::parse(jkt.as_str()), Ok(jkt.clone()));
        assert!(jkt.matches(&Jkt::parse(jkt.as_str()).unwrap()));
        for bad in [
            "",
            "abc",
            &"A".repeat(44),
            &format!("{}=", &jkt.as_str()[..42]),
        ] {
            assert!(Jkt::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1: the RSA key's canonical JSON and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        assert_eq!(
            Jkt::of_canonical_jwk(&canonical).as_str(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn methods_are_tokens_kept_as_sent() {
        assert_eq!(parse_method("POST"), Ok("POST"));
        for bad in ["", "GE T", "GET\n", &"A".repeat(17)] {
            assert!(parse_method(bad).is_err(), "{bad:?}");
        }
    }
}
