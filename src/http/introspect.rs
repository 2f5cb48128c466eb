//! RFC 7662: token introspection. Callers authenticate as confidential clients and see only
//! tokens issued to them or meant for an API they act as; everything else is `active: false`,
//! with no hint why.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::Form;
use super::no_store;
use crate::error::OAuthError;
use crate::names::path;
use crate::oauth::client::Client;
use crate::oauth::inspect::{Hint, TokenInfo, TokenKind, inspect};
use crate::state::AppState;

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    form: Form,
) -> Result<Response, OAuthError> {
    let now = state.now();
    let caller = form
        .authenticate_client(&state, path::INTROSPECT, now)
        .await?;
    // RFC 7662 §2.1: the endpoint requires authorization; a public client has none to offer.
    if caller.is_public() {
        return Err(OAuthError::invalid_client(
            "introspection requires client authentication",
        ));
    }
    let token = form.params.require("token")?;
    let hint = Hint::parse(form.params.get("token_type_hint"));
    let info = match inspect(&state, token, hint, now).await? {
        Some(info) if may_see(&state, &caller, &info, now).await? => info,
        _ => return Ok(no_store(Json(json!({ "active": false })).into_response())),
    };
    Ok(no_store(
        Json(active_response(&state, info)).into_response(),
    ))
}

/// The client the token was issued to, or a client registered as the API of one of its
/// audiences (DESIGN: a resource names the client that acts as it).
async fn may_see(
    state: &AppState,
    caller: &Client,
    info: &TokenInfo,
    now: i64,
) -> Result<bool, OAuthError> {
    if info.client_id == caller.id {
        return Ok(true);
    }
    let resources = state
        .resources
        .by_identifiers(&state.store, &info.aud, now)
        .await?;
    Ok(resources
        .iter()
        .any(|r| r.client_id.as_deref() == Some(caller.id.as_str())))
}

fn active_response(state: &AppState, info: TokenInfo) -> Value {
    let mut body = info.extra;
    body.insert("active".into(), true.into());
    body.insert("iss".into(), state.issuer.clone().into());
    body.insert("client_id".into(), info.client_id.into());
    body.insert("sub".into(), info.sub.into());
    if !info.scope.is_empty() {
        body.insert("scope".into(), info.scope.into());
    }
    if !info.aud.is_empty() {
        body.insert(
            "aud".into(),
            match info.aud.as_slice() {
                [one] => one.clone().into(),
                many => many.to_vec().into(),
            },
        );
    }
    body.insert("exp".into(), info.exp.into());
    body.insert("iat".into(), info.iat.into());
    if let Some(jti) = info.jti {
        body.insert("jti".into(), jti.into());
    }
    let token_type = match info.kind {
        TokenKind::JwtAccess | TokenKind::OpaqueAccess => "Bearer",
        TokenKind::Refresh => "refresh_token",
    };
    body.insert("token_type".into(), token_type.into());
    Value::Object(body)
}
