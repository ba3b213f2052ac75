//! Lower-case hex of bytes, and back: the text form of digests and seeds.

use std::fmt::Write;

/// `bytes` as lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes of `hex` (an even number of hex digits, either case);
/// anything else is `None`.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The 32 bytes of 64 hex digits; anything else is `None`.
pub fn from_hex_32(hex: &str) -> Option<[u8; 32]> {
    from_hex(hex)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(to_hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(from_hex_32(&"7f".repeat(32)), Some([0x7f; 32]));
        for bad in ["0", "zz", "+a", "é1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
        assert_eq!(from_hex_32(&"a".repeat(62)), None);
    }
}
