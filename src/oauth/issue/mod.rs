//! Token minting: the one place tokens are made. Access tokens (RFC 9068 JWTs or opaque
//! reference tokens) and refresh tokens here; what a user's grant gets (with its ID token) in
//! `user_grant`, an assertion's token in `assertion`, the implicit flow's in `implicit`.
//! Issuance writes to the store only what must be remembered.

pub mod assertion;
pub mod implicit;
pub mod user_grant;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::SigningAlg;
use crate::error::OAuthError;
use crate::names::TYP_ACCESS_TOKEN;
use crate::oauth::context::ProtocolContext;
use crate::oauth::resource::{Resource, TokenFormat};
use crate::oauth::scope::Scope;
use crate::secret::{random_token, sha256_hex};
use crate::store::{OpaqueTokenRow, RefreshTokenRow};

/// RFC 6749 §5.1 successful token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 8693 §2.2.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl TokenResponse {
    pub fn bearer(token: AccessToken, scope: &Scope) -> Self {
        TokenResponse {
            access_token: token.token,
            token_type: "Bearer",
            expires_in: token.expires_in,
            scope: (!scope.is_empty()).then(|| scope.to_string()),
            refresh_token: None,
            id_token: None,
            issued_token_type: None,
        }
    }
}

/// What an access token says, whatever its format.
pub struct AccessTokenSpec<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a Scope,
    pub targets: &'a [Resource],
    /// The authorization this token derives from; revoking the grant revokes the token.
    pub grant_id: Option<&'a str>,
    /// Further claims (`act`, `auth_time`, …).
    pub extra: Map<String, Value>,
    /// An upper bound on `exp` (RFC 8693: not longer-lived than the subject token).
    pub not_after: Option<i64>,
}

pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: u64,
}

#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Value,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// Format, algorithm and lifetime for a set of target resources: they must agree on format
/// and algorithm; the shortest lifetime wins.
fn token_settings(
    protocol: &ProtocolContext,
    targets: &[Resource],
) -> Result<(TokenFormat, SigningAlg, u64), OAuthError> {
    let mixed = || OAuthError::invalid_target("these resources cannot share one access token");
    let format = match targets.first() {
        Some(first)
            if targets
                .iter()
                .any(|t| t.access_token_format != first.access_token_format) =>
        {
            return Err(mixed());
        }
        Some(first) => first.access_token_format,
        None => TokenFormat::Jwt,
    };
    let default_alg = protocol.config.tokens.access_token_alg;
    let alg = targets
        .first()
        .map_or(default_alg, |t| t.signing_alg.unwrap_or(default_alg));
    if targets
        .iter()
        .any(|t| t.signing_alg.unwrap_or(default_alg) != alg)
    {
        return Err(mixed());
    }
    let lifetime = targets
        .iter()
        .filter_map(|t| t.access_token_lifetime)
        .min()
        .unwrap_or(protocol.config.tokens.access_token_lifetime);
    Ok((format, alg, lifetime))
}

/// Makes an access token and stores it when it is opaque (only its digest).
pub async fn issue_access_token(
    protocol: &ProtocolContext,
    spec: AccessTokenSpec<'_>,
    now: i64,
) -> Result<AccessToken, OAuthError> {
    let (token, opaque) = make_access_token(protocol, spec, now)?;
    if let Some(row) = &opaque {
        protocol.store.insert_opaque_token(row).await?;
    }
    Ok(token)
}

