//! What a client is told when its body does not decode: serde's message
//! without the client's own text. serde quotes the offending input
//! (`invalid type: string "eyJ…", expected a boolean`, ``unknown field
//! `eyJ…` ``), and that input is often a token or a secret sent in the wrong
//! place; the answer and the DEBUG line that logs it must not repeat it.
//! What stays: the kind of mistake, the expected shape (our own field
//! names), the position, and an unknown field or variant name when it
//! looks like one (up to 24 lowercase letters and `_`, as `admin` or
//! `refresh_tokn`: never the shape of a token or a generated secret).

/// serde's `msg` with every quoted piece of client input replaced.
pub fn without_input(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    // `unknown field `X`, expected …` / `unknown variant `X`, expected …`:
    // X is the client's; what follows lists ours.
    for head in ["unknown field `", "unknown variant `"] {
        if let Some(tail) = rest.strip_prefix(head) {
            let (name, after) = tail.split_once('`').unwrap_or((tail, ""));
            if looks_like_a_name(name) {
                out.push_str(head);
                out.push_str(name);
                out.push('`');
            } else {
                out.push_str(head.trim_end_matches(" `"));
            }
            rest = after;
        }
    }
    // `string "…"` is serde's Debug rendering of a string value (inner
    // quotes escaped as \"): drop it up to its closing quote.
    while let Some(at) = rest.find("string \"") {
        out.push_str(&rest[..at]);
        out.push_str("a string");
        rest = closing_quote(&rest[at + "string \"".len()..]);
    }
    out.push_str(rest);
    out
}

/// A mistyped field or variant name, safe to repeat.
fn looks_like_a_name(s: &str) -> bool {
    (1..=24).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// What follows the first unescaped `"` of `s` (nothing if there is none).
fn closing_quote(s: &str) -> &str {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return &s[i + 1..],
            _ => escaped = false,
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::without_input;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        refresh: Option<bool>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Access,
    }

    fn message(json: &str) -> String {
        let e = serde_json::from_str::<Body>(json).unwrap_err();
        without_input(&e.to_string())
    }

    const SECRET: &str = "eyJhbGciOi.secret\\\"part";

    #[test]
    fn the_clients_text_is_never_repeated() {
        for (json, kept) in [
            (
                format!(r#"{{"refresh": "{SECRET}"}}"#),
                "invalid type: a string, expected a boolean",
            ),
            (
                format!(r#"{{"{SECRET}": 1}}"#),
                "unknown field, expected `refresh` or `kind`",
            ),
            (
                format!(r#"{{"kind": "{SECRET}"}}"#),
                "unknown variant, expected `access`",
            ),
        ] {
            let msg = message(&json);
            assert!(!msg.contains("eyJ"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
            assert!(msg.starts_with(kept), "{msg}");
            assert!(msg.contains("at line 1 column"), "{msg}");
        }
    }

    #[test]
    fn a_mistyped_field_name_is_still_named() {
        let msg = message(r#"{"refresh_tokn": true}"#);
        assert!(
            msg.starts_with("unknown field `refresh_tokn`, expected"),
            "{msg}"
        );
        let msg = message(r#"{"x\nERROR forged": true}"#);
        assert!(msg.starts_with("unknown field, expected"), "{msg}");
    }

    #[test]
    fn messages_without_input_are_unchanged() {
        for msg in [
            "missing field `sub` at line 1 column 2",
            "EOF while parsing an object at line 1 column 1",
            "invalid type: integer `5`, expected a boolean",
        ] {
            assert_eq!(without_input(msg), msg);
        }
    }

    #[test]
    fn an_unterminated_quote_drops_the_rest() {
        assert_eq!(
            without_input("invalid value: string \"abc"),
            "invalid value: a string"
        );
    }
}
