//! Reading a token this server issued, whatever its kind: a JWT access token (verified against
//! our keys), an opaque access token or a refresh token (looked up by digest). Introspection,
//! revocation and token exchange all start here.

use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::names::TYP_ACCESS_TOKEN;
use crate::oauth::context::ProtocolContext;
use crate::secret::sha256_hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    JwtAccess,
    OpaqueAccess,
    Refresh,
}

/// An active token's facts.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub kind: TokenKind,
    pub jti: Option<String>,
    pub grant_id: Option<String>,
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// Claims beyond the registered ones (`act`, …).
    pub extra: Map<String, Value>,
}

/// RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint`: where to look first. Unknown hints are
/// ignored: the search extends to every kind anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    AccessToken,
    RefreshToken,
    None,
}

impl Hint {
    pub fn parse(value: Option<&str>) -> Hint {
        match value {
            Some("access_token") => Hint::AccessToken,
            Some("refresh_token") => Hint::RefreshToken,
            _ => Hint::None,
        }
    }
}

/// The token's facts if it is active at `now`: issued here, not expired, not revoked.
pub async fn inspect(
    state: &ProtocolContext,
    token: &str,
    hint: Hint,
    now: i64,
) -> Result<Option<TokenInfo>, OAuthError> {
    if token.len() > 8192 {
        return Ok(None);
    }
    if token.bytes().filter(|b| *b == b'.').count() == 2 {
        return inspect_jwt(state, token, now).await;
    }
    let hash = sha256_hex(token);
    if hint == Hint::RefreshToken {
        if let Some(info) = refresh(state, &hash, now).await? {
            return Ok(Some(info));
        }
        return opaque(state, &hash, now).await;
    }
    if let Some(info) = opaque(state, &hash, now).await? {
        return Ok(Some(info));
    }
    refresh(state, &hash, now).await
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

const REGISTERED: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "grant_id",
];

async fn inspect_jwt(
    state: &ProtocolContext,
    token: &str,
    now: i64,
) -> Result<Option<TokenInfo>, OAuthError> {
    let Some((header, mut claims)) = state.keys.verify(token) else {
        return Ok(None);
    };
    // RFC 9068 §4: only access tokens; an ID token is not a bearer credential.
    if header.get("typ").and_then(Value::as_str) != Some(TYP_ACCESS_TOKEN) {
        return Ok(None);
    }
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    // Signed by us for another issuer (a shared key across deployments) is not ours.
    if str_claim("iss").as_deref() != Some(state.issuer.as_str()) {
        return Ok(None);
    }
    let (Some(exp), Some(iat)) = (
        claims.get("exp").and_then(Value::as_i64),
        claims.get("iat").and_then(Value::as_i64),
    ) else {
        return Ok(None);
    };
    if exp <= now {
        return Ok(None);
    }
    let (Some(jti), Some(sub), Some(client_id)) =
        (str_claim("jti"), str_claim("sub"), str_claim("client_id"))
    else {
        return Ok(None);
    };
    let grant_id = str_claim("grant_id");
    if state
        .deny_list
        .is_revoked(&state.store, &jti, grant_id.as_deref(), &sub, now)
        .await?
    {
        return Ok(None);
    }
    let aud = string_list(claims.get("aud"));
    let scope = str_claim("scope").unwrap_or_default();
    let extra = claims
        .as_object_mut()
        .map(|m| {
            m.retain(|k, _| !REGISTERED.contains(&k.as_str()));
            std::mem::take(m)
        })
        .unwrap_or_default();
    Ok(Some(TokenInfo {
        kind: TokenKind::JwtAccess,
        jti: Some(jti),
        grant_id,
        client_id,
        sub,
        scope,
        aud,
        iat,
        exp,
        extra,
    }))
}

fn json_object(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

async fn opaque(
    state: &ProtocolContext,
    hash: &str,
    now: i64,
) -> Result<Option<TokenInfo>, OAuthError> {
    let Some(row) = state.store.find_opaque_token(hash, now).await? else {
        return Ok(None);
    };
    if state
        .deny_list
        .is_revoked(
            &state.store,
            &row.jti,
            row.grant_id.as_deref(),
            &row.subject,
            now,
        )
        .await?
    {
        return Ok(None);
    }
    Ok(Some(TokenInfo {
        kind: TokenKind::OpaqueAccess,
        jti: Some(row.jti),
        grant_id: row.grant_id,
        client_id: row.client_id,
        sub: row.subject,
        scope: row.scope,
        aud: json_list(&row.audience),
        iat: row.issued_at,
        exp: row.expires_at,
        extra: json_object(&row.claims),
    }))
}

async fn refresh(
    state: &ProtocolContext,
    hash: &str,
    now: i64,
) -> Result<Option<TokenInfo>, OAuthError> {
    let Some(row) = state.store.find_refresh_token(hash, now).await? else {
        return Ok(None);
    };
    // A rotated refresh token is spent: presenting it again is a replay, not an active token.
    if row.consumed_at.is_some() {
        return Ok(None);
    }
    // A replay revokes its grant by deleting the grant's refresh rows and adding a deny-list
    // entry, but the token of the request that won the race (the code's redemption, the
    // rotation) may be written after that delete: the entry still marks it dead, as the
    // refresh grant checks after its take (tests/it/races.rs).
    if state.store.is_grant_revoked(&row.grant_id).await? {
        return Ok(None);
    }
    Ok(Some(TokenInfo {
        kind: TokenKind::Refresh,
        jti: None,
        grant_id: Some(row.grant_id),
        client_id: row.client_id,
        sub: row.subject,
        scope: row.scope,
        aud: json_list(&row.audience),
        iat: row.issued_at,
        exp: row.expires_at,
        extra: json_object(&row.claims),
    }))
}
