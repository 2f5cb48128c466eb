//! `GET /admin/legacy-usage?days=N`: the clients that used the implicit flow or the password
//! grant in the last N days (default 30), so operators know whom to migrate.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::admin::legacy_usage;
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::Query;
use crate::names::path::admin;
use crate::state::AppState;
use crate::store::LegacyUsageRow;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// The last N days, today included: 1 to 366, 30 when absent.
    days: Option<i64>,
}

/// Uses of the legacy flows per client and flow.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LegacyUsage {
    pub usage: Vec<LegacyUsageRow>,
}

/// The clients that used the implicit flow or the password grant (RFC 9700 §2.1.2, §2.4),
/// most recent first.
#[utoipa::path(
    get, path = admin::LEGACY_USAGE, tag = "legacy", operation_id = "list_legacy_usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "Uses per client and flow", body = LegacyUsage),
        (status = 400, description = "`invalid_request`: `days` out of range", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<UsageQuery>,
) -> Result<Response, OAuthError> {
    let usage = legacy_usage::list(&state.store, query.days, state.now()).await?;
    Ok(Json(LegacyUsage { usage }).into_response())
}
