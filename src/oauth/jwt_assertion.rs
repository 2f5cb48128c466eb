//! RFC 7523 §3: the checks every JWT assertion passes, shared by `private_key_jwt` client
//! authentication (§2.2) and the JWT bearer grant (§2.1). The caller names the keys and the
//! expected `iss`/`sub`/`aud`; this module verifies the signature and the times and says
//! precisely what failed. Recording the `jti` (§3 item 7) is the caller's, because each
//! caller keys it by its own issuer.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::oauth::remote_jwks::RemoteJwks;

/// Asymmetric algorithms only: an issuer's JWKS is public, so an HMAC "key" taken from it
/// proves nothing (RFC 8725 §3.1), and `none` is never accepted.
pub const ASYMMETRIC_ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An algorithm by its JWA name, if it is one of `ASYMMETRIC_ALGS`.
pub fn asymmetric_alg(name: &str) -> Option<Algorithm> {
    ASYMMETRIC_ALGS
        .into_iter()
        .find(|a| format!("{a:?}") == name)
}

/// Where the issuer's verification keys are.
pub enum KeySource<'a> {
    /// A JWK Set registered inline.
    Inline(&'a Value),
    /// A JWK Set published at a URL (fetched through the shared cache).
    Remote(&'a str),
}

/// What the assertion must say.
pub struct Expected<'a> {
    pub algorithms: &'a [Algorithm],
    pub issuer: &'a str,
    /// `Some` when `sub` must equal it (client authentication); any `sub` otherwise.
    pub subject: Option<&'a str>,
    /// Values any one of which `aud` must contain (§3 item 3).
    pub audiences: &'a [&'a str],
    /// Seconds of clock skew tolerated.
    pub leeway: i64,
    /// Seconds: `exp` may lie at most this far ahead (§3 item 4 lets the server bound it).
    pub max_lifetime: i64,
}

#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    // Defaulted so that an absent claim is reported as missing, not as malformed JSON.
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
}

/// Why an assertion was refused. `Display` is public-safe text: it names the rule, never a key
/// or a claim value.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the assertion is not a well-formed JWT")]
    Malformed(String),
    #[error("the assertion's signing algorithm is not allowed")]
    Algorithm(String),
    #[error("the issuer's keys could not be loaded")]
    Keys(String),
    #[error("the assertion signature is not valid")]
    Signature(String),
    #[error("the assertion issuer (iss) is not the expected one")]
    Issuer,
    #[error("the assertion subject (sub) is not the expected one")]
    Subject,
    #[error("the assertion audience (aud) does not name this server")]
    Audience,
    #[error("the assertion lacks a required claim")]
    MissingClaim(String),
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion is not yet valid (nbf or iat in the future)")]
    NotYetValid,
    #[error("the assertion expires too far in the future")]
    TooLong,
}

impl Refusal {
    /// What the log gets besides the public text.
    pub fn detail(&self) -> String {
        match self {
            Refusal::Malformed(d)
            | Refusal::Algorithm(d)
            | Refusal::Keys(d)
            | Refusal::Signature(d)
            | Refusal::MissingClaim(d) => format!("{self}: {d}"),
            other => other.to_string(),
        }
    }
}

/// A claim of an assertion whose signature has not been checked yet: only to find out whose
/// keys to check it with.
pub fn unverified_claim(assertion: &str, name: &str) -> Option<String> {
    unverified_part(assertion, 1, name)
}

/// The JWS payload as JSON (`Null` when it is not), without checking the signature: call it
/// before verifying only to learn whose keys to use, or after `verify` to read further claims.
pub fn unverified_payload(assertion: &str) -> Value {
    decoded_part(assertion, 1).unwrap_or(Value::Null)
}

/// A string member of the JWS header (`part` 0) or payload (`part` 1), unverified.
fn unverified_part(assertion: &str, part: usize, name: &str) -> Option<String> {
    decoded_part(assertion, part)?
        .get(name)?
        .as_str()
        .map(str::to_string)
}

