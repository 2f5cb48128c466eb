//! `/admin/issuers`: trusted JWT issuers and SAML identity providers (RFC 7521 §5.1).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::admin::issuers::{self, IssuerList, IssuerRequest, IssuerView};
use crate::admin::{Actor, Page};
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::{self, Path, Query};
use crate::names::path::admin;
use crate::state::AppState;

/// Registers an issuer whose assertions clients may exchange for tokens (RFC 7523, RFC 7522)
/// and whose JWTs token exchange accepts as subject tokens (RFC 8693).
#[utoipa::path(
    post, path = admin::ISSUERS, tag = "issuers", operation_id = "create_issuer",
    request_body = IssuerRequest,
    responses(
        (status = 201, description = "Registered", body = IssuerView),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 409, description = "`conflict`: an issuer of this kind with this identifier exists", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(req): extract::Json<IssuerRequest>,
) -> Result<Response, OAuthError> {
    let created = issuers::create(&state.store, &actor, req, state.now()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Lists trusted issuers in pages.
#[utoipa::path(
    get, path = admin::ISSUERS, tag = "issuers", operation_id = "list_issuers",
    params(Page),
    responses(
        (status = 200, description = "A page of issuers", body = IssuerList),
        (status = 400, description = "`invalid_request`: a malformed query", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::list(&state.store, &page).await?).into_response())
}

/// Reads a trusted issuer.
#[utoipa::path(
    get, path = admin::ISSUER, tag = "issuers", operation_id = "get_issuer",
    params(("id" = String, Path, description = "The issuer's id")),
    responses(
        (status = 200, description = "The issuer", body = IssuerView),
        (status = 404, description = "`not_found`: no such issuer", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::get(&state.store, &id).await?).into_response())
}

/// Replaces a trusted issuer's registration.
#[utoipa::path(
    put, path = admin::ISSUER, tag = "issuers", operation_id = "replace_issuer",
    params(("id" = String, Path, description = "The issuer's id")),
    request_body = IssuerRequest,
    responses(
        (status = 200, description = "Replaced", body = IssuerView),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 404, description = "`not_found`: no such issuer", body = ErrorBody),
        (status = 409, description = "`conflict`: an issuer of this kind with this identifier exists", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(req): extract::Json<IssuerRequest>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::update(&state.store, &actor, &id, req, state.now()).await?).into_response())
}

/// Deletes a trusted issuer: its assertions are refused from then on.
#[utoipa::path(
    delete, path = admin::ISSUER, tag = "issuers", operation_id = "delete_issuer",
    params(("id" = String, Path, description = "The issuer's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such issuer", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    issuers::delete(&state.store, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
