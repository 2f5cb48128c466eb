//! `/admin/clients`: registration and management.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::admin::client_metadata::ClientRegistration;
use crate::admin::{Actor, Page, clients};
use crate::error::OAuthError;
use crate::http::extract::{self, Path, Query};
use crate::http::no_store;
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(req): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = ClientRegistration::from_json(req)?;
    let registered = clients::register(&state.store, &actor, req, state.now()).await?;
    Ok(no_store(
        (StatusCode::CREATED, Json(registered)).into_response(),
    ))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(clients::list(&state.store, &page).await?).into_response())
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(clients::get(&state.store, &id).await?).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(req): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = ClientRegistration::from_json(req)?;
    let updated = clients::update(&state.store, &actor, &id, req, state.now()).await;
    // This node sees the change at once; the others within `clients.cache_ttl`.
    state.clients.invalidate(&id);
    let updated = updated?;
    Ok(no_store(Json(updated).into_response()))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    let deleted = clients::delete(&state.store, &actor, &id, state.now()).await;
    state.clients.invalidate(&id);
    deleted?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Seconds the old secret keeps working; the configured default when absent.
    grace_period: Option<u64>,
}

pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::OptionalJson(body): extract::OptionalJson<RotateRequest>,
) -> Result<Response, OAuthError> {
    let grace = body
        .and_then(|b| b.grace_period)
        .unwrap_or(state.config.clients.secret_grace_period);
    let rotated = clients::rotate_secret(&state.store, &actor, &id, grace, state.now()).await;
    state.clients.invalidate(&id);
    let rotated = rotated?;
    Ok(no_store(Json(rotated).into_response()))
}
