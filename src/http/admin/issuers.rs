//! `/admin/issuers`: trusted JWT issuers and SAML identity providers (RFC 7521 §5.1).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::admin::issuers::{self, IssuerRequest};
use crate::admin::{Actor, Page};
use crate::error::OAuthError;
use crate::http::extract::{self, Path, Query};
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(req): extract::Json<IssuerRequest>,
) -> Result<Response, OAuthError> {
    let created = issuers::create(&state.store, &actor, req, state.now()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::list(&state.store, &page).await?).into_response())
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::get(&state.store, &id).await?).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(req): extract::Json<IssuerRequest>,
) -> Result<Response, OAuthError> {
    Ok(Json(issuers::update(&state.store, &actor, &id, req, state.now()).await?).into_response())
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    issuers::delete(&state.store, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
