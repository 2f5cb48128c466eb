//! `portcullis serve` (the default): the whole server state, then HTTP until a signal.

use super::Context;

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let state = ctx.state().await?;
    let listener = tokio::net::TcpListener::bind(state.config.bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "Portcullis listening on http://{addr} — issuer {}, {} database",
        state.issuer,
        state.store.backend()
    );
    tracing::info!(
        "discovery: {}/.well-known/openid-configuration",
        state.issuer
    );
    if state.bootstrap_admin_hash.is_none() {
        tracing::info!(
            "admin API: create a token with `portcullis admin-token create` \
             (from a checkout: `cargo run --release -- admin-token create`), \
             or set PORTCULLIS_ADMIN_TOKEN"
        );
    }
    portcullis::run(listener, state.clone(), shutdown_signal()).await?;
    state.store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
