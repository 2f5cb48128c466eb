//! Everything a request needs, built once at start and shared: the protocol's narrow context
//! (`oauth::context`) plus what only the HTTP edge uses.

use std::ops::Deref;
use std::sync::Arc;

pub use crate::clock::Clock;
use crate::config::Config;
use crate::grants::GrantRegistry;
use crate::keys::KeyRing;
use crate::keys::kek::Kek;
use crate::oauth::context::ProtocolContext;
use crate::pages::Templates;
use crate::secret::sha256_hex;
use crate::store::Store;

pub struct AppState {
    /// What protocol code receives; `AppState` derefs to it, so `state.store` reads it.
    pub protocol: ProtocolContext,
    pub grants: GrantRegistry,
    /// This node's side of the token endpoint's per-client rate limit (`rate_limit.rs`).
    pub token_rate: crate::rate_limit::TokenRateLimiter,
    /// SHA-256 of the bootstrap admin token, if one is configured.
    pub bootstrap_admin_hash: Option<String>,
    /// The discovery document, serialised once: nothing in it changes while running.
    pub discovery: Arc<[u8]>,
    /// `http.trusted_proxies`, parsed when the config was read.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// The page templates, parsed once at start (built-in, or overridden from `templates_dir`).
    pub templates: Templates,
}

impl Deref for AppState {
    type Target = ProtocolContext;

    fn deref(&self) -> &ProtocolContext {
        &self.protocol
    }
}

impl AppState {
    /// Builds the state over a migrated store: loads (or on first start generates) keys.
    pub async fn new(config: Config, store: Store, kek: Kek) -> anyhow::Result<Arc<AppState>> {
        let clock = Clock::default();
        let templates = Templates::load(config.templates_dir.as_deref())?;
        let keys = KeyRing::load_or_generate(&store, kek, clock.now()).await?;
        let mut state = AppState {
            discovery: Arc::from(&b"{}"[..]),
            grants: GrantRegistry::from_config(&config),
            bootstrap_admin_hash: config.admin_token.as_ref().map(|t| sha256_hex(t.expose())),
            trusted_proxies: config.http.trusted_proxies.clone(),
            token_rate: Default::default(),
            templates,
            protocol: ProtocolContext::new(config, store, keys, clock),
        };
        state.discovery = serde_json::to_vec(&crate::http::discovery::document(&state))?.into();
        Ok(Arc::new(state))
    }
}
