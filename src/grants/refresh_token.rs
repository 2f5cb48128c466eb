//! RFC 6749 §6: refreshing an access token, with rotation and reuse detection (RFC 9700
//! §4.14.2): every refresh token works once; a second use revokes its whole family. A token
//! unused for `tokens.refresh_token_idle_lifetime` expires, and the family ends
//! `tokens.refresh_token_lifetime` after its first token however busy it is (`new_refresh_token`).

use async_trait::async_trait;
use serde_json::Value;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::REFRESH_TOKEN;
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::user_grant::{UserGrant, issue_tokens, narrow};
use crate::oauth::params::Params;
use crate::oauth::revoke::revoke_replayed_grant;
use crate::oauth::scope::Scope;
use crate::secret::sha256_hex;
use crate::store::Rotation;

pub struct RefreshToken;

/// The request, typed.
struct Request<'a> {
    refresh_token: &'a str,
    scope: Option<Scope>,
    /// RFC 8707 §2.2: a subset of the granted resources for this access token.
    resources: &'a [String],
}

impl<'a> Request<'a> {
    fn parse(params: &'a Params) -> Result<Self, OAuthError> {
        let scope = params.scope()?;
        Ok(Request {
            refresh_token: params.require("refresh_token")?,
            scope,
            resources: params.get_all("resource"),
        })
    }
}

#[async_trait]
impl GrantHandler for RefreshToken {
    fn grant_type(&self) -> &'static str {
        REFRESH_TOKEN
    }

    /// RFC 9700 §4.14.2: public clients may refresh, because their tokens rotate.
    fn allows_public_clients(&self) -> bool {
        true
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let request = Request::parse(params)?;
        let invalid = || OAuthError::invalid_grant("the refresh token is invalid");
        let store = &cx.protocol.store;
        let hash = sha256_hex(request.refresh_token);
        // The checks on what never changes come before the take, so a client's mistake
        // (another client, a wider scope) does not spend its token.
        let Some(found) = store.find_refresh_token(&hash, cx.now).await? else {
            // An unused token past its idle window or its family's end is gone too.
            return Err(invalid().with_detail("unknown or expired refresh token"));
        };
        // RFC 6749 §6: the refresh token was issued to the authenticated client.
        if found.client_id != cx.client.id {
            return Err(invalid().with_detail(format!(
                "refresh token of client {} presented by {}",
                found.client_id, cx.client.id
            )));
        }
        let corrupt = |what: &str| {
            OAuthError::server_error().with_detail(format!(
                "refresh token of grant {}: bad {what}",
                found.grant_id
            ))
        };
        let granted = Scope::parse(&found.scope).ok_or_else(|| corrupt("scope"))?;
        // RFC 6749 §6: no scope beyond what was granted; omitted means the same scope.
        let scope = request.scope.unwrap_or_else(|| granted.clone());
        let escalated = scope.not_in(&granted);
        if !escalated.is_empty() {
            return Err(
                OAuthError::invalid_scope("the scope exceeds what was granted")
                    .with_detail(format!("client {} asked for {escalated:?}", cx.client.id)),
            );
        }
        let granted_audience: Vec<String> =
            serde_json::from_str(&found.audience).map_err(|_| corrupt("audience"))?;
        let audience = narrow(&granted_audience, request.resources)?;
        let kept = serde_json::from_str::<Value>(&found.claims).unwrap_or_default();
        let auth_time = kept
            .get("auth_time")
            .and_then(Value::as_i64)
            .unwrap_or(found.issued_at);
        let kept_str = |name: &str| kept.get(name).and_then(Value::as_str);

        // Taken already: a replay, before any work (RFC 9700 §4.14.2).
        if found.consumed_at.is_some() {
            return Err(replayed(cx, &found.grant_id).await);
        }
        let issued = issue_tokens(
            cx.protocol,
            cx.client,
            UserGrant {
                grant_id: &found.grant_id,
                subject: &found.subject,
                granted: &granted,
                scope: &scope,
                granted_audience: &granted_audience,
                audience: &audience,
                auth_time,
                // OIDC Core §12.2: a refreshed ID token carries no nonce.
                nonce: None,
                sid: kept_str("sid"),
                acr: kept_str("acr"),
                // RFC 9700 §4.14.2: the new token rotates within the same family's lifetime.
                refresh_family_expires_at: Some(found.family_expires_at),
            },
            cx.now,
        )
        .await?;
        // RFC 9700 §4.14.2: rotation. The take (one atomic statement: the single winner among
        // racing refreshes) and the successor's row are one transaction.
        match store
            .rotate_refresh_token(&hash, cx.now, &issued.rows)
            .await?
        {
            Rotation::Rotated => Ok(issued.stored()),
            Rotation::Replayed { grant_id } => Err(replayed(cx, &grant_id).await),
            Rotation::Missing => Err(invalid().with_detail("refresh token expired")),
            // A replay that raced this rotation revoked the grant after the token was written:
            // the deny-list still says so, and these tokens are never sent.
            Rotation::GrantRevoked(grant_id) => {
                Err(invalid().with_detail(format!("grant {grant_id} is revoked")))
            }
        }
    }
}

/// RFC 9700 §4.14.2: a used refresh token presented again revokes the family and the access
/// tokens issued from it.
async fn replayed(cx: &TokenContext<'_>, grant_id: &str) -> OAuthError {
    if let Err(e) = revoke_replayed_grant(cx.protocol, grant_id, cx.now).await {
        return e.into();
    }
    crate::audit::record(
        &cx.protocol.store,
        cx.now,
        crate::audit::action::REFRESH_TOKEN_REUSE,
        &crate::audit::client_actor(&cx.client.id),
        grant_id,
        serde_json::json!({}),
    )
    .await;
    OAuthError::invalid_grant("the refresh token is invalid").with_detail(format!(
        "refresh token replayed by client {}; grant {grant_id} revoked",
        cx.client.id
    ))
}
