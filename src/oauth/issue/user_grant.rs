//! Tokens for a user's authorization: what the code, refresh, device and password grants
//! issue once they know who granted what (OIDC Core §3.1.3.3, RFC 6749 §5.1, RFC 8707 §2).

use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::names::grant_type::REFRESH_TOKEN;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::id_token::{IdTokenSpec, issue_id_token};
use crate::oauth::issue::{
    AccessTokenSpec, RefreshTokenSpec, TokenResponse, issuer_target, make_access_token,
    new_refresh_token, refresh_token_stored,
};
use crate::oauth::resource::{Resource, resolve_targets};
use crate::oauth::scope::Scope;
use crate::store::IssuedRows;

/// A user's authorization as the grants that act for a user (code, refresh, device, password)
/// turn it into tokens.
pub(crate) struct UserGrant<'a> {
    pub grant_id: &'a str,
    pub subject: &'a str,
    /// The scope the user granted; a refresh token keeps it (RFC 6749 §6).
    pub granted: &'a Scope,
    /// The scope of this access token: `granted` or a subset.
    pub scope: &'a Scope,
    /// Resource identifiers the user granted; a refresh token keeps them. This server's
    /// issuer stands for itself.
    pub granted_audience: &'a [String],
    /// The resources of this access token: `granted_audience` or a subset.
    pub audience: &'a [String],
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// The browser session the grant began in; ID tokens carry it, refresh tokens keep it.
    pub sid: Option<&'a str>,
    pub acr: Option<&'a str>,
    /// The refresh family's absolute end when this is a refresh (RFC 9700 §4.14.2); `None`
    /// starts a new family.
    pub refresh_family_expires_at: Option<i64>,
}

/// Tokens made for a user's grant, with the refresh token's row not yet stored: the grant
/// handler stores it with the take of what it was issued for (`Store::redeem_code`,
/// `Store::rotate_refresh_token`), or on its own (`store_refresh`).
pub(crate) struct IssuedTokens {
    pub response: TokenResponse,
    pub rows: IssuedRows,
}

impl IssuedTokens {
    /// The answer, once `rows` are stored.
    pub fn stored(self) -> TokenResponse {
        if let Some(row) = &self.rows.refresh {
            refresh_token_stored(row);
        }
        self.response
    }
}

/// Stores the rows of tokens issued without a take (device codes, passwords).
pub(crate) async fn store_refresh(
    protocol: &ProtocolContext,
    issued: IssuedTokens,
) -> Result<TokenResponse, OAuthError> {
    protocol.store.insert_issued(&issued.rows).await?;
    Ok(issued.stored())
}

/// Access token, ID token when `openid` was granted for it, refresh token when the client may
/// have one and the user granted `offline_access` (OIDC Core §11) or this is plain OAuth.
pub(crate) async fn issue_tokens(
    protocol: &ProtocolContext,
    client: &Client,
    grant: UserGrant<'_>,
    now: i64,
) -> Result<IssuedTokens, OAuthError> {
    let targets = resolve_audience(protocol, client, grant.audience).await?;
    let mut extra = Map::new();
    extra.insert("auth_time".into(), grant.auth_time.into());
    let (access, opaque) = make_access_token(
        protocol,
        AccessTokenSpec {
            client_id: &client.id,
            subject: grant.subject,
            scope: grant.scope,
            targets: &targets,
            grant_id: Some(grant.grant_id),
            extra,
            not_after: None,
        },
        now,
    )?;
    // OIDC Core §3.1.3.3: an ID token when the request was an OpenID Connect one.
    let id_token = if grant.scope.contains("openid") {
        Some(issue_id_token(
            protocol,
            IdTokenSpec {
                client,
                subject: grant.subject,
                auth_time: grant.auth_time,
                nonce: grant.nonce,
                access_token: Some(&access.token),
                sid: grant.sid,
                acr: grant.acr,
            },
            now,
        )?)
    } else {
        None
    };
    let offline = grant.granted.contains("offline_access") || !grant.granted.contains("openid");
    let refresh_token = if client.has_grant_type(REFRESH_TOKEN) && offline {
        let mut claims = Map::new();
        claims.insert("auth_time".into(), Value::from(grant.auth_time));
        for (name, value) in [("sid", grant.sid), ("acr", grant.acr)] {
            if let Some(value) = value {
                claims.insert(name.into(), Value::from(value));
            }
        }
        Some(new_refresh_token(
            protocol,
            RefreshTokenSpec {
                grant_id: grant.grant_id,
                client_id: &client.id,
                subject: grant.subject,
                scope: grant.granted,
                audience: grant.granted_audience,
                claims,
                family_expires_at: grant.refresh_family_expires_at,
            },
            now,
        ))
    } else {
        None
    };
    let mut response = TokenResponse::bearer(access, grant.scope);
    response.id_token = id_token;
    let (refresh_token, refresh) = refresh_token.unzip();
    response.refresh_token = refresh_token;
    Ok(IssuedTokens {
        response,
        rows: IssuedRows { opaque, refresh },
    })
}

/// The resource identifiers a user's authorization is for: those it named, else this server
/// when the scope has `openid` (a sign-in that named no API gets a token good at userinfo),
/// else the client's default resource (RFC 9068 §3), as for any token request.
pub(crate) async fn default_audience(
    protocol: &ProtocolContext,
    client: &Client,
    scope: &Scope,
    named: Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    if !named.is_empty() {
        Ok(named)
    } else if scope.contains("openid") {
        Ok(vec![protocol.issuer.clone()])
    } else {
        Ok(resolve_targets(protocol, client, &[])
            .await?
            .into_iter()
            .map(|r| r.identifier)
            .collect())
    }
}

/// The resources behind granted identifiers, checked again: the client may still use each and
/// each still exists (RFC 8707 §2). The issuer is this server itself.
pub(crate) async fn resolve_audience(
    protocol: &ProtocolContext,
    client: &Client,
    audience: &[String],
) -> Result<Vec<Resource>, OAuthError> {
    let issuer = &protocol.issuer;
    let apis: Vec<String> = audience.iter().filter(|a| *a != issuer).cloned().collect();
    let mut targets = if apis.is_empty() {
        Vec::new()
    } else {
        resolve_targets(protocol, client, &apis).await?
    };
    if audience.iter().any(|a| a == issuer) {
        targets.push(issuer_target(protocol));
    }
    Ok(targets)
}

/// RFC 8707 §2.2: a token request may name a subset of the granted resources, never more.
pub(crate) fn narrow(granted: &[String], requested: &[String]) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if let Some(extra) = requested.iter().find(|r| !granted.contains(r)) {
        return Err(
            OAuthError::invalid_target("the resource was not part of the authorization")
                .with_detail(format!("resource {extra:?}")),
        );
    }
    Ok(granted
        .iter()
        .filter(|g| requested.contains(g))
        .cloned()
        .collect())
}
