//! `/admin/resources`: the APIs tokens are issued for.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::admin::resources::{self, ResourceRequest};
use crate::admin::{Actor, Page};
use crate::error::OAuthError;
use crate::http::extract::{self, Path, Query};
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(req): extract::Json<ResourceRequest>,
) -> Result<Response, OAuthError> {
    let created = resources::create(&state.store, &actor, req, state.now()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(resources::list(&state.store, &page).await?).into_response())
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(resources::get(&state.store, &id).await?).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(req): extract::Json<ResourceRequest>,
) -> Result<Response, OAuthError> {
    Ok(Json(resources::update(&state.store, &actor, &id, req, state.now()).await?).into_response())
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    resources::delete(&state.store, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