fn decoded_part(assertion: &str, part: usize) -> Option<Value> {
    let encoded = assertion.split('.').nth(part)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

/// Verifies the signature with one of the issuer's keys and an allowed algorithm, then
/// `iss`, `sub`, `aud` and the times against `now`. RFC 7523 §3 items 1–6 and 9.
pub async fn verify(
    remote: &RemoteJwks,
    assertion: &str,
    keys: KeySource<'_>,
    expected: &Expected<'_>,
    now: i64,
) -> Result<AssertionClaims, Refusal> {
    // RFC 8725 §3.1: the algorithm comes from what we allow, never from the header alone.
    // Read by name first, so `none` (which the JWT library cannot even represent) is refused
    // as an algorithm rather than as a malformed token.
    let named = unverified_part(assertion, 0, "alg").unwrap_or_default();
    let allowed = asymmetric_alg(&named).filter(|a| expected.algorithms.contains(a));
    if allowed.is_none() {
        return Err(Refusal::Algorithm(format!("{named:?}")));
    }
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if Some(header.alg) != allowed {
        return Err(Refusal::Algorithm(format!("{:?}", header.alg)));
    }
    let set: Arc<JwkSet> = match keys {
        KeySource::Inline(jwks) => Arc::new(
            serde_json::from_value(jwks.clone()).map_err(|e| Refusal::Keys(e.to_string()))?,
        ),
        KeySource::Remote(uri) => remote
            .get(uri, header.kid.as_deref(), now)
            .await
            .map_err(Refusal::Keys)?,
    };
    // RFC 7517 §4.5: `kid` tells keys apart. A set in which two keys share one is ambiguous
    // (which key did the issuer mean?), so nothing is verified against it.
    if has_duplicate_kid(&set) {
        return Err(Refusal::Keys("two keys of the set share a kid".into()));
    }
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .collect(),
        None => set.keys.iter().collect(),
    };
    let mut validation = Validation::new(header.alg);
    // Times are checked below against the server's clock, which tests can move.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_issuer(&[expected.issuer]);
    validation.sub = expected.subject.map(str::to_string);
    validation.set_audience(expected.audiences);
    let mut last = Refusal::Signature("no key of the issuer matches the assertion".into());
    let mut verified = None;
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
            Ok(data) => {
                verified = Some(data.claims);
                break;
            }
            // Another key of the set may still verify it.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm
                ) =>
            {
                last = Refusal::Signature(e.to_string());
            }
            // The signature verified; the claims did not pass.
            Err(e) => {
                return Err(match e.kind() {
                    ErrorKind::InvalidIssuer => Refusal::Issuer,
                    ErrorKind::InvalidSubject => Refusal::Subject,
                    ErrorKind::InvalidAudience => Refusal::Audience,
                    ErrorKind::MissingRequiredClaim(c) => Refusal::MissingClaim(c.clone()),
                    _ => Refusal::Malformed(e.to_string()),
                });
            }
        }
    }
    let claims = verified.ok_or(last)?;
    // RFC 7523 §3 items 1, 2 and 4: iss, sub and exp are required.
    for (name, present) in [
        ("iss", !claims.iss.is_empty()),
        ("sub", !claims.sub.is_empty()),
        ("exp", claims.exp != 0),
    ] {
        if !present {
            return Err(Refusal::MissingClaim(name.into()));
        }
    }
    check_times(&claims, expected, now)?;
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(Refusal::MissingClaim("jti".into()));
    }
    Ok(claims)
}

/// Whether two keys of the set share a `kid` (RFC 7517 §4.5: such a set is ambiguous).
pub fn has_duplicate_kid(set: &JwkSet) -> bool {
    let mut seen = std::collections::HashSet::new();
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.as_deref())
        .any(|kid| !seen.insert(kid))
}

