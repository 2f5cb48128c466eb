//! `client_auth::presented` on any `Authorization` header and form body: never a panic, and a
//! client id it reads never holds NUL (it would reach the store).
//!
//! Input: `header NUL body`; an empty header is no header.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let header = String::from_utf8_lossy(header);
    let authorization = (!header.is_empty()).then_some(header.as_ref());
    if let Some(id) = portcullis::fuzzing::client_auth(authorization, body) {
        assert!(!id.contains('\0'), "a client id with NUL: {id:?}");
    }
    // The header's text as Basic credentials (RFC 6749 §2.3.1: form-encoded id:secret).
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(header.as_bytes())
    );
    if let Some(id) = portcullis::fuzzing::client_auth(Some(&basic), body) {
        assert!(!id.contains('\0'), "a client id with NUL: {id:?}");
    }
});
