//! RFC 6749 §4.2.2 / OIDC Core §3.2.2.5: the tokens of an implicit authorization response,
//! made once the user has consented; they travel in the fragment or form_post, never the query.
//! Never a refresh token (RFC 6749 §4.2.2).

use serde_json::Map;

use crate::error::OAuthError;
use crate::oauth::authorize_request::AuthorizeRequest;
use crate::oauth::claims::by_scope;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::id_token::{IdTokenSpec, issue_id_token_with_claims};
use crate::oauth::issue::user_grant::{default_audience, resolve_audience};
use crate::oauth::issue::{AccessTokenSpec, issue_access_token};
use crate::oauth::scope::Scope;
use crate::users::User;

/// The response parameters (RFC 6749 §4.2.2, OIDC Core §3.2.2.5) for an authorization request
/// of an implicit response type that `user_id`, who authenticated at `auth_time`, consented to.
pub async fn implicit_tokens(
    protocol: &ProtocolContext,
    client: &Client,
    request: &AuthorizeRequest,
    user_id: &str,
    auth_time: i64,
    sid: &str,
    now: i64,
) -> Result<Vec<(&'static str, String)>, OAuthError> {
    let scope = Scope::parse(&request.scope).unwrap_or_default();
    let response_type = request.response_type;
    let mut fields = Vec::new();
    let access_token = if response_type.returns_access_token() {
        let audience =
            default_audience(protocol, client, &scope, request.resources.clone()).await?;
        let targets = resolve_audience(protocol, client, &audience).await?;
        let mut extra = Map::new();
        extra.insert("auth_time".into(), auth_time.into());
        let grant_id = uuid::Uuid::new_v4().simple().to_string();
        let token = issue_access_token(
            protocol,
            AccessTokenSpec {
                client_id: &client.id,
                subject: user_id,
                scope: &scope,
                targets: &targets,
                grant_id: Some(&grant_id),
                extra,
                // RFC 9700 §2.1.2: a token in a URL lives briefly, whatever the API allows.
                not_after: Some(now + protocol.config.legacy.implicit_access_token_lifetime as i64),
            },
            now,
        )
        .await?;
        fields.push(("access_token", token.token.clone()));
        fields.push(("token_type", "Bearer".to_string()));
        fields.push(("expires_in", token.expires_in.to_string()));
        // RFC 6749 §4.2.2: the scope granted.
        fields.push(("scope", scope.to_string()));
        Some(token.token)
    } else {
        None
    };
    if response_type.returns_id_token() {
        // OIDC Core §5.4: with no access token to read userinfo with, the claims of the
        // granted scopes travel in the ID token.
        let claims = if access_token.is_none() {
            match protocol.store.get_user(user_id).await? {
                Some(row) => by_scope(User::from_row(row)?.oidc_claims(), &scope),
                None => Map::new(),
            }
        } else {
            Map::new()
        };
        let id_token = issue_id_token_with_claims(
            protocol,
            IdTokenSpec {
                client,
                subject: user_id,
                auth_time,
                // OIDC Core §3.2.2.11: the request's nonce (required, checked at /authorize).
                nonce: request.nonce.as_deref(),
                // OIDC Core §3.2.2.10: at_hash whenever an access token comes with it.
                access_token: access_token.as_deref(),
                sid: Some(sid),
                acr: request.acr.as_deref(),
            },
            &claims,
            now,
        )?;
        fields.push(("id_token", id_token));
    }
    Ok(fields)
}