/// RFC 7523 §3 items 4–6: `exp` passed, not too far ahead; `nbf` and `iat` not in the future.
fn check_times(claims: &AssertionClaims, expected: &Expected<'_>, now: i64) -> Result<(), Refusal> {
    // Saturating: the claims are the sender's numbers, and `exp` near i64::MAX must be
    // refused as too long, not overflow.
    let leeway = expected.leeway;
    if claims.exp.saturating_add(leeway) <= now {
        return Err(Refusal::Expired);
    }
    let not_after = now.saturating_add(leeway);
    if claims.nbf.is_some_and(|nbf| nbf > not_after)
        || claims.iat.is_some_and(|iat| iat > not_after)
    {
        return Err(Refusal::NotYetValid);
    }
    if claims.exp
        > now
            .saturating_add(expected.max_lifetime)
            .saturating_add(leeway)
    {
        return Err(Refusal::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod proptests {
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::fuzzing;

    /// A P-256 key made for these tests (the same as fuzz/fuzz_targets/jwt_assertion.rs).
    const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh04pdr5FEBxdW34Z
5AtjyRm9U5wcGGWJlbxeVvHCDfWhRANCAAQIl9CTXO43AlOkTvDRomiskdKFL1SP
6ZcPleXm/bLT/0z8aOcFYOXEKCntyoVRd/oH/ppbLrRTJ+dD3GtLlT8R
-----END PRIVATE KEY-----
";
    const X: &str = "CJfQk1zuNwJTpE7w0aJorJHShS9Uj-mXD5Xl5v2y0_8";
    const Y: &str = "TPxo5wVg5cQoKe3KhVF3-gf-mlsutFMn50Pca0uVPxE";
    const CLIENT: &str = "prop-client";
    const NOW: i64 = 1_900_000_000;

    fn jwk(kid: &str) -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": kid, "alg": "ES256" })
    }

    fn sign(header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = EncodingKey::from_ec_pem(PRIVATE_KEY.as_bytes()).unwrap();
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
        format!("{input}.{sig}")
    }

    fn claims(exp: i64) -> Value {
        json!({ "iss": CLIENT, "sub": CLIENT, "aud": fuzzing::ISSUER, "exp": exp, "jti": "j" })
    }

    fn check(assertion: &str, keys: &Value) -> Result<String, String> {
        fuzzing::jwt_assertion(assertion, keys, CLIENT, NOW)
    }

    #[test]
    fn a_well_signed_assertion_passes() {
        let good = sign(&json!({ "alg": "ES256", "kid": "k1" }), &claims(NOW + 60));
        assert_eq!(
            check(&good, &json!({ "keys": [jwk("k1")] })),
            Ok("j".into())
        );
    }

    /// RFC 8725 §2.1, §3.1: `none` and an HMAC keyed with the issuer's public key are refused.
    #[test]
    fn alg_none_and_hmac_with_the_public_key_are_refused() {
        let keys = json!({ "keys": [jwk("k1")] });
        let body = URL_SAFE_NO_PAD.encode(claims(NOW + 60).to_string());
        for alg in ["none", "None", "NONE", ""] {
            let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "kid": "k1" }).to_string());
            for sig in ["", "AAAA"] {
                let e = check(&format!("{header}.{body}.{sig}"), &keys).unwrap_err();
                assert!(e.contains("algorithm"), "{alg}: {e}");
            }
        }
        // The public key as an HMAC secret, in every form a confused verifier might use.
        for secret in [
            keys.to_string(),
            jwk("k1").to_string(),
            format!("{X}{Y}"),
            X.to_string(),
        ] {
            let token = jsonwebtoken::encode(
                &Header {
                    kid: Some("k1".into()),
                    ..Header::new(Algorithm::HS256)
                },
                &claims(NOW + 60),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            let e = check(&token, &keys).unwrap_err();
            assert!(e.contains("algorithm"), "{e}");
        }
    }

    /// RFC 7517 §4.5: a set with two keys under one `kid` verifies nothing, whichever kid the
    /// header names (or none).
    #[test]
    fn a_key_set_with_a_duplicate_kid_is_refused() {
        let dup = json!({ "keys": [jwk("k1"), jwk("k1")] });
        for header in [
            json!({ "alg": "ES256", "kid": "k1" }),
            json!({ "alg": "ES256" }),
        ] {
            let e = check(&sign(&header, &claims(NOW + 60)), &dup).unwrap_err();
            assert!(e.contains("keys"), "{e}");
        }
        let distinct = json!({ "keys": [jwk("k0"), jwk("k1")] });
        let good = sign(&json!({ "alg": "ES256", "kid": "k1" }), &claims(NOW + 60));
        assert!(check(&good, &distinct).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any text is refused without a panic.
        #[test]
        fn any_text_is_refused(assertion in "\\PC{0,200}|[A-Za-z0-9_.-]{0,200}") {
            let keys = json!({ "keys": [jwk("k1")] });
            prop_assert!(check(&assertion, &keys).is_err());
        }

        /// Claims signed with the right key pass exactly when their times are in the window,
        /// whatever the numbers (an `exp` of i64::MAX once overflowed).
        #[test]
        fn times_decide_and_never_overflow(
            exp in prop_oneof![any::<i64>(), (NOW - 100)..(NOW + 400), Just(i64::MAX), Just(i64::MIN)],
            nbf in proptest::option::of(prop_oneof![any::<i64>(), Just(i64::MAX)]),
            iat in proptest::option::of(prop_oneof![any::<i64>(), Just(i64::MIN)]),
        ) {
            let mut c = claims(exp);
            if let Some(nbf) = nbf { c["nbf"] = nbf.into(); }
            if let Some(iat) = iat { c["iat"] = iat.into(); }
            let verdict = check(&sign(&json!({ "alg": "ES256", "kid": "k1" }), &c), &json!({ "keys": [jwk("k1")] }));
            let in_window = exp != 0
                && exp > NOW - 30
                && exp <= NOW + 300 + 30
                && nbf.is_none_or(|t| t <= NOW + 30)
                && iat.is_none_or(|t| t <= NOW + 30);
            prop_assert_eq!(verdict.is_ok(), in_window, "{:?}", verdict);
        }

        /// Whatever the header says, only ES256 (the key's algorithm) verifies.
        #[test]
        fn only_the_keys_algorithm_verifies(alg in "[A-Za-z0-9]{0,6}", kid in proptest::option::of("k[0-9]")) {
            let mut header = json!({ "alg": alg });
            if let Some(kid) = &kid { header["kid"] = kid.clone().into(); }
            let verdict = check(&sign(&header, &claims(NOW + 60)), &json!({ "keys": [jwk("k1")] }));
            let expect = alg == "ES256" && kid.as_deref().is_none_or(|k| k == "k1");
            prop_assert_eq!(verdict.is_ok(), expect, "{:?}", verdict);
        }
    }
}
