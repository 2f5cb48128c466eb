//! `/admin/resources`: the APIs tokens are issued for.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::admin::resources::{self, ResourceList, ResourceRequest, ResourceView};
use crate::admin::{Actor, Page};
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::{self, Path, Query};
use crate::names::path::admin;
use crate::state::AppState;

/// Registers a resource server (an API, RFC 8707): its identifier is the tokens' audience.
#[utoipa::path(
    post, path = admin::RESOURCES, tag = "resources", operation_id = "create_resource",
    request_body = ResourceRequest,
    responses(
        (status = 201, description = "Registered", body = ResourceView),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 409, description = "`conflict`: the identifier is taken", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(req): extract::Json<ResourceRequest>,
) -> Result<Response, OAuthError> {
    let created = resources::create(&state.store, &actor, req, state.now()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Lists resource servers in pages.
#[utoipa::path(
    get, path = admin::RESOURCES, tag = "resources", operation_id = "list_resources",
    params(Page),
    responses(
        (status = 200, description = "A page of resources", body = ResourceList),
        (status = 400, description = "`invalid_request`: a malformed query", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(resources::list(&state.store, &page).await?).into_response())
}

/// Reads a resource server.
#[utoipa::path(
    get, path = admin::RESOURCE, tag = "resources", operation_id = "get_resource",
    params(("id" = String, Path, description = "The resource's id (not its identifier)")),
    responses(
        (status = 200, description = "The resource", body = ResourceView),
        (status = 404, description = "`not_found`: no such resource", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(resources::get(&state.store, &id).await?).into_response())
}

/// Replaces a resource server's settings.
#[utoipa::path(
    put, path = admin::RESOURCE, tag = "resources", operation_id = "replace_resource",
    params(("id" = String, Path, description = "The resource's id (not its identifier)")),
    request_body = ResourceRequest,
    responses(
        (status = 200, description = "Replaced", body = ResourceView),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resource", body = ErrorBody),
        (status = 409, description = "`conflict`: the identifier is taken", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(req): extract::Json<ResourceRequest>,
) -> Result<Response, OAuthError> {
    let updated = resources::update(&state.store, &actor, &id, req, state.now()).await?;
    state.resources.invalidate_all();
    Ok(Json(updated).into_response())
}

/// Deletes a resource server.
#[utoipa::path(
    delete, path = admin::RESOURCE, tag = "resources", operation_id = "delete_resource",
    params(("id" = String, Path, description = "The resource's id (not its identifier)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such resource", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    resources::delete(&state.store, &actor, &id, state.now()).await?;
    state.resources.invalidate_all();
    Ok(StatusCode::NO_CONTENT)
}
