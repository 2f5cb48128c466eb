//! `GET /admin/events`: security events and admin changes, filtered and paged (`audit::list`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::audit::{self, EventQuery};
use crate::error::OAuthError;
use crate::http::extract::Query;
use crate::state::AppState;

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<EventQuery>,
) -> Result<Response, OAuthError> {
    Ok(Json(audit::list(&state.store, &query).await?).into_response())
}
