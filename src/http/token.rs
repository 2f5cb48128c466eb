//! RFC 6749 §3.2: the token endpoint. Parse, look up the grant, authenticate the client,
//! check policy, then hand over to the grant's module.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};

use super::extract::Form;
use super::no_store;
use crate::error::OAuthError;
use crate::grants::TokenContext;
use crate::names::path;
use crate::proxy::client_ip;
use crate::state::AppState;
use axum::http::HeaderMap;

pub async fn token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, OAuthError> {
    let now = state.now();
    let grant_type = form.params.require("grant_type")?;
    // A grant disabled by config is answered exactly as an unknown one.
    let handler = state
        .grants
        .get(grant_type)
        .ok_or_else(|| OAuthError::unsupported_grant_type("unsupported grant_type"))?;
    let client = form.authenticate_client(&state, path::TOKEN, now).await?;
    if client.is_public() && !handler.allows_public_clients() {
        return Err(
            OAuthError::unauthorized_client("public clients may not use this grant")
                .with_detail(format!("client {} grant {grant_type}", client.id)),
        );
    }
    if !client.has_grant_type(grant_type) {
        return Err(
            OAuthError::unauthorized_client("the client is not registered for this grant")
                .with_detail(format!("client {} grant {grant_type}", client.id)),
        );
    }
    // The per-client rate limit, after authentication (an unknown or failed client
    // spends nothing) and policy.
    crate::rate_limit::check(&state, &client, now).await?;
    let cx = TokenContext {
        protocol: &state,
        client: &client,
        now,
        // The password grant's per-IP throttle counts the client, not a proxy before us.
        peer: client_ip(peer.ip(), &headers, &state.trusted_proxies),
    };
    let response = handler.handle(&cx, &form.params).await?;
    // Issuance is counted, not stored (the Prometheus exporter reads these counters).
    metrics::counter!(
        "portcullis_tokens_issued_total",
        "grant_type" => handler.grant_type(),
        "client_id" => client.id.clone()
    )
    .increment(1);
    Ok(no_store(Json(response).into_response()))
}
