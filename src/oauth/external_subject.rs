//! RFC 8693 §2.1: a `subject_token` of type `…:jwt` minted by a trusted external issuer (one
//! registered at `/admin/issuers` with kind `jwt`), read into the same `TokenInfo` our own
//! access tokens give, so token exchange applies one set of rules to both.
//!
//! The token is verified like an RFC 7523 assertion (`oauth::jwt_assertion`: signature with the
//! issuer's keys and an allowed algorithm, `iss`, `exp`, `nbf`, `iat`), except that its audience
//! is an API and not this server: it must name a resource whose acting client is the caller,
//! the rule our own tokens follow. It is not single use: an API may exchange one user token
//! several times. The subject maps to a local user exactly as for the JWT bearer grant.

use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::oauth::assertion::{check_client, map_subject};
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::inspect::{TokenInfo, TokenKind};
use crate::oauth::jwt_assertion::{self, Expected};
use crate::oauth::trusted_issuer::{IssuerKind, TrustedIssuer};

/// Seconds: a subject token whose `exp` lies further ahead is refused. Users' access tokens
/// from other issuers commonly live an hour, sometimes a day; the exchanged token is capped by
/// the subject's `exp` anyway.
const SUBJECT_TOKEN_MAX_LIFETIME: i64 = 86_400;

/// The trusted issuer `token` claims to come from, if it is a JWT naming a registered one.
pub async fn trusted_issuer_of(
    protocol: &ProtocolContext,
    token: &str,
) -> Result<Option<TrustedIssuer>, OAuthError> {
    let Some(iss) = jwt_assertion::unverified_claim(token, "iss") else {
        return Ok(None);
    };
    if iss == protocol.issuer {
        return Ok(None);
    }
    match protocol
        .store
        .find_issuer(IssuerKind::Jwt.as_str(), &iss)
        .await?
    {
        Some(row) => Ok(Some(TrustedIssuer::from_row(row)?)),
        None => Ok(None),
    }
}

/// Verifies `token` from `issuer` as a subject token for the calling client and reads it.
pub async fn read(
    protocol: &ProtocolContext,
    client: &Client,
    issuer: &TrustedIssuer,
    token: &str,
    now: i64,
) -> Result<TokenInfo, OAuthError> {
    check_client(client, issuer)?;
    let refused = |why: String| {
        OAuthError::invalid_grant("the subject token is invalid")
            .with_detail(format!("issuer {}: {why}", issuer.id))
    };
    // The audiences that may appear: the APIs the caller acts as, among those the token names.
    let named = audiences(&jwt_assertion::unverified_payload(token));
    let apis: Vec<String> = protocol
        .resources
        .by_identifiers(&protocol.store, &named, now)
        .await?
        .iter()
        .filter(|r| r.client_id.as_deref() == Some(client.id.as_str()))
        .map(|r| r.identifier.clone())
        .collect();
    if apis.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the subject token was not issued for an API this client acts as",
        )
        .with_detail(format!("client {} subject aud {named:?}", client.id)));
    }
    let (algorithms, keys) = issuer
        .jwt_keys()
        .ok_or_else(|| refused("no keys registered".into()))?;
    let api_refs: Vec<&str> = apis.iter().map(String::as_str).collect();
    let expected = Expected {
        algorithms: &algorithms,
        issuer: &issuer.issuer,
        subject: None,
        audiences: &api_refs,
        leeway: protocol.config.assertions.clock_skew as i64,
        max_lifetime: SUBJECT_TOKEN_MAX_LIFETIME,
    };
    let claims = jwt_assertion::verify(&protocol.remote_jwks, token, keys, &expected, now)
        .await
        .map_err(|r| refused(r.detail()))?;
    // The signature is verified: the rest of the payload can be read as the issuer wrote it.
    let payload = jwt_assertion::unverified_payload(token);
    let sub = map_subject(protocol, issuer, &claims.sub).await?;
    Ok(TokenInfo {
        kind: TokenKind::JwtAccess,
        jti: claims.jti,
        grant_id: None,
        client_id: string_claim(&payload, "client_id")
            .or_else(|| string_claim(&payload, "azp"))
            .unwrap_or_default(),
        sub,
        scope: granted_scope(&payload, issuer),
        aud: apis,
        iat: claims.iat.unwrap_or(now),
        exp: claims.exp,
        extra: Map::new(),
    })
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of them.
fn audiences(payload: &Value) -> Vec<String> {
    match payload.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn string_claim(payload: &Value, name: &str) -> Option<String> {
    payload.get(name)?.as_str().map(str::to_string)
}

/// The token's scope (RFC 8693 §4.2 `scope`, or Entra's `scp`), limited to the scopes the
/// issuer's registration lets it convey.
fn granted_scope(payload: &Value, issuer: &TrustedIssuer) -> String {
    let listed: Vec<String> = match payload.get("scope").or_else(|| payload.get("scp")) {
        Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_string).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    listed
        .into_iter()
        .filter(|s| issuer.config.scopes.iter().any(|allowed| allowed == s))
        .collect::<Vec<_>>()
        .join(" ")
}
