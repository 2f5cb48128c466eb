//! Portcullis: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! `app(state)` is the whole HTTP surface; `run(listener, state, shutdown)` serves it. Tests
//! build the real app on `127.0.0.1:0` the same way `main` does. The KEK's sources are
//! `keys::kek_file`.

pub mod admin;
pub mod audit;
pub mod cache;
pub mod clock;
pub mod config;
pub mod error;
/// Entry points for `fuzz/` and the property tests; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod grants;
pub mod http;
pub mod keys;
pub mod log_batch;
pub mod names;
pub mod oauth;
pub mod pages;
pub mod proxy;
pub mod rate_limit;
pub mod secret;
pub mod session;
pub mod state;
pub mod store;
pub mod tasks;
pub mod throttle;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use config::Config;
use keys::kek_file::KekSource;
pub use keys::kek_file::resolve_kek;
use state::AppState;
use store::Store;

pub fn app(state: Arc<AppState>) -> Router {
    http::router(state)
}

/// Connects to the configured database, applies migrations and loads (or generates) keys.
/// Returns the state and warnings for the operator.
pub async fn bootstrap(config: Config) -> anyhow::Result<(Arc<AppState>, Vec<String>)> {
    let store = Store::connect_with(&config.database_url, &config.database).await?;
    store.migrate().await?;
    let mut warnings = Vec::new();
    if let KekSource::GeneratedFile(path) = KekSource::of(&config)
        && let Some(done) = keys::kek_file::finish_interrupted_rotation(&store, &path).await?
    {
        warnings.push(done);
    }
    let (kek, more) = resolve_kek(&config)?;
    warnings.extend(more);
    let state = AppState::new(config, store, kek).await?;
    Ok((state, warnings))
}

/// Serves until `shutdown` resolves, then drains in-flight requests. Reloads the key ring on
/// a timer so rotations made by other nodes take effect here, (unless
/// `housekeeping.enabled` is off) purges expired rows on another (`tasks::housekeeping`),
/// and with `metrics.bind` serves `/metrics` there too.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = http::metrics::bind_separately(&state)
        .await?
        .map(tokio::spawn);
    let reload = tokio::spawn(reload_keys(state.clone()));
    let housekeeping = state
        .config
        .housekeeping
        .enabled
        .then(|| tokio::spawn(tasks::housekeeping(state.clone())));
    let result = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    reload.abort();
    // A pass cut short here loses nothing: each batch is its own statement.
    if let Some(task) = housekeeping {
        task.abort();
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    result
}

async fn reload_keys(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(state.config.keys.reload_interval));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = state.keys.reload(&state.store, state.now()).await {
            tracing::warn!(error = %e, "key ring reload failed; keeping the keys loaded before");
        }
    }
}
