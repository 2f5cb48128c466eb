//! RFC 6749 §4.1: authorization code grant. `issue_code` mints the code at the authorization
//! endpoint (§4.1.2); the handler exchanges it at the token endpoint (§4.1.3), with PKCE
//! (RFC 7636) and OpenID Connect ID tokens (OIDC Core §3.1.3).

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::{AUTHORIZATION_CODE, REFRESH_TOKEN};
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::id_token::{IdTokenSpec, issue_id_token};
use crate::oauth::issue::{
    AccessTokenSpec, RefreshTokenSpec, TokenResponse, issuer_target, make_access_token,
    new_refresh_token, refresh_token_stored,
};
use crate::oauth::params::Params;
use crate::oauth::pkce;
use crate::oauth::resource::{Resource, resolve_targets};
use crate::oauth::scope::Scope;
use crate::secret::{random_token, sha256_hex};
use crate::store::{CodeRow, Consumed, IssuedRows};

/// What the authorization endpoint hands over once the user has signed in and consented.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub user_id: String,
    /// The `redirect_uri` of the authorization request; the token request must repeat it.
    pub redirect_uri: String,
    pub scope: Scope,
    /// Resource identifiers (RFC 8707) the tokens are for. Empty: this server when the scope
    /// has `openid`, else the client's only allowed resource.
    pub audience: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// When the user authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    /// The browser session's public id (OIDC Back-Channel Logout 1.0 §2.1 `sid`).
    pub sid: Option<String>,
    /// The authentication context class satisfied, when the request asked for one we serve.
    pub acr: Option<String>,
}

/// Mints an authorization code: 256 random bits, stored only as SHA-256, valid for
/// `tokens.authorization_code_lifetime`, the start of a new grant. The challenge is checked
/// again here (`pkce::parse_challenge`), so a code never carries one the token side refuses.
pub async fn issue_code(
    state: &ProtocolContext,
    grant: CodeGrant,
    now: i64,
) -> Result<String, OAuthError> {
    let challenge = pkce::parse_challenge(
        grant.code_challenge.as_deref(),
        grant.code_challenge_method.as_deref(),
    )?;
    let code = random_token();
    let grant_id = uuid::Uuid::new_v4().simple().to_string();
    state
        .store
        .insert_code(&CodeRow {
            code_hash: sha256_hex(&code),
            grant_id: grant_id.clone(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id,
            redirect_uri: grant.redirect_uri,
            scope: grant.scope.to_string(),
            audience: serde_json::to_string(&grant.audience).unwrap_or_default(),
            nonce: grant.nonce,
            code_challenge: challenge.as_ref().map(|c| c.challenge.clone()),
            code_challenge_method: challenge.map(|c| c.method.to_string()),
            auth_time: grant.auth_time,
            sid: grant.sid,
            acr: grant.acr,
            issued_at: now,
            // RFC 6749 §4.1.2: the code must expire shortly after it is issued.
            expires_at: now + state.config.tokens.authorization_code_lifetime as i64,
            consumed_at: None,
        })
        .await?;
    tracing::info!(client_id = %grant.client_id, grant_id = %grant_id, "issued authorization code");
    Ok(code)
}

pub struct AuthorizationCode;

/// The token request, typed (RFC 6749 §4.1.3, RFC 7636 §4.5).
struct Request<'a> {
    code: &'a str,
    redirect_uri: &'a str,
    code_verifier: Option<&'a str>,
    /// RFC 8707 §2.2: a subset of the granted resources for this access token.
    resources: &'a [String],
}

impl<'a> Request<'a> {
    fn parse(params: &'a Params) -> Result<Self, OAuthError> {
        Ok(Request {
            code: params.require("code")?,
            // RFC 6749 §4.1.3: required when the authorization request had it; ours always do.
            redirect_uri: params.require("redirect_uri")?,
            code_verifier: params.get("code_verifier"),
            resources: params.get_all("resource"),
        })
    }
}

