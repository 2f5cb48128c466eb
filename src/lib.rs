//! Portcullis: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! `app(state)` is the whole HTTP surface; `run(listener, state, shutdown)` serves it. Tests
//! build the real app on `127.0.0.1:0` the same way `main` does.

pub mod admin;
pub mod config;
pub mod error;
/// Entry points for `fuzz/` and the property tests; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod grants;
pub mod http;
pub mod keys;
pub mod names;
pub mod oauth;
pub mod pages;
pub mod proxy;
pub mod secret;
pub mod session;
pub mod state;
pub mod store;
pub mod tasks;
pub mod throttle;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use config::Config;
use keys::kek::Kek;
use state::AppState;
use store::Store;

pub fn app(state: Arc<AppState>) -> Router {
    http::router(state)
}

/// Connects to the configured database, applies migrations and loads (or generates) keys.
/// Returns the state and warnings for the operator.
pub async fn bootstrap(config: Config) -> anyhow::Result<(Arc<AppState>, Vec<String>)> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let (kek, warnings) = resolve_kek(&config)?;
    let state = AppState::new(config, store, kek).await?;
    Ok((state, warnings))
}

/// The key-encryption key: from config, or for an embedded SQLite database a random one kept
/// in a 0600 file beside it (created on first start), or for an in-memory database a fresh one.
pub fn resolve_kek(config: &Config) -> anyhow::Result<(Kek, Vec<String>)> {
    if let Some(k) = &config.key_encryption_key {
        return Ok((Kek::from_base64(k.expose())?, Vec::new()));
    }
    let Some(path) = sqlite_kek_path(&config.database_url) else {
        return Ok((Kek::from_bytes(&secret::random_bytes::<32>())?, Vec::new()));
    };
    let warning = format!(
        "signing keys are encrypted with the generated key in {}; set key_encryption_key \
         (PORTCULLIS_KEY_ENCRYPTION_KEY) in production",
        path.display()
    );
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok((Kek::from_base64(&text)?, vec![warning]));
    }
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret::random_bytes::<32>());
    write_private_file(&path, &encoded)?;
    Ok((Kek::from_base64(&encoded)?, vec![warning]))
}

fn sqlite_kek_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    if file.is_empty() || file == ":memory:" || rest.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(format!("{file}.kek")))
}

fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_file_sits_beside_the_sqlite_file() {
        assert_eq!(
            sqlite_kek_path("sqlite://portcullis.db"),
            Some(PathBuf::from("portcullis.db.kek"))
        );
        assert_eq!(
            sqlite_kek_path("sqlite:///var/lib/p.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/p.db.kek"))
        );
        assert_eq!(sqlite_kek_path("sqlite::memory:"), None);
        assert_eq!(sqlite_kek_path("postgres://x"), None);
    }
}
