//! `/admin/keys` (list, rotate) and `/admin/audit` (the trail of admin changes).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use crate::admin::{Actor, Page, keys};
use crate::config::SigningAlg;
use crate::error::OAuthError;
use crate::http::extract::{self, Query};
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>) -> Result<Response, OAuthError> {
    let keys = keys::list(&state.store, &state.keys, state.now()).await?;
    Ok(Json(json!({ "keys": keys })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Algorithms to rotate; all when absent.
    #[serde(default)]
    algs: Vec<SigningAlg>,
    /// Seconds until the new keys sign; they are published in JWKS at once.
    #[serde(default)]
    activate_in: u64,
}

pub async fn rotate(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::OptionalJson(body): extract::OptionalJson<RotateRequest>,
) -> Result<Response, OAuthError> {
    let req = body.unwrap_or_default();
    let keys = keys::rotate(
        &state.store,
        &state.keys,
        &state.config,
        &actor,
        &req.algs,
        req.activate_in,
        state.now(),
    )
    .await?;
    Ok(Json(json!({ "keys": keys })).into_response())
}

pub async fn audit(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    let events = state.store.list_audit_events(page.limit()).await?;
    Ok(Json(json!({ "events": events })).into_response())
}
