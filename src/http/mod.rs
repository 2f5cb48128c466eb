//! The HTTP surface: one file per endpoint, the router, and the layers every request passes
//! (request id, tracing without query strings, body limit, timeout, panic guard, metrics).

pub mod admin;
pub mod authorize;
pub mod consent;
pub mod cors;
pub mod device;
pub mod device_authorization;
pub mod discovery;
mod error_response;
pub mod extract;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod metrics;
pub mod revoke;
pub mod signin;
pub mod token;
pub mod userinfo;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ErrorCode, OAuthError};
use crate::names::grant_type::DEVICE_CODE;
use crate::names::path;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// RFC 6749 §5.1: responses carrying tokens or credentials are never cached.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub fn router(state: Arc<AppState>) -> Router {
    let timeout = Duration::from_secs(state.config.http.request_timeout);
    let body_limit = state.config.http.body_limit;
    // Public documents: readable from any origin (cors::public).
    let public = Router::new()
        .route(path::DISCOVERY_OIDC, get(discovery::metadata))
        .route(path::DISCOVERY_OAUTH, get(discovery::metadata))
        .route(path::JWKS, get(discovery::jwks))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(cors::public));
    // Endpoints browser apps call: registered origins only (cors::for_clients).
    let mut for_browser_apps = Router::new().route(path::TOKEN, post(token::token));
    if state.grants.get(DEVICE_CODE).is_some() {
        for_browser_apps = for_browser_apps.route(
            path::DEVICE_AUTHORIZATION,
            post(device_authorization::device_authorization),
        );
    }
    let for_browser_apps = for_browser_apps
        .route(path::REVOKE, post(revoke::revoke))
        .route(
            path::USERINFO,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cors::for_clients,
        ));
    Router::new()
        .merge(public)
        .merge(for_browser_apps)
        .route(
            path::AUTHORIZE,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(path::AUTHORIZE_SIGNIN, post(signin::signin))
        .route(path::AUTHORIZE_CONSENT, post(consent::consent))
        .merge(device_routes(&state))
        .merge(metrics::routes(&state))
        .route(path::INTROSPECT, post(introspect::introspect))
        .route(path::HEALTHZ, get(health::healthz))
        .route(path::READYZ, get(health::readyz))
        .route(path::LOGOUT, get(logout::logout).post(logout::logout))
        .route(path::SIGNED_OUT, get(crate::pages::signed_out))
        .merge(admin::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::map_response(payload_too_large_as_json))
        .layer(CatchPanicLayer::custom(|_| OAuthError::server_error().into_response()))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            // The span names the path, never the query: query strings carry codes and tokens.
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outermost, so a 408 or a caught panic is counted and timed like any answer.
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// RFC 8628: the verification pages, served only when the device grant is (what is advertised
/// is what is served); /device_authorization sits with the CORS-enabled endpoints above.
fn device_routes(state: &AppState) -> Router<Arc<AppState>> {
    if state.grants.get(DEVICE_CODE).is_none() {
        return Router::new();
    }
    Router::new()
        .route(
            path::DEVICE,
            get(device::enter_code).post(device::submit_code),
        )
        .route(path::DEVICE_SIGNIN, post(device::signin))
        .route(path::DEVICE_APPROVE, post(device::approve))
}

/// RFC 9110 §15.5.14: a body over `http.body_limit` is a 413 JSON error on every endpoint.
/// `extract::Form` and `Json` say so themselves; this covers the handlers that read the raw
/// body (the pages, userinfo, logout), whose rejection by axum is plain text.
async fn payload_too_large_as_json(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return OAuthError::invalid_request("request body too large")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response();
    }
    response
}

async fn not_found() -> OAuthError {
    OAuthError::not_found("no such endpoint")
}

async fn method_not_allowed() -> OAuthError {
    OAuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        "method not allowed",
    )
}
