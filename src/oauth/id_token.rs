//! OpenID Connect Core §2 and §3.1.3.6: the ID token, signed with the client's
//! `id_token_signed_response_alg` (OIDC Dynamic Client Registration 1.0 §2), else
//! `tokens.id_token_alg`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::config::SigningAlg;
use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;

/// OIDC Core §2: the header type of an ID token (RFC 7519 §5.1).
pub const TYP_ID_TOKEN: &str = "JWT";

/// What an ID token says about one authentication.
pub struct IdTokenSpec<'a> {
    /// The audience; its registration names the signing algorithm.
    pub client: &'a Client,
    /// The user's stable id.
    pub subject: &'a str,
    pub auth_time: i64,
    /// Echoed from the authentication request; never on a refresh (OIDC Core §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// The browser session (OIDC Back-Channel Logout 1.0 §2.1 `sid`), so a Logout Token can
    /// name it later.
    pub sid: Option<&'a str>,
    /// OIDC Core §2 `acr`: set when the request asked for a class this server satisfies.
    pub acr: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    /// The user's claims, when no access token lets the client read them at userinfo.
    #[serde(flatten)]
    user_claims: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    amr: [&'static str; 1],
}

/// OIDC Core §2 `amr` with RFC 8176 §2 values: every sign-in here is by password (`pwd`),
/// whichever flow then issues the ID token.
const AMR_PASSWORD: [&str; 1] = ["pwd"];

/// OIDC Core §3.1.3.6: the left half of the hash of the access token's ASCII, base64url,
/// with the hash of the signing algorithm (SHA-512 for EdDSA over Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => Sha256::digest(access_token.as_bytes()).to_vec(),
        SigningAlg::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

pub fn issue_id_token(
    state: &ProtocolContext,
    spec: IdTokenSpec<'_>,
    now: i64,
) -> Result<String, OAuthError> {
    issue_id_token_with_claims(state, spec, &Map::new(), now)
}

/// An ID token that also carries the user's claims (OIDC Core §5.4: when no access token is
/// issued, as for `response_type=id_token`, the claims of the granted scopes go in the ID
/// token). A claim named like one of the ID token's own is left out.
pub fn issue_id_token_with_claims(
    state: &ProtocolContext,
    spec: IdTokenSpec<'_>,
    user_claims: &Map<String, Value>,
    now: i64,
) -> Result<String, OAuthError> {
    const OWN: [&str; 9] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "azp",
        "at_hash",
    ];
    let user_claims: Map<String, Value> = user_claims
        .iter()
        .filter(|(k, _)| !OWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // OIDC Dynamic Client Registration 1.0 §2: the algorithm the client registered.
    let alg = spec.client.id_token_alg(state.config.tokens.id_token_alg);
    let claims = Claims {
        // OIDC Core §2: iss, sub, aud (the client), exp and iat are required.
        iss: &state.issuer,
        sub: spec.subject,
        aud: &spec.client.id,
        exp: now + state.config.tokens.id_token_lifetime as i64,
        iat: now,
        // OIDC Core §2: auth_time is required when max_age was asked; always sent here.
        auth_time: spec.auth_time,
        // OIDC Core §3.1.3.6: the nonce of the authentication request, unchanged.
        nonce: spec.nonce,
        azp: &spec.client.id,
        at_hash: spec.access_token.map(|t| at_hash(alg, t)),
        user_claims: &user_claims,
        sid: spec.sid,
        acr: spec.acr,
        amr: AMR_PASSWORD,
    };
    Ok(state.keys.sign(alg, TYP_ID_TOKEN, &claims, now)?)
}

/// The claims of an `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2): an ID token
/// this server signed for this issuer. Its signature must hold; `exp` is not checked, since
/// an expired ID token is still a good hint. Any of our keys will do, whatever algorithm the
/// client registered: the key decides the algorithm (RFC 8725 §3.1), and a client whose
/// `id_token_signed_response_alg` changed still holds hints signed the old way.
pub fn verify_hint(state: &ProtocolContext, hint: &str) -> Option<Map<String, Value>> {
    let (header, claims) = state.keys.verify(hint)?;
    // Our ID tokens are typed `JWT`; an access token (`at+jwt`) is not a hint.
    if header.get("typ").and_then(Value::as_str) != Some(TYP_ID_TOKEN) {
        return None;
    }
    let Value::Object(claims) = claims else {
        return None;
    };
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer.as_str()) {
        return None;
    }
    // A JWT of ours without a subject and an audience is not an ID token.
    claims.get("sub").and_then(Value::as_str)?;
    hint_audience(&claims)?;
    Some(claims)
}

/// The one client an ID token was issued to (its `aud`; ours carry exactly one).
pub fn hint_audience(claims: &Map<String, Value>) -> Option<String> {
    match claims.get("aud")? {
        Value::String(aud) => Some(aud.clone()),
        Value::Array(auds) if auds.len() == 1 => auds[0].as_str().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half() {
        // OIDC Core Appendix A.3 (RS256): this access token's at_hash.
        assert_eq!(
            at_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(SigningAlg::EdDSA, "token").len(), 43);
    }
}
