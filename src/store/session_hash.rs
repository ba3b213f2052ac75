//! A session's Redis hash: the compact encoding it is written in, and the
//! earlier one it is still read from.
//!
//! Written (docs/http-api.md, "Redis layout"): `c` client, `s` scope and
//! `a` audience (absent when empty), `x` custom claims as JSON (absent when
//! none), `cr` created and `e` expiry (Unix s), `rf` last refresh (absent
//! until the first), `d` the current refresh token's SHA-256 (32 raw
//! bytes), `z` the rotation seed (32 raw bytes), `q` and `Q` the
//! remembered prefixes of superseded digests (16 raw bytes each, newest
//! first, four to a field). The scripts add `g`, `gt`, `gn` and `j:<key22>`.
//!
//! Every value stays within 64 bytes, so Redis keeps the hash in its
//! compact listpack encoding (`hash-max-listpack-value`): hex digests and
//! one comma-separated list of them pushed a refreshed session past it,
//! into a hash table four times the size (BENCHMARKS.md).
//!
//! Read as well: sessions written before, with `rt` (hex digest), `p`
//! (comma-separated hex digests) and `k` (hex seed); `rotate.lua` rewrites
//! them in the compact form at their next refresh.

use super::StoreError;
use super::record::{REMEMBERED_PREFIX, SessionRecord};
use crate::domain::hex::{from_hex, from_hex_32, to_hex};
use crate::domain::{RotationSeed, Sid};

/// Remembered prefixes per hash value (4 × 16 = 64 bytes).
const PREFIXES_PER_FIELD: usize = 4;

impl SessionRecord {
    /// Field/value pairs of the Redis hash, in the compact encoding.
    pub fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut fields = vec![("c", self.client_id.as_bytes().to_vec())];
        for (name, text) in [("s", &self.scope), ("a", &self.aud)] {
            if !text.is_empty() {
                fields.push((name, text.as_bytes().to_vec()));
            }
        }
        if !self.claims.is_empty() {
            let json = serde_json::Value::Object(self.claims.clone()).to_string();
            fields.push(("x", json.into_bytes()));
        }
        fields.push(("cr", self.created.to_string().into_bytes()));
        if self.refreshed != self.created {
            fields.push(("rf", self.refreshed.to_string().into_bytes()));
        }
        fields.push(("e", self.exp.to_string().into_bytes()));
        if let Some(digest) = from_hex_32(&self.refresh) {
            fields.push(("d", digest.to_vec()));
        }
        let prefixes: Vec<u8> = self
            .previous
            .iter()
            .filter_map(|p| from_hex(p))
            .filter(|p| p.len() == REMEMBERED_PREFIX)
            .flatten()
            .collect();
        for (name, chunk) in ["q", "Q"]
            .into_iter()
            .zip(prefixes.chunks(REMEMBERED_PREFIX * PREFIXES_PER_FIELD))
        {
            fields.push((name, chunk.to_vec()));
        }
        if let Some(seed) = &self.seed {
            fields.push(("z", seed.0.to_vec()));
        }
        fields
    }

    /// Rebuilds a record from the hash's field/value pairs, in either
    /// encoding.
    pub(crate) fn from_fields(
        sub: &str,
        sid: Sid,
        fields: &[(String, Vec<u8>)],
    ) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Backend(format!("corrupt session record: {what}").into());
        let raw = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
        };
        let text = |name: &str| -> Result<Option<&str>, StoreError> {
            raw(name)
                .map(|v| std::str::from_utf8(v).map_err(|_| corrupt(name)))
                .transpose()
        };
        let num = |name: &str| -> Result<Option<i64>, StoreError> {
            text(name)?
                .map(|v| v.parse().map_err(|_| corrupt(name)))
                .transpose()
        };
        let claims = match text("x")? {
            Some(json) if !json.is_empty() => {
                serde_json::from_str(json).map_err(|_| corrupt("claims"))?
            }
            _ => serde_json::Map::new(),
        };
        let created = num("cr")?.ok_or_else(|| corrupt("cr"))?;
        let refresh = match (raw("d"), text("rt")?) {
            (Some(d), _) if d.len() == 32 => to_hex(d),
            (Some(_), _) => return Err(corrupt("digest")),
            (None, rt) => rt.unwrap_or_default().to_owned(),
        };
        let seed = match (raw("z"), text("k")?) {
            (Some(z), _) => Some(RotationSeed(z.try_into().map_err(|_| corrupt("seed"))?)),
            (None, Some(hex)) => Some(RotationSeed::from_hex(hex).ok_or_else(|| corrupt("seed"))?),
            (None, None) => None,
        };
        Ok(SessionRecord {
            sid,
            sub: sub.to_owned(),
            client_id: text("c")?.ok_or_else(|| corrupt("client"))?.to_owned(),
            scope: text("s")?.unwrap_or_default().to_owned(),
            aud: text("a")?.unwrap_or_default().to_owned(),
            claims,
            created,
            refreshed: num("rf")?.unwrap_or(created),
            exp: num("e")?.ok_or_else(|| corrupt("e"))?,
            refresh,
            previous: previous(raw("q"), raw("Q"), text("p")?)
                .ok_or_else(|| corrupt("previous"))?,
            seed,
        })
    }
}

