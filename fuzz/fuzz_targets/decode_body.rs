//! Request body decoding on arbitrary bytes: the issue request (JSON),
//! the form endpoints' decoding, and the domain parsers behind them.
//! Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::domain::{Audience, CustomClaims, Scope, Subject};
use tessera::http::{Body, BodyKind, decode_issue_request};

const FORM_FIELDS: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let kind = match mode % 3 {
        0 => BodyKind::Json,
        1 => BodyKind::Form,
        _ => BodyKind::Empty,
    };
    let body = Body {
        kind,
        bytes: bytes::Bytes::copy_from_slice(rest),
    };
    let _ = decode_issue_request(&body);
    let _ = body.parse::<serde_json::Value>(FORM_FIELDS);
    if let Ok(Some(serde_json::Value::Object(map))) = body.parse::<serde_json::Value>(FORM_FIELDS) {
        let _ = CustomClaims::parse(map);
    }
    let text = String::from_utf8_lossy(rest);
    let _ = Subject::parse(&text);
    let _ = Scope::parse(&text);
    let _ = Audience::parse(&text);
});
