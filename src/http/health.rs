//! Liveness and readiness probes.
//!
//! `/healthz` says the process is up and never touches the database, so an orchestrator does
//! not restart a node whose database is away (a restart would not bring it back; the pool
//! recovers by itself). `/readyz` says whether this node can serve now: it answers 503 while
//! the database cannot be reached, so a load balancer takes the node out, and 200 again as soon
//! as it can.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers a trivial query within
/// `database.acquire_timeout`. The pool bounds the wait for a connection; the outer bound also
/// covers a connection that goes silent during the query itself (a network partition sends
/// no reset), so a probe never hangs.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let bound = Duration::from_secs(state.config.database.acquire_timeout);
    let failure = match tokio::time::timeout(bound, state.store.ping()).await {
        Ok(Ok(())) => {
            return (
                StatusCode::OK,
                no_store(Json(
                    json!({ "status": "ready", "database": state.store.backend() }),
                )),
            )
                .into_response();
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {}s", bound.as_secs()),
    };
    tracing::warn!(error = %failure, "readiness check failed: database unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        no_store(Json(
            json!({ "status": "unavailable", "database": state.store.backend() }),
        )),
    )
        .into_response()
}

/// A probe's answer is about this moment: never cached by a proxy in between.
fn no_store(body: Json<Value>) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