#[async_trait]
impl GrantHandler for AuthorizationCode {
    fn grant_type(&self) -> &'static str {
        AUTHORIZATION_CODE
    }

    /// RFC 6749 §4.1.3 / RFC 7636: public clients redeem codes with PKCE.
    fn allows_public_clients(&self) -> bool {
        true
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let request = Request::parse(params)?;
        let hash = sha256_hex(request.code);
        // RFC 6749 §4.1.2: single use. The code is read and checked first, then taken with the
        // refresh token issued for it in one transaction (`Store::redeem_code`), whose atomic
        // take decides the one winner among racing redemptions.
        let Some(code) = cx.protocol.store.find_code(&hash, cx.now).await? else {
            // Taken before (a replay) or never valid: the row tells which, without a write.
            let spent = cx.protocol.store.spent_code::<()>(&hash).await?;
            return Err(refused_take(cx, spent.replayed_grant()).await);
        };
        if let Err(e) = check_code(cx, &code, &request) {
            // A failed redemption spends the code all the same.
            let taken = cx.protocol.store.consume_code(&hash, cx.now).await?;
            if let Some(grant_id) = taken.replayed_grant() {
                return Err(refused_take(cx, Some(grant_id)).await);
            }
            return Err(e);
        }
        let corrupt = |what: &str| {
            OAuthError::server_error()
                .with_detail(format!("code of grant {}: bad {what}", code.grant_id))
        };
        let scope = Scope::parse(&code.scope).ok_or_else(|| corrupt("scope"))?;
        let granted: Vec<String> =
            serde_json::from_str(&code.audience).map_err(|_| corrupt("audience"))?;
        let granted = default_audience(cx.protocol, cx.client, &scope, granted).await?;
        let audience = narrow(&granted, request.resources)?;
        let issued = issue_tokens(
            cx,
            UserGrant {
                grant_id: &code.grant_id,
                subject: &code.user_id,
                granted: &scope,
                scope: &scope,
                granted_audience: &granted,
                audience: &audience,
                auth_time: code.auth_time,
                nonce: code.nonce.as_deref(),
                sid: code.sid.as_deref(),
                acr: code.acr.as_deref(),
                refresh_family_expires_at: None,
            },
        )
        .await?;
        match cx
            .protocol
            .store
            .redeem_code(&hash, cx.now, &issued.rows)
            .await?
        {
            Consumed::Fresh(()) => Ok(issued.stored()),
            // Another redemption took it between the read and the take: nothing was stored and
            // these tokens are never sent.
            refused => Err(refused_take(cx, refused.replayed_grant()).await),
        }
    }
}

/// RFC 6749 §4.1.3: what a redemption checks of a code before taking it.
fn check_code(
    cx: &TokenContext<'_>,
    code: &CodeRow,
    request: &Request<'_>,
) -> Result<(), OAuthError> {
    let invalid = || OAuthError::invalid_grant("the authorization code is invalid");
    // RFC 6749 §4.1.3: the code was issued to the authenticated client.
    if code.client_id != cx.client.id {
        return Err(invalid().with_detail(format!(
            "code of client {} presented by {}",
            code.client_id, cx.client.id
        )));
    }
    // RFC 6749 §4.1.3, OAuth 2.1 §4.1.3: redirect_uri identical to the authorization request's.
    if request.redirect_uri != code.redirect_uri {
        return Err(invalid().with_detail("redirect_uri differs from the authorization request"));
    }
    pkce::verify(
        code.code_challenge.as_deref(),
        code.code_challenge_method.as_deref(),
        request.code_verifier,
    )?;
    // RFC 9700 §2.1.1: a client that requires PKCE (every public one) never redeems a code
    // issued without it.
    if code.code_challenge.is_none() && (cx.client.meta.require_pkce || cx.client.is_public()) {
        return Err(invalid().with_detail("code issued without PKCE to a client requiring it"));
    }
    Ok(())
}

/// The answer to a code that could not be taken: `replayed` names the grant of a code taken
/// before. RFC 6749 §4.1.2 / §10.5, RFC 9700 §4.5: a code used twice revokes every token
/// issued from it.
async fn refused_take(cx: &TokenContext<'_>, replayed: Option<String>) -> OAuthError {
    let invalid = || OAuthError::invalid_grant("the authorization code is invalid");
    let Some(grant_id) = replayed else {
        return invalid().with_detail("unknown or expired code");
    };
    if let Err(e) = revoke_grant(cx.protocol, &grant_id, cx.now).await {
        return e;
    }
    crate::audit::record(
        &cx.protocol.store,
        cx.now,
        crate::audit::action::CODE_REPLAY,
        &crate::audit::client_actor(&cx.client.id),
        &grant_id,
        serde_json::json!({ "code": "authorization_code" }),
    )
    .await;
    invalid().with_detail(format!(
        "code replayed by client {}; grant {grant_id} revoked",
        cx.client.id
    ))
}

