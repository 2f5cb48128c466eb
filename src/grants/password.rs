//! RFC 6749 §4.3: resource owner password credentials grant. A legacy flow (RFC 9700 §2.4:
//! MUST NOT be used), served only when `legacy.password` is on and only to clients registered
//! for it, for first-party or confidential apps being migrated.
//!
//! The password is checked by `throttle::sign_in`, the very code the sign-in page runs, so the
//! per-account and per-IP counters and lockouts are shared between the two. Users with a second
//! factor do not exist yet; once sign-in has one, such users must be refused here with
//! `invalid_grant` and a description saying why, since this grant cannot ask for it.

use async_trait::async_trait;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::PASSWORD;
use crate::oauth::authorize_request::OIDC_SCOPES;
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::user_grant::{UserGrant, default_audience, issue_tokens, store_refresh};
use crate::oauth::legacy_usage::{LegacyFlow, record_use};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;
use crate::throttle::{self, SignIn, Throttled};

pub struct Password;

/// The token request, typed (RFC 6749 §4.3.2).
struct Request<'a> {
    username: &'a str,
    password: &'a str,
    scope: Scope,
    /// RFC 8707 §2.
    resources: &'a [String],
}

impl<'a> Request<'a> {
    fn parse(params: &'a Params) -> Result<Self, OAuthError> {
        Ok(Request {
            username: params.require("username")?,
            password: params.require("password")?,
            // RFC 6749 §3.3: no default scope is defined for this grant, so one is required.
            scope: params
                .scope()?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| OAuthError::invalid_scope("scope is required"))?,
            resources: params.get_all("resource"),
        })
    }
}

#[async_trait]
impl GrantHandler for Password {
    fn grant_type(&self) -> &'static str {
        PASSWORD
    }

    /// A public client passes the token endpoint's policy so that `handle` can let a
    /// first-party one through; every other public client is refused there.
    fn allows_public_clients(&self) -> bool {
        true
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let client = cx.client;
        // RFC 6749 §4.3 / RFC 9700 §2.4: only a client the user trusts with the password: one
        // that can keep a secret, or the operator's own app.
        if client.is_public() && !client.meta.first_party {
            return Err(OAuthError::unauthorized_client(
                "the password grant needs a confidential or first-party client",
            )
            .with_detail(format!("public client {}", client.id)));
        }
        let request = Request::parse(params)?;
        // RFC 6749 §3.3: the OIDC scopes, others only when registered (as in the code flow).
        let allowed = Scope::from_tokens(client.allowed_scopes().chain(OIDC_SCOPES));
        let beyond = request.scope.not_in(&allowed);
        if !beyond.is_empty() {
            return Err(
                OAuthError::invalid_scope("the client may not request this scope")
                    .with_detail(format!("client {} scope {beyond:?}", client.id)),
            );
        }
        if !request.resources.is_empty() {
            // RFC 8707 §2: each resource registered and allowed for the client.
            resolve_targets(cx.protocol, client, request.resources).await?;
        }
        let audience = default_audience(
            cx.protocol,
            client,
            &request.scope,
            request.resources.to_vec(),
        )
        .await?;
        let user = match throttle::sign_in(
            &cx.protocol.store,
            &cx.protocol.passwords,
            &cx.protocol.config.throttle,
            request.username,
            request.password,
            cx.peer,
            cx.now,
        )
        .await?
        {
            SignIn::User(user) => user,
            SignIn::Throttled(Throttled { retry_after }) => {
                // RFC 6749 §5.2: the credentials cannot be used now; Retry-After says when.
                let mut e =
                    OAuthError::invalid_grant("too many failed sign-in attempts; try again later")
                        .with_detail(format!("client {} throttled", client.id));
                e.retry_after = Some(retry_after);
                return Err(e);
            }
            // RFC 6749 §5.2: invalid resource owner credentials.
            SignIn::Refused => {
                return Err(
                    OAuthError::invalid_grant("the username or password is not correct")
                        .with_detail(format!("client {} sign-in refused", client.id)),
                );
            }
        };
        let grant_id = uuid::Uuid::new_v4().simple().to_string();
        // The user authenticated just now; refresh tokens only if the client has the grant.
        let issued = issue_tokens(
            cx.protocol,
            client,
            UserGrant {
                grant_id: &grant_id,
                subject: &user.id,
                granted: &request.scope,
                scope: &request.scope,
                granted_audience: &audience,
                audience: &audience,
                auth_time: cx.now,
                nonce: None,
                // No browser session: nothing for back-channel logout to name.
                sid: None,
                acr: None,
                refresh_family_expires_at: None,
            },
            cx.now,
        )
        .await?;
        let response = store_refresh(cx.protocol, issued).await?;
        record_use(cx.protocol, &client.id, LegacyFlow::Password, cx.now).await?;
        Ok(response)
    }
}
