//! RFC 7523 assertion checks (`jwt_assertion::verify`) on any input: never a panic, and only a
//! JWS signed with the registered key, with an allowed algorithm, is ever accepted.
//!
//! Input: the first byte picks the mode. Even: the rest is the assertion as sent. Odd: the rest
//! is `header NUL payload`, both raw JSON bytes, and the target signs them with the client's
//! ES256 key, so the claim checks after the signature get fuzzed too. Bit 1 registers the key
//! twice under the same `kid`.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// A P-256 key made for this target only.
const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh04pdr5FEBxdW34Z
5AtjyRm9U5wcGGWJlbxeVvHCDfWhRANCAAQIl9CTXO43AlOkTvDRomiskdKFL1SP
6ZcPleXm/bLT/0z8aOcFYOXEKCntyoVRd/oH/ppbLrRTJ+dD3GtLlT8R
-----END PRIVATE KEY-----
";
const X: &str = "CJfQk1zuNwJTpE7w0aJorJHShS9Uj-mXD5Xl5v2y0_8";
const Y: &str = "TPxo5wVg5cQoKe3KhVF3-gf-mlsutFMn50Pca0uVPxE";
const CLIENT: &str = "fuzz-client";
const NOW: i64 = 1_900_000_000;

fn jwk() -> Value {
    json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "k1", "use": "sig", "alg": "ES256" })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = if mode & 2 == 0 {
        json!({ "keys": [jwk()] })
    } else {
        json!({ "keys": [jwk(), jwk()] })
    };
    if mode & 1 == 0 {
        let assertion = String::from_utf8_lossy(rest);
        let verdict = portcullis::fuzzing::jwt_assertion(&assertion, &keys, CLIENT, NOW);
        // Nobody but the key's holder can sign: random input never passes.
        assert!(
            verdict.is_err(),
            "an unsigned input was accepted: {assertion:?}"
        );
        return;
    }
    let (header, payload) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = EncodingKey::from_ec_pem(PRIVATE_KEY.as_bytes()).expect("the fuzz key parses");
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).expect("signs");
    let assertion = format!("{input}.{signature}");
    if portcullis::fuzzing::jwt_assertion(&assertion, &keys, CLIENT, NOW).is_ok() {
        let header: Value = serde_json::from_slice(header).expect("an accepted header is JSON");
        assert_eq!(header["alg"], "ES256", "accepted under another algorithm");
        assert!(mode & 2 == 0, "accepted although the kid names two keys");
        let claims: Value = serde_json::from_slice(payload).expect("accepted claims are JSON");
        assert_eq!(claims["iss"], CLIENT);
        assert_eq!(claims["sub"], CLIENT);
        let exp = claims["exp"].as_i64().expect("exp is a number");
        assert!(
            exp > NOW - 30 && exp <= NOW + 300 + 30,
            "exp {exp} outside the window"
        );
    }
});
