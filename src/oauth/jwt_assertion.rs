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

/// RFC 7523 §3 items 4–6: `exp` passed, not too far ahead; `nbf` and `iat` not in the future.
fn check_times(claims: &AssertionClaims, expected: &Expected<'_>, now: i64) -> Result<(), Refusal> {
    let leeway = expected.leeway;
    if claims.exp + leeway <= now {
        return Err(Refusal::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + leeway)
        || claims.iat.is_some_and(|iat| iat > now + leeway)
    {
        return Err(Refusal::NotYetValid);
    }
    if claims.exp > now + expected.max_lifetime + leeway {
        return Err(Refusal::TooLong);
    }
    Ok(())
}