/// A user's authorization as the code and refresh grants (and later the device grant) turn it
/// into tokens.
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
    state: &ProtocolContext,
    issued: IssuedTokens,
) -> Result<TokenResponse, OAuthError> {
    state.store.insert_issued(&issued.rows).await?;
    Ok(issued.stored())
}

/// Access token, ID token when `openid` was granted for it, refresh token when the client may
/// have one and the user granted `offline_access` (OIDC Core §11) or this is plain OAuth.
pub(crate) async fn issue_tokens(
    cx: &TokenContext<'_>,
    grant: UserGrant<'_>,
) -> Result<IssuedTokens, OAuthError> {
    let targets = resolve_audience(cx.protocol, cx.client, grant.audience).await?;
    let mut extra = Map::new();
    extra.insert("auth_time".into(), grant.auth_time.into());
    let (access, opaque) = make_access_token(
        cx.protocol,
        AccessTokenSpec {
            client_id: &cx.client.id,
            subject: grant.subject,
            scope: grant.scope,
            targets: &targets,
            grant_id: Some(grant.grant_id),
            extra,
            not_after: None,
        },
        cx.now,
    )?;
    // OIDC Core §3.1.3.3: an ID token when the request was an OpenID Connect one.
    let id_token = if grant.scope.contains("openid") {
        Some(issue_id_token(
            cx.protocol,
            IdTokenSpec {
                client: cx.client,
                subject: grant.subject,
                auth_time: grant.auth_time,
                nonce: grant.nonce,
                access_token: Some(&access.token),
                sid: grant.sid,
                acr: grant.acr,
            },
            cx.now,
        )?)
    } else {
        None
    };
    let offline = grant.granted.contains("offline_access") || !grant.granted.contains("openid");
    let refresh_token = if cx.client.has_grant_type(REFRESH_TOKEN) && offline {
        let mut claims = Map::new();
        claims.insert("auth_time".into(), Value::from(grant.auth_time));
        for (name, value) in [("sid", grant.sid), ("acr", grant.acr)] {
            if let Some(value) = value {
                claims.insert(name.into(), Value::from(value));
            }
        }
        Some(new_refresh_token(
            cx.protocol,
            RefreshTokenSpec {
                grant_id: grant.grant_id,
                client_id: &cx.client.id,
                subject: grant.subject,
                scope: grant.granted,
                audience: grant.granted_audience,
                claims,
                family_expires_at: grant.refresh_family_expires_at,
            },
            cx.now,
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
    state: &ProtocolContext,
    client: &Client,
    scope: &Scope,
    named: Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    if !named.is_empty() {
        Ok(named)
    } else if scope.contains("openid") {
        Ok(vec![state.issuer.clone()])
    } else {
        Ok(resolve_targets(state, client, &[])
            .await?
            .into_iter()
            .map(|r| r.identifier)
            .collect())
    }
}

/// The resources behind granted identifiers, checked again: the client may still use each and
/// each still exists (RFC 8707 §2). The issuer is this server itself.
pub(crate) async fn resolve_audience(
    state: &ProtocolContext,
    client: &Client,
    audience: &[String],
) -> Result<Vec<Resource>, OAuthError> {
    let issuer = &state.issuer;
    let apis: Vec<String> = audience.iter().filter(|a| *a != issuer).cloned().collect();
    let mut targets = if apis.is_empty() {
        Vec::new()
    } else {
        resolve_targets(state, client, &apis).await?
    };
    if audience.iter().any(|a| a == issuer) {
        targets.push(issuer_target(state));
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

/// Revokes everything a grant produced (DESIGN.md: a replay revokes all of it). The deny-list
/// entry outlives every access token, and every refresh token, the grant could have issued.
pub(crate) async fn revoke_grant(
    state: &ProtocolContext,
    grant_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let longest = state
        .longest_access_token_lifetime()
        .await?
        .max(state.config.tokens.refresh_token_lifetime);
    state
        .store
        .revoke_grant(grant_id, now + longest as i64)
        .await?;
    state.deny_list.revoked_here();
    tracing::warn!(grant_id, "grant revoked after a replay");
    Ok(())
}
