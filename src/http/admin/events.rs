//! `GET /admin/events`: security events and admin changes, filtered and paged (`admin::events::list`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::admin::events::{self, EventPage, EventQuery};
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::Query;
use crate::names::path::admin;
use crate::state::AppState;

/// Lists security events and admin changes, newest first, filtered and paged.
#[utoipa::path(
    get, path = admin::EVENTS, tag = "audit", operation_id = "list_events",
    params(EventQuery),
    responses(
        (status = 200, description = "One page of events; `next_cursor` when there are more", body = EventPage),
        (status = 400, description = "`invalid_request`: a malformed query or cursor", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<EventQuery>,
) -> Result<Response, OAuthError> {
    Ok(Json(events::list(&state.store, &query).await?).into_response())
}
