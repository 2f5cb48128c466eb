//! `/admin/keys` (list, rotate) and `/admin/audit` (the trail of admin changes).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::admin::{Actor, Page, keys};
use crate::config::SigningAlg;
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::{self, Query};
use crate::keys::KeyInfo;
use crate::names::path::admin;
use crate::state::AppState;
use crate::store::AuditEvent;

/// The signing keys: what `GET /admin/keys` and a rotation answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// Lists the signing keys, with the one that signs now for each algorithm.
#[utoipa::path(
    get, path = admin::KEYS, tag = "keys", operation_id = "list_keys",
    responses((status = 200, description = "The signing keys (never private material)", body = KeyList)),
)]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Response, OAuthError> {
    let keys = keys::list(&state.store, &state.keys, state.now()).await?;
    Ok(Json(KeyList { keys }).into_response())
}

/// The body of a key rotation; it may be left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// Algorithms to rotate; all when absent.
    #[serde(default)]
    algs: Vec<SigningAlg>,
    /// Seconds until the new keys sign (at most a year); they are published in JWKS at once.
    #[serde(default)]
    activate_in: u64,
}

/// Adds a new signing key per algorithm. The keys they replace stay in JWKS until every token
/// they signed has expired.
#[utoipa::path(
    post, path = admin::KEYS_ROTATE, tag = "keys", operation_id = "rotate_keys",
    request_body = Option<KeyRotation>,
    responses(
        (status = 200, description = "The signing keys after the rotation", body = KeyList),
        (status = 400, description = "`invalid_request`: an unknown algorithm or `activate_in` too far ahead", body = ErrorBody),
    ),
)]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::OptionalJson(body): extract::OptionalJson<KeyRotation>,
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
    Ok(Json(KeyList { keys }).into_response())
}

/// The audit trail: admin changes, most recent first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditTrail {
    pub events: Vec<AuditEvent>,
}

/// Lists the most recent admin changes.
#[utoipa::path(
    get, path = admin::AUDIT, tag = "audit", operation_id = "list_audit_events",
    params(("limit" = Option<i64>, Query, description = "How many: 1 to 200 (values outside are clamped), 50 when absent")),
    responses(
        (status = 200, description = "The most recent admin changes", body = AuditTrail),
        (status = 400, description = "`invalid_request`: a malformed query", body = ErrorBody),
    ),
)]
pub async fn audit(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    let events = state.store.list_audit_events(page.limit()).await?;
    Ok(Json(AuditTrail { events }).into_response())
}
