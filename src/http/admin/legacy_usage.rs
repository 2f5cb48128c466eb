//! `GET /admin/legacy-usage?days=N`: the clients that used the implicit flow or the password
//! grant in the last N days (default 30), so operators know whom to migrate.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::admin::legacy_usage;
use crate::error::OAuthError;
use crate::http::extract::Query;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    days: Option<i64>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<UsageQuery>,
) -> Result<Response, OAuthError> {
    let usage = legacy_usage::list(&state.store, query.days, state.now()).await?;
    Ok(Json(json!({ "usage": usage })).into_response())
}
