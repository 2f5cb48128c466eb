//! RFC 6749 §4.1: authorization code grant. `issue_code` mints the code at the authorization
//! endpoint (§4.1.2); the handler exchanges it at the token endpoint (§4.1.3), with PKCE
//! (RFC 7636) and OpenID Connect ID tokens (OIDC Core §3.1.3).

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::AUTHORIZATION_CODE;
use crate::oauth::context::ProtocolContext;
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::user_grant::{UserGrant, default_audience, issue_tokens, narrow};
use crate::oauth::params::Params;
use crate::oauth::pkce;
use crate::oauth::revoke::revoke_replayed_grant;
use crate::oauth::scope::Scope;
use crate::secret::{random_token, sha256_hex};
use crate::store::{CodeRow, Consumed};
use async_trait::async_trait;

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
            cx.protocol,
            cx.client,
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
            cx.now,
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
    if let Err(e) = revoke_replayed_grant(cx.protocol, &grant_id, cx.now).await {
        return e.into();
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
