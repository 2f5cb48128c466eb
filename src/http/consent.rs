//! The consent form of an authorization request (OIDC Core §3.1.2.4): Allow remembers the
//! scopes for this user and client and issues the code; Deny answers `access_denied`
//! (RFC 6749 §4.1.2.1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use serde_json::json;

use super::authorize::{REQUEST_FIELD, abandon, finish, load_pending, resume};
use crate::audit;
use crate::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::pages::{CSRF_FIELD, PageError, verify_csrf};
use crate::session::current_session;
use crate::state::AppState;

/// `POST /authorize/consent`.
pub async fn consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let params = Params::parse(&body).unwrap_or_default();
    if let Err(e) = verify_csrf(&headers, params.get(CSRF_FIELD).unwrap_or_default()) {
        return e.page(&state);
    }
    let pending =
        match load_pending(&state, params.get(REQUEST_FIELD).unwrap_or_default(), now).await {
            Ok(p) => p,
            Err(page) => return page,
        };
    let session = match current_session(&state, &headers, now).await {
        Ok(Some(s)) => s,
        // Signed out in another tab: sign in again.
        Ok(None) => return resume(&state, &headers, pending, None, None).await,
        Err(e) => return PageError::Store(e).page(&state),
    };
    if params.get("decision") != Some("allow") {
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        let actor = audit::user_actor(&session.user_id);
        let detail = json!({ "scope": pending.request.scope });
        audit::record(
            &state.store,
            now,
            audit::action::CONSENT_DENIED,
            &actor,
            &pending.client.id,
            detail,
        )
        .await;
        let denied = OAuthError::access_denied("the user denied the request");
        return abandon(&state, &pending, denied).await;
    }
    // Remembered as the union with what the user granted this client before.
    let before = match state
        .store
        .consented_scope(&session.user_id, &pending.client.id)
        .await
    {
        Ok(s) => s.as_deref().and_then(Scope::parse).unwrap_or_default(),
        Err(e) => return PageError::Store(e).page(&state),
    };
    let requested = Scope::parse(&pending.request.scope).unwrap_or_default();
    let granted = Scope::from_tokens(before.iter().chain(requested.iter()));
    if let Err(e) = state
        .store
        .save_consent(
            &session.user_id,
            &pending.client.id,
            &granted.to_string(),
            now,
        )
        .await
    {
        return PageError::Store(e).page(&state);
    }
    let actor = audit::user_actor(&session.user_id);
    let detail = json!({ "scope": granted.to_string() });
    audit::record(
        &state.store,
        now,
        audit::action::CONSENT_GRANTED,
        &actor,
        &pending.client.id,
        detail,
    )
    .await;
    finish(&state, &pending, &session).await
}
