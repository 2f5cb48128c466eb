//! `/admin/clients`: registration and management.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::admin::client_metadata::ClientRegistration;
use crate::admin::clients::{ClientList, ClientView, Registered, RotatedSecret};
use crate::admin::{Actor, Page, clients};
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::{self, Path, Query};
use crate::http::no_store;
use crate::names::path::admin;
use crate::state::AppState;

/// RFC 7591 §3.1: registers a client. The response holds its secret, which is never shown again.
#[utoipa::path(
    post, path = admin::CLIENTS, tag = "clients", operation_id = "create_client",
    request_body = ClientRegistration,
    responses(
        (status = 201, description = "Registered (RFC 7591 §3.2.1)", body = Registered),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri` (RFC 7591 §3.2.2), naming the field", body = ErrorBody),
    ),
)]
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

/// Lists clients in pages, by client id.
#[utoipa::path(
    get, path = admin::CLIENTS, tag = "clients", operation_id = "list_clients",
    params(Page),
    responses(
        (status = 200, description = "A page of clients", body = ClientList),
        (status = 400, description = "`invalid_request`: a malformed query", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(clients::list(&state.store, &page).await?).into_response())
}

/// RFC 7592 §2.1: reads a client.
#[utoipa::path(
    get, path = admin::CLIENT, tag = "clients", operation_id = "get_client",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(clients::get(&state.store, &id).await?).into_response())
}

/// RFC 7592 §2.2: replaces the client's metadata. A client newly switched to a secret-based
/// method gets a secret, returned once.
#[utoipa::path(
    put, path = admin::CLIENT, tag = "clients", operation_id = "replace_client",
    params(("id" = String, Path, description = "The client id")),
    request_body = ClientRegistration,
    responses(
        (status = 200, description = "Replaced; `client_secret` only when one was made", body = Registered),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri`, naming the field", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
    ),
)]
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

/// RFC 7592 §2.3: deletes the client and its secrets.
#[utoipa::path(
    delete, path = admin::CLIENT, tag = "clients", operation_id = "delete_client",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
    ),
)]
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

/// The body of a secret rotation; it may be left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    /// Seconds the old secret keeps working (at most a year); the configured
    /// `clients.secret_grace_period` when absent.
    grace_period: Option<u64>,
}

/// Adds a new secret; the old ones keep working for the grace period, so deployments can roll
/// over without downtime.
#[utoipa::path(
    post, path = admin::CLIENT_SECRET, tag = "clients", operation_id = "rotate_client_secret",
    params(("id" = String, Path, description = "The client id")),
    request_body = Option<SecretRotation>,
    responses(
        (status = 200, description = "The new secret, shown once", body = RotatedSecret),
        (status = 400, description = "`invalid_request`: the client has no secret, or the grace period is too long", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
    ),
)]
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::OptionalJson(body): extract::OptionalJson<SecretRotation>,
) -> Result<Response, OAuthError> {
    let grace = body
        .and_then(|b| b.grace_period)
        .unwrap_or(state.config.clients.secret_grace_period);
    let rotated = clients::rotate_secret(&state.store, &actor, &id, grace, state.now()).await;
    state.clients.invalidate(&id);
    let rotated = rotated?;
    Ok(no_store(Json(rotated).into_response()))
}
