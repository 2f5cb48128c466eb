//! RFC 7009: token revocation. A client revokes only its own tokens; unknown or already dead
//! tokens answer 200 (§2.2). A JWT access token goes on the deny-list until it expires; a
//! refresh token takes its whole grant with it: the family and the access tokens issued from it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::Form;
use super::no_store;
use crate::audit;
use crate::error::OAuthError;
use crate::names::path;
use crate::oauth::inspect::{Hint, TokenKind, inspect};
use crate::oauth::revoke::revoke_grant;
use crate::secret::sha256_hex;
use crate::state::AppState;
use crate::store::jti_key;

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    form: Form,
) -> Result<Response, OAuthError> {
    let now = state.now();
    let caller = form.authenticate_client(&state, path::REVOKE, now).await?;
    let token = form.params.require("token")?;
    let hint = Hint::parse(form.params.get("token_type_hint"));
    let Some(info) = inspect(&state, token, hint, now).await? else {
        return Ok(no_store(StatusCode::OK.into_response()));
    };
    // §2.1: the server verifies the token was issued to the client making the request.
    if info.client_id != caller.id {
        return Err(
            OAuthError::unauthorized_client("the token was not issued to this client").with_detail(
                format!(
                    "client {} tried to revoke a token of {}",
                    caller.id, info.client_id
                ),
            ),
        );
    }
    match info.kind {
        TokenKind::JwtAccess => {
            if let Some(jti) = &info.jti {
                state.store.revoke(&jti_key(jti), info.exp).await?;
                state.deny_list.revoked_here();
            }
        }
        TokenKind::OpaqueAccess => state.store.delete_opaque_token(&sha256_hex(token)).await?,
        TokenKind::Refresh => {
            if let Some(grant_id) = &info.grant_id {
                // The deny-list entry outlives every token the grant produced.
                revoke_grant(&state, grant_id, now).await?;
            }
        }
    }
    // The event names the grant (or the JWT's jti), never the token.
    let target = info
        .grant_id
        .as_deref()
        .or(info.jti.as_deref())
        .unwrap_or_default();
    let detail = json!({ "kind": format!("{:?}", info.kind) });
    let actor = audit::client_actor(&caller.id);
    audit::record(
        &state.store,
        now,
        audit::action::TOKEN_REVOKED,
        &actor,
        target,
        detail,
    )
    .await;
    Ok(no_store(StatusCode::OK.into_response()))
}
