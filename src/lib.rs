//! Portcullis: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! `app(state)` is the whole HTTP surface; `run(listener, state, shutdown)` serves it. Tests
//! build the real app on `127.0.0.1:0` the same way `main` does. `resolve_kek` picks the
//! key-encryption key from the config, or from `keys::kek_file`'s generated file.

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
pub mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use config::Config;
use keys::KeyRing;
use keys::kek::Kek;
use keys::kek_file::{self, KekSource};
use state::AppState;
use store::Store;

pub fn app(state: Arc<AppState>) -> Router {
    http::router(state)
}

/// Connects to the configured database, applies migrations and loads (or generates) keys.
/// Returns the state and warnings for the operator.
pub async fn bootstrap(config: Config) -> anyhow::Result<(Arc<AppState>, Vec<String>)> {
    let store = open_store(&config).await?;
    let (kek, warnings) = unlock_keys(&config, &store).await?;
    let state = AppState::new(config, store, kek).await?;
    Ok((state, warnings))
}

/// The configured database, with every migration applied.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect_with(&config.database_url, &config.database).await?;
    store.migrate().await?;
    Ok(store)
}

/// The KEK for `store`'s signing keys, after settling a `keys rotate-kek` that was cut short.
/// Returns warnings for the operator.
pub async fn unlock_keys(config: &Config, store: &Store) -> anyhow::Result<(Kek, Vec<String>)> {
    let mut warnings = Vec::new();
    if let KekSource::GeneratedFile(path) = kek_source(config)
        && let Some(done) = kek_file::finish_interrupted_rotation(store, &path).await?
    {
        warnings.push(done);
    }
    let (kek, more) = resolve_kek(config)?;
    warnings.extend(more);
    Ok((kek, warnings))
}

/// The signing key ring over a migrated `store` (generating keys on first start), for the
/// commands that read or write keys without serving. Returns warnings for the operator.
pub async fn load_keys(
    config: &Config,
    store: &Store,
    now: i64,
) -> anyhow::Result<(KeyRing, Vec<String>)> {
    let (kek, warnings) = unlock_keys(config, store).await?;
    Ok((KeyRing::load_or_generate(store, kek, now).await?, warnings))
}

/// Where this config's KEK comes from.
pub fn kek_source(config: &Config) -> KekSource {
    KekSource::of(config.key_encryption_key.is_some(), &config.database_url)
}

/// The configured KEK with its old one, if any; `None` when the config sets neither.
pub fn configured_kek(config: &Config) -> Result<Option<Kek>, keys::KeyError> {
    let Some(key) = &config.key_encryption_key else {
        return Ok(None);
    };
    let kek = Kek::from_bytes(key.expose())?;
    Ok(Some(match &config.key_encryption_key_old {
        Some(old) => kek.with_old(Kek::from_bytes(old.expose())?),
        None => kek,
    }))
}

/// The KEK for this config, creating the generated file on first start. Returns warnings for
/// the operator.
pub fn resolve_kek(config: &Config) -> anyhow::Result<(Kek, Vec<String>)> {
    if let Some(kek) = configured_kek(config)? {
        return Ok((kek, Vec::new()));
    }
    match kek_source(config) {
        KekSource::GeneratedFile(path) => {
            let (kek, warning) = kek_file::load_or_create(&path)?;
            Ok((kek, vec![warning]))
        }
        _ => Ok((
            Kek::from_bytes(&crate::secret::random_bytes::<32>())?,
            Vec::new(),
        )),
    }
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
