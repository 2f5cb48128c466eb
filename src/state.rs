//! Everything a request needs, built once at start and shared: no globals.

use std::sync::Arc;

pub use crate::clock::Clock;
use crate::config::Config;
use crate::grants::GrantRegistry;
use crate::keys::KeyRing;
use crate::keys::kek::Kek;
use crate::oauth::client_cache::ClientCache;
use crate::oauth::deny_list::DenyListCache;
use crate::oauth::remote_jwks::RemoteJwks;
use crate::oauth::resource_cache::ResourceCache;
use crate::pages::Templates;
use crate::secret::sha256_hex;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    /// `config.issuer()`, resolved once.
    pub issuer: String,
    pub store: Store,
    /// Client registrations read through a copy kept `clients.cache_ttl` seconds.
    pub clients: ClientCache,
    /// Resource registrations by identifier, read through a copy kept as long.
    pub resources: ResourceCache,
    /// Deny-list answers for access tokens, kept `tokens.revocation_cache_ttl` seconds.
    pub deny_list: DenyListCache,
    pub keys: KeyRing,
    pub grants: GrantRegistry,
    pub remote_jwks: RemoteJwks,
    /// This node's side of the token endpoint's per-client rate limit (`rate_limit.rs`).
    pub token_rate: crate::rate_limit::TokenRateLimiter,
    pub clock: Clock,
    /// SHA-256 of the bootstrap admin token, if one is configured.
    pub bootstrap_admin_hash: Option<String>,
    /// The discovery document, serialised once: nothing in it changes while running.
    pub discovery: Arc<[u8]>,
    /// Delivers back-channel Logout Tokens (`oauth::backchannel_logout`): bounded, no redirects.
    pub backchannel_http: reqwest::Client,
    /// `http.trusted_proxies`, parsed when the config was read.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// The page templates, parsed once at start (built-in, or overridden from `templates_dir`).
    pub templates: Templates,
    /// Password hashing and verification, on this server's hashing threads.
    pub passwords: crate::users::Passwords,
}

impl AppState {
    /// Builds the state over a migrated store: loads (or on first start generates) keys.
    pub async fn new(config: Config, store: Store, kek: Kek) -> anyhow::Result<Arc<AppState>> {
        let clock = Clock::default();
        let templates = Templates::load(config.templates_dir.as_deref())?;
        let keys = KeyRing::load_or_generate(&store, kek, clock.now()).await?;
        let mut state = AppState {
            discovery: Arc::from(&b"{}"[..]),
            issuer: config.issuer(),
            grants: GrantRegistry::from_config(&config),
            bootstrap_admin_hash: config.admin_token.as_ref().map(|t| sha256_hex(t.expose())),
            trusted_proxies: config.http.trusted_proxies.clone(),
            clients: ClientCache::new(config.clients.cache_ttl),
            resources: ResourceCache::new(config.clients.cache_ttl),
            deny_list: DenyListCache::new(config.tokens.revocation_cache_ttl),
            config,
            store,
            keys,
            remote_jwks: RemoteJwks::new(),
            token_rate: Default::default(),
            backchannel_http: crate::oauth::backchannel_logout::http_client(),
            clock,
            templates,
            passwords: crate::users::Passwords::new(),
        };
        state.discovery = serde_json::to_vec(&crate::http::discovery::document(&state))?.into();
        Ok(Arc::new(state))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The longest an access token issued now can live: config or any resource's own setting.
    pub async fn longest_access_token_lifetime(&self) -> Result<u64, crate::store::StoreError> {
        let by_resource = self
            .store
            .max_resource_token_lifetime()
            .await?
            .unwrap_or(0)
            .max(0) as u64;
        Ok(by_resource.max(self.config.tokens.access_token_lifetime))
    }
}
