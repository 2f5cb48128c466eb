//! RFC 6749 §4.4: client credentials grant — a confidential client acting on its own behalf.

use async_trait::async_trait;
use serde_json::Map;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::CLIENT_CREDENTIALS;
use crate::oauth::issue::{AccessTokenSpec, TokenResponse, issue_access_token};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;

pub struct ClientCredentials;

/// The request, typed.
struct Request {
    scope: Option<Scope>,
    /// RFC 8707 `resource` (may repeat) and RFC 8693-style `audience`, together.
    targets: Vec<String>,
}

impl Request {
    fn parse(params: &Params) -> Result<Self, OAuthError> {
        let scope = params.scope()?;
        let mut targets = params.get_all("resource").to_vec();
        targets.extend(params.get_all("audience").iter().cloned());
        Ok(Request { scope, targets })
    }
}

#[async_trait]
impl GrantHandler for ClientCredentials {
    fn grant_type(&self) -> &'static str {
        CLIENT_CREDENTIALS
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let request = Request::parse(params)?;
        let targets = resolve_targets(cx.protocol, cx.client, &request.targets).await?;
        // The client's scopes that the target APIs define.
        let allowed = Scope::from_tokens(
            cx.client
                .allowed_scopes()
                .filter(|s| targets.iter().any(|t| t.defines_scope(s))),
        );
        // RFC 6749 §3.3: no scope requested → the client's pre-defined default.
        let scope = request.scope.unwrap_or_else(|| allowed.clone());
        let escalated = scope.not_in(&allowed);
        if !escalated.is_empty() {
            return Err(OAuthError::invalid_scope(
                "the client may not request this scope for this resource",
            )
            .with_detail(format!("client {} asked for {escalated:?}", cx.client.id)));
        }
        let token = issue_access_token(
            cx.protocol,
            AccessTokenSpec {
                client_id: &cx.client.id,
                // RFC 9068 §2.2: with no resource owner, `sub` is the client.
                subject: &cx.client.id,
                scope: &scope,
                targets: &targets,
                grant_id: None,
                extra: Map::new(),
                not_after: None,
            },
            cx.now,
        )
        .await?;
        // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
        Ok(TokenResponse::bearer(token, &scope))
    }
}
