//! `/admin/users`: local user accounts. Responses hold personal data, so none is cached; no
//! response ever holds a password or its hash.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::admin::users::{self, UserRequest};
use crate::admin::{Actor, Page};
use crate::error::OAuthError;
use crate::http::extract::{self, Path, Query};
use crate::http::no_store;
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = UserRequest::from_json(body)?;
    let user = users::create(&state.store, &actor, req, state.now()).await?;
    Ok(no_store((StatusCode::CREATED, Json(user)).into_response()))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        Json(users::list(&state.store, &page).await?).into_response(),
    ))
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        Json(users::get(&state.store, &id).await?).into_response(),
    ))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = UserRequest::from_json(body)?;
    let user = users::update(&state, &actor, &id, req, state.now()).await?;
    Ok(no_store(Json(user).into_response()))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    users::delete(&state, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clears the user's sign-in lockout (the account's throttle counter; issue 9).
pub async fn clear_lockout(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    crate::throttle::clear_lockout(&state.store, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
