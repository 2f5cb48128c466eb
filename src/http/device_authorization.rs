//! RFC 8628 §3.1–3.2: the device authorization endpoint. The client authenticates as at the
//! token endpoint (public clients send only `client_id`); the grant module does the rest.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::Form;
use super::no_store;
use crate::error::OAuthError;
use crate::grants::device_code::authorize_device;
use crate::names::path;
use crate::state::AppState;

/// `POST /device_authorization`.
pub async fn device_authorization(
    State(state): State<Arc<AppState>>,
    form: Form,
) -> Result<Response, OAuthError> {
    let now = state.now();
    let client = form
        .authenticate_client(&state, path::DEVICE_AUTHORIZATION, now)
        .await?;
    let authorization = authorize_device(&state, &client, &form.params, now).await?;
    // RFC 8628 §3.2: the response carries a credential (the device code): never cached.
    Ok(no_store(Json(authorization).into_response()))
}