/// The remembered prefixes (hex), newest first: from `q` and `Q`, or from
/// an earlier session's `p` (whole hex digests, cut to their prefix).
fn previous(q: Option<&[u8]>, big_q: Option<&[u8]>, p: Option<&str>) -> Option<Vec<String>> {
    let packed: Vec<u8> = [q, big_q]
        .into_iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    if !packed.is_empty() {
        if !packed.len().is_multiple_of(REMEMBERED_PREFIX) {
            return None;
        }
        return Some(packed.chunks(REMEMBERED_PREFIX).map(to_hex).collect());
    }
    p.unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| from_hex_32(d).map(|d| to_hex(&d[..REMEMBERED_PREFIX])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RefreshDigest;
    use crate::store::record::remembered;

    fn record() -> SessionRecord {
        let mut claims = serde_json::Map::new();
        claims.insert("role".into(), "editor".into());
        SessionRecord {
            sid: Sid::new_random(),
            sub: "u".into(),
            client_id: "c".into(),
            scope: "a b".into(),
            aud: "api".into(),
            claims,
            created: 1,
            refreshed: 2,
            exp: 3,
            refresh: RefreshDigest([1; 32]).to_hex(),
            previous: (2..8)
                .map(|i| remembered(&RefreshDigest([i; 32])))
                .collect(),
            seed: Some(RotationSeed([7; 32])),
        }
    }

    fn owned(fields: Vec<(&'static str, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn a_record_round_trips_and_every_value_fits_the_compact_encoding() {
        let rec = record();
        let fields = owned(rec.to_fields());
        assert!(fields.iter().all(|(_, v)| v.len() <= 64), "{fields:?}");
        assert_eq!(
            SessionRecord::from_fields("u", rec.sid, &fields).unwrap(),
            rec
        );
        let bare = SessionRecord {
            scope: String::new(),
            aud: String::new(),
            claims: serde_json::Map::new(),
            refreshed: 1,
            previous: Vec::new(),
            seed: None,
            ..rec
        };
        let fields = owned(bare.to_fields());
        let names: Vec<_> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["c", "cr", "e", "d"]);
        assert_eq!(
            SessionRecord::from_fields("u", bare.sid, &fields).unwrap(),
            bare
        );
    }

    #[test]
    fn a_session_written_before_the_compact_encoding_still_reads() {
        let rec = record();
        let whole = |i: u8| RefreshDigest([i; 32]).to_hex();
        let legacy: Vec<(String, Vec<u8>)> = [
            ("c", "c".to_owned()),
            ("s", "a b".into()),
            ("a", "api".into()),
            ("x", r#"{"role":"editor"}"#.into()),
            ("cr", "1".into()),
            ("rf", "2".into()),
            ("e", "3".into()),
            ("rt", rec.refresh.clone()),
            ("p", (2..8).map(whole).collect::<Vec<_>>().join(",")),
            ("k", RotationSeed([7; 32]).to_hex()),
            ("g", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_bytes()))
        .collect();
        assert_eq!(
            SessionRecord::from_fields("u", rec.sid, &legacy).unwrap(),
            rec
        );
    }

    #[test]
    fn a_damaged_hash_is_an_error_not_a_session() {
        let rec = record();
        for (name, value) in [
            ("d", vec![1; 31]),
            ("z", vec![1; 5]),
            ("q", vec![1; 17]),
            ("cr", b"x".to_vec()),
        ] {
            let mut fields = owned(rec.to_fields());
            fields.retain(|(k, _)| k != name);
            fields.push((name.to_owned(), value));
            assert!(
                SessionRecord::from_fields("u", rec.sid, &fields).is_err(),
                "{name}"
            );
        }
    }
}
