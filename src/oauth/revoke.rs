//! Revocation: what ends a grant, or every grant of a user, and how long the deny-list
//! remembers it. One rule for how long: a deny-list entry outlives every token the revoked
//! grants could have issued, access tokens (the config's lifetime or a resource's own,
//! whichever is longer) and refresh tokens alike, so nothing revoked comes back to life when
//! its entry is dropped.

use crate::oauth::backchannel_logout;
use crate::oauth::context::ProtocolContext;
use crate::store::StoreError;

/// Seconds a deny-list entry written now must last: the longest an access token issued now
/// can live, or a refresh token's family, whichever is longer.
pub async fn deny_list_lifetime(protocol: &ProtocolContext) -> Result<u64, StoreError> {
    Ok(protocol
        .longest_access_token_lifetime()
        .await?
        .max(protocol.config.tokens.refresh_token_lifetime))
}

/// Revokes everything a grant produced: its refresh tokens and unused codes go, its access
/// tokens go on the deny-list (RFC 7009 §2.1: revoking a refresh token may revoke the access
/// tokens of the same grant).
pub async fn revoke_grant(
    protocol: &ProtocolContext,
    grant_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let until = now + deny_list_lifetime(protocol).await? as i64;
    protocol.store.revoke_grant(grant_id, until).await?;
    protocol.deny_list.revoked_here();
    Ok(())
}

/// `revoke_grant` for a code or refresh token presented twice (RFC 6749 §4.1.2 / §10.5,
/// RFC 9700 §4.14.2): either presenter may be an attacker, so all of it goes.
pub async fn revoke_replayed_grant(
    protocol: &ProtocolContext,
    grant_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    revoke_grant(protocol, grant_id, now).await?;
    tracing::warn!(grant_id, "grant revoked after a replay");
    Ok(())
}

/// A disabled or deleted user keeps nothing: every grant they hold is revoked (refresh tokens
/// and unused codes deleted, access tokens on the deny-list, so introspection answers
/// `active: false` and userinfo `invalid_token`), their sessions end, and each client that
/// was issued tokens in those sessions is sent a Logout Token (OIDC Back-Channel Logout 1.0).
/// Pending authorization requests need nothing: finishing one needs a live session.
pub async fn cut_off_user(
    protocol: &ProtocolContext,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let until = now + deny_list_lifetime(protocol).await? as i64;
    let sessions = protocol.store.revoke_user(user_id, until).await?;
    protocol.deny_list.revoked_here();
    tracing::info!(user_id, "user cut off: grants revoked, sessions ended");
    backchannel_logout::notify(protocol, sessions, now).await;
    Ok(())
}
