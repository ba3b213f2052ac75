//! `TraceId`: the W3C Trace Context trace id of a request (16 bytes, 32
//! lowercase hex, never all zero), taken from a `traceparent` header that
//! parses strictly by the W3C Trace Context spec, or generated from the
//! operating system's CSPRNG.

use std::fmt;

/// A W3C trace id. Only valid values exist: its `Display` is always 32
/// lowercase hex digits, so it is safe to log.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// `len` lowercase hex digits (the spec's HEXDIGLC; upper case is invalid).
fn lower_hex(s: &str, len: usize) -> Option<&str> {
    (s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(s)
}

fn byte(pair: &[u8]) -> u8 {
    let digit = |b: u8| {
        if b.is_ascii_digit() {
            b - b'0'
        } else {
            b - b'a' + 10
        }
    };
    digit(pair[0]) << 4 | digit(pair[1])
}

impl TraceId {
    /// The trace id of a `traceparent` value, or `None` when the value is
    /// invalid: `version "-" trace-id "-" parent-id "-" trace-flags`, all
    /// lowercase hex of 2, 32, 16 and 2 digits; version `ff` is invalid;
    /// version `00` is exactly 55 characters; a higher version may carry
    /// more after a `-` (the spec's forward-compatible parse); an all-zero
    /// trace id or parent id is invalid.
    pub fn from_traceparent(value: &str) -> Option<TraceId> {
        let head = value.get(..55)?;
        let version = lower_hex(head.get(..2)?, 2)?;
        let shape_ok = match version {
            "ff" => false,
            "00" => value.len() == 55,
            _ => value.len() == 55 || value.as_bytes()[55] == b'-',
        };
        if !shape_ok {
            return None;
        }
        let b = head.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let trace = lower_hex(head.get(3..35)?, 32)?;
        let parent = lower_hex(head.get(36..52)?, 16)?;
        lower_hex(head.get(53..55)?, 2)?;
        if parent.bytes().all(|c| c == b'0') {
            return None;
        }
        let mut id = [0u8; 16];
        for (slot, pair) in id.iter_mut().zip(trace.as_bytes().chunks(2)) {
            *slot = byte(pair);
        }
        (id != [0; 16]).then_some(TraceId(id))
    }

    /// A fresh random trace id (`domain::random`).
    pub fn generate() -> TraceId {
        loop {
            let mut id = [0u8; 16];
            super::random::fill(&mut id);
            if id != [0; 16] {
                return TraceId(id);
            }
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parses(v: &str) -> bool {
        TraceId::from_traceparent(v).is_some()
    }

    #[test]
    fn the_spec_example_gives_its_trace_id() {
        let id = TraceId::from_traceparent(VALID).unwrap();
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(parses(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        ));
    }

    #[test]
    fn anything_off_the_grammar_is_invalid() {
        for bad in [
            "",
            "00",
            &VALID.to_uppercase(),
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert!(!parses(bad), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_higher_version_parses_forward_compatibly() {
        assert!(parses(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(parses(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds"
        ));
    }

    #[test]
    fn generated_ids_are_32_hex_and_differ() {
        let a = TraceId::generate().to_string();
        let b = TraceId::generate().to_string();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
