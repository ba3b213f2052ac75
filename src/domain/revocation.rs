//! Revocation events: what a local verifier can match from a token alone,
//! published on the revocation feed (`GET /token/revocations`).

use serde::Serialize;

/// One revocation decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Revocation {
    /// One access token, until its `exp` (Unix s).
    Token { sub: String, jti: String, exp: i64 },
    /// Every token of a session (`sid`), until `exp` (the session's end,
    /// Unix s; absent when the publisher did not know it).
    Session {
        sub: String,
        sid: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        exp: Option<i64>,
    },
    /// Every token of `sub` issued before `before` (Unix ms).
    User { sub: String, before: i64 },
}

/// A published event: its position in the feed and what it revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub id: FeedId,
    pub revocation: Revocation,
}

/// A feed position, `<ms>-<seq>` like a Redis stream id; ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedId {
    pub ms: u64,
    pub seq: u64,
}

impl FeedId {
    /// Parses `<ms>-<seq>` (as a client's `Last-Event-ID`); `None` if not that.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > 41 {
            return None;
        }
        let (ms, seq) = s.split_once('-')?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(FeedId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for FeedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl Revocation {
    /// The flat field/value pairs a store keeps.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Revocation::Token { sub, jti, exp } => vec![
                ("t", "token".into()),
                ("sub", sub.clone()),
                ("jti", jti.clone()),
                ("exp", exp.to_string()),
            ],
            Revocation::Session { sub, sid, exp } => {
                let mut f = vec![
                    ("t", "session".into()),
                    ("sub", sub.clone()),
                    ("sid", sid.clone()),
                ];
                if let Some(exp) = exp {
                    f.push(("exp", exp.to_string()));
                }
                f
            }
            Revocation::User { sub, before } => vec![
                ("t", "user".into()),
                ("sub", sub.clone()),
                ("before", before.to_string()),
            ],
        }
    }

    /// Rebuilds an event from its stored pairs; `None` if they are not one.
    pub fn from_fields(fields: &[(String, String)]) -> Option<Self> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let num = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
        let sub = get("sub")?;
        Some(match get("t")?.as_str() {
            "token" => Revocation::Token {
                sub,
                jti: get("jti")?,
                exp: num("exp")?,
            },
            "session" => Revocation::Session {
                sub,
                sid: get("sid")?,
                exp: num("exp"),
            },
            "user" => Revocation::User {
                sub,
                before: num("before")?,
            },
            _ => return None,
        })
    }

    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Revocation::Token { .. } => "token",
            Revocation::Session { .. } => "session",
            Revocation::User { .. } => "user",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_fields() {
        let all = [
            Revocation::Token {
                sub: "u".into(),
                jti: "j".into(),
                exp: 5,
            },
            Revocation::Session {
                sub: "u".into(),
                sid: "s".into(),
                exp: Some(7),
            },
            Revocation::Session {
                sub: "u".into(),
                sid: "s".into(),
                exp: None,
            },
            Revocation::User {
                sub: "u".into(),
                before: 9,
            },
        ];
        for r in all {
            let fields: Vec<(String, String)> = r
                .to_fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            assert_eq!(Revocation::from_fields(&fields), Some(r));
        }
    }

    #[test]
    fn feed_ids_parse_order_and_refuse_junk() {
        let a = FeedId::parse("1700000000000-0").unwrap();
        let b = FeedId::parse("1700000000000-1").unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "1700000000000-0");
        for bad in ["", "1", "-1", "1-", "a-1", "1-1-1", "+1-1", &"9".repeat(50)] {
            assert_eq!(FeedId::parse(bad), None, "{bad}");
        }
    }
}
