//! RFC 7521 §4.1: the access token for a verified assertion (JWT bearer, SAML 2.0 bearer) —
//! the scope stays within what the client, the issuer and the APIs allow, the assertion's
//! one-time id is spent, and the token is issued. No refresh token: RFC 7521 §4.1 expects none
//! in practice.

use serde_json::Map;

use crate::error::OAuthError;
use crate::oauth::assertion::{OneTimeId, map_subject};
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::issue::{AccessTokenSpec, TokenResponse, issue_access_token};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;
use crate::oauth::trusted_issuer::TrustedIssuer;

/// Issues the access token for a verified assertion of `issuer` about `subject`.
pub async fn issue_for_assertion(
    protocol: &ProtocolContext,
    client: &Client,
    now: i64,
    issuer: &TrustedIssuer,
    subject: &str,
    one_time: OneTimeId<'_>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let requested = params.scope()?;
    let mut target_ids = params.get_all("resource").to_vec();
    target_ids.extend(params.get_all("audience").iter().cloned());
    let targets = resolve_targets(protocol, client, &target_ids).await?;
    // RFC 7521 §4.1: the scope is limited to what the client may ask, what the issuer may
    // obtain, and what the target APIs define.
    let allowed = Scope::from_tokens(client.allowed_scopes().filter(|s| {
        issuer.config.scopes.iter().any(|i| i == s) && targets.iter().any(|t| t.defines_scope(s))
    }));
    let scope = requested.unwrap_or_else(|| allowed.clone());
    let escalated = scope.not_in(&allowed);
    if !escalated.is_empty() {
        return Err(OAuthError::invalid_scope(
            "the scope exceeds what this client may obtain with this issuer's assertions",
        )
        .with_detail(format!(
            "client {} issuer {} asked for {escalated:?}",
            client.id, issuer.id
        )));
    }
    let sub = map_subject(protocol, issuer, subject).await?;
    // RFC 7523 §3 item 7 / RFC 7522 §3 item 9: spent last, so a request refused for its scope
    // or target can be corrected and sent again with the same assertion.
    let fresh = protocol
        .store
        .record_jti(
            &format!("{}:{}", issuer.kind.as_str(), issuer.issuer),
            one_time.id,
            one_time.expires_at,
        )
        .await?;
    if !fresh {
        crate::audit::record(
            &protocol.store,
            now,
            crate::audit::action::ASSERTION_REPLAY,
            &crate::audit::client_actor(&client.id),
            &issuer.id,
            serde_json::json!({ "kind": issuer.kind.as_str() }),
        )
        .await;
        return Err(
            OAuthError::invalid_grant("the assertion has already been used")
                .with_detail(format!("issuer {} replayed id", issuer.id)),
        );
    }
    let token = issue_access_token(
        protocol,
        AccessTokenSpec {
            client_id: &client.id,
            subject: &sub,
            scope: &scope,
            targets: &targets,
            grant_id: None,
            extra: Map::new(),
            not_after: None,
        },
        now,
    )
    .await?;
    Ok(TokenResponse::bearer(token, &scope))
}
