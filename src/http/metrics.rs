//! Prometheus metrics: the text exposition format at `/metrics`, on the main port or
//! on `metrics.bind`, plus the layer that counts and times every HTTP request.
//!
//! The code records through the `metrics` facade (`counter!`, `histogram!`, `gauge!`); this
//! module installs the Prometheus recorder once per process and renders it on request. There is
//! no listener of the exporter's own: the route is ours, behind our layers and our bearer check.
//! Labels never carry secrets, tokens or usernames: routes are templates (`/admin/users/{id}`),
//! and the only identity in any label is a `client_id`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::error::OAuthError;
use crate::names::path;
use crate::secret::{constant_time_eq, sha256_hex};
use crate::state::AppState;
use crate::store::Store;

/// The version of the text format Prometheus asks for by default.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const REQUESTS: &str = "portcullis_http_requests_total";
const DURATION: &str = "portcullis_http_request_duration_seconds";

/// Seconds: from a cached discovery document to a slow argon2 sign-in under load.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder. `metrics` allows one global recorder per process, and one process
/// may run several servers (the tests do), so the first to need it installs it.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), &DURATION_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first; /metrics then shows nothing
        // recorded, which the log explains.
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!("metrics: another recorder is installed, /metrics stays empty: {e}");
        }
        handle
    })
}

/// Installs the recorder when metrics are enabled, and routes `/metrics` here unless
/// `metrics.bind` serves it elsewhere. Disabled, nothing is routed: `/metrics` is an unknown path.
pub fn routes(state: &AppState) -> Router<Arc<AppState>> {
    let config = &state.config.metrics;
    if !config.enabled {
        return Router::new();
    }
    install();
    if config.bind.is_some() {
        return Router::new();
    }
    Router::new().route(path::METRICS, get(scrape))
}

/// With `metrics.bind` set (and metrics enabled): binds it now, so a bad or busy address fails
/// the start, and returns the server for the caller to spawn.
pub async fn bind_separately(
    state: &Arc<AppState>,
) -> std::io::Result<Option<impl Future<Output = std::io::Result<()>> + Send + 'static>> {
    let config = &state.config.metrics;
    let Some(addr) = config.bind.filter(|_| config.enabled) else {
        return Ok(None);
    };
    install();
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(
        "metrics on http://{}{}",
        listener.local_addr()?,
        path::METRICS
    );
    let app = Router::new()
        .route(path::METRICS, get(scrape))
        .fallback(|| async { OAuthError::not_found("no such endpoint") })
        .with_state(state.clone());
    Ok(Some(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }))
}

/// The layer on every route: counts requests by method, route template and status, and times
/// them. Unrouted requests are `unmatched`, so a scan of random paths adds no series.
pub async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if !state.config.metrics.enabled {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Standard methods by name; anything else is `other`, so made-up methods add no series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`: the bearer check when a token is configured, then the gauges read now, then
/// the text format.
async fn scrape(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        // Digests compared, so the comparison takes the same time whatever the length.
        let allowed = presented.is_some_and(|token| {
            constant_time_eq(&sha256_hex(token), &sha256_hex(expected.expose()))
        });
        if !allowed {
            return OAuthError::invalid_token("metrics token required")
                .with_www_authenticate("Bearer realm=\"portcullis-metrics\"")
                .into_response();
        }
    }
    record_pool_use(&state.store);
    record_key_ages(&state).await;
    let handle = install();
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The database pool of this node: open connections and idle ones.
fn record_pool_use(store: &Store) {
    let (size, idle) = match store {
        Store::Sqlite(pool) => (pool.size(), pool.num_idle()),
        Store::Postgres(pool) => (pool.size(), pool.num_idle()),
    };
    let backend = store.backend();
    metrics::gauge!("portcullis_db_pool_connections", "backend" => backend).set(f64::from(size));
    metrics::gauge!("portcullis_db_pool_idle_connections", "backend" => backend).set(idle as f64);
}

/// Seconds since the signing key now active for each algorithm was created: an operator alerts
/// when rotation is overdue. Read from the store (`KeyRing::describe`), so a rotation made on
/// another node shows at once. A store failure skips the gauges; the scrape still answers.
async fn record_key_ages(state: &AppState) {
    let now = state.now();
    let rows = match state.store.list_signing_keys(now).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("metrics: cannot read the signing keys: {e}");
            return;
        }
    };
    for key in state.keys.describe(&rows, now) {
        if key.status == "active" {
            metrics::gauge!("portcullis_signing_key_age_seconds", "alg" => key.alg)
                .set((now - key.created_at) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").expect("method")),
            "other"
        );
    }
}