/// Makes an access token; an opaque one comes with the row the caller must store (a grant
/// handler stores it with the take of the code or refresh token it was issued for).
pub fn make_access_token(
    protocol: &ProtocolContext,
    spec: AccessTokenSpec<'_>,
    now: i64,
) -> Result<(AccessToken, Option<OpaqueTokenRow>), OAuthError> {
    let (format, alg, lifetime) = token_settings(protocol, spec.targets)?;
    let mut exp = now + lifetime as i64;
    if let Some(cap) = spec.not_after {
        exp = exp.min(cap);
    }
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let audience: Vec<&str> = spec.targets.iter().map(|t| t.identifier.as_str()).collect();
    let scope = spec.scope.to_string();
    let mut opaque = None;
    let token = match format {
        TokenFormat::Jwt => {
            let claims = JwtClaims {
                iss: &protocol.issuer,
                sub: spec.subject,
                // RFC 7519 §4.1.3: a single audience may be a string.
                aud: match audience.as_slice() {
                    [one] => Value::from(*one),
                    many => Value::from(many.to_vec()),
                },
                exp,
                iat: now,
                jti: &jti,
                client_id: spec.client_id,
                scope: &scope,
                grant_id: spec.grant_id,
                extra: &spec.extra,
            };
            protocol.keys.sign(alg, TYP_ACCESS_TOKEN, &claims, now)?
        }
        TokenFormat::Opaque => {
            let token = random_token();
            opaque = Some(OpaqueTokenRow {
                token_hash: sha256_hex(&token),
                jti: jti.clone(),
                grant_id: spec.grant_id.map(str::to_string),
                client_id: spec.client_id.to_string(),
                subject: spec.subject.to_string(),
                scope: scope.clone(),
                audience: serde_json::to_string(&audience).unwrap_or_default(),
                claims: Value::Object(spec.extra.clone()).to_string(),
                issued_at: now,
                expires_at: exp,
            });
            token
        }
    };
    tracing::info!(
        client_id = spec.client_id,
        jti = %jti,
        format = ?format,
        aud = ?audience,
        "issued access token"
    );
    Ok((
        AccessToken {
            token,
            jti,
            expires_in: (exp - now).max(0) as u64,
        },
        opaque,
    ))
}

/// This server as an access token's audience, for a sign-in that named no API: the token is
/// then good at this server's own endpoints (userinfo). Not a `resources` row; it takes the
/// config's token settings.
pub fn issuer_target(protocol: &ProtocolContext) -> Resource {
    Resource {
        id: String::new(),
        identifier: protocol.issuer.clone(),
        name: "this server".into(),
        scopes: Vec::new(),
        access_token_lifetime: None,
        access_token_format: TokenFormat::Jwt,
        signing_alg: None,
        client_id: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// What a refresh token carries to the next token request of its grant.
pub struct RefreshTokenSpec<'a> {
    pub grant_id: &'a str,
    pub client_id: &'a str,
    pub subject: &'a str,
    /// The scope the resource owner granted (RFC 6749 §6: kept identical on rotation).
    pub scope: &'a Scope,
    /// Resource identifiers.
    pub audience: &'a [String],
    /// Further facts (`auth_time`) for the tokens it will be exchanged for.
    pub claims: Map<String, Value>,
    /// The end of the family this token rotates within (the spent token's
    /// `family_expires_at`); `None` for a grant's first refresh token, whose family starts now.
    pub family_expires_at: Option<i64>,
}

/// A refresh token: 256 random bits, of which the store keeps only the SHA-256 (the row
/// returned here; the caller stores it, in the same transaction as the take of the code or
/// refresh token it replaces when there is one). RFC 9700 §4.14.2: it expires when unused for
/// `tokens.refresh_token_idle_lifetime`, and never later than its family's absolute end,
/// however often the family rotates.
pub fn new_refresh_token(
    protocol: &ProtocolContext,
    spec: RefreshTokenSpec<'_>,
    now: i64,
) -> (String, RefreshTokenRow) {
    let token = random_token();
    let tokens = &protocol.config.tokens;
    let family_expires_at = spec
        .family_expires_at
        .unwrap_or(now + tokens.refresh_token_lifetime as i64);
    let expires_at = (now + tokens.refresh_token_idle_lifetime as i64).min(family_expires_at);
    let row = RefreshTokenRow {
        token_hash: sha256_hex(&token),
        grant_id: spec.grant_id.to_string(),
        client_id: spec.client_id.to_string(),
        subject: spec.subject.to_string(),
        scope: spec.scope.to_string(),
        audience: serde_json::to_string(spec.audience).unwrap_or_default(),
        claims: Value::Object(spec.claims).to_string(),
        issued_at: now,
        expires_at,
        family_expires_at,
        consumed_at: None,
    };
    (token, row)
}

/// The log line of a refresh token once its row is stored (no token, no digest).
pub fn refresh_token_stored(row: &RefreshTokenRow) {
    tracing::info!(
        client_id = row.client_id,
        grant_id = row.grant_id,
        "issued refresh token"
    );
}
