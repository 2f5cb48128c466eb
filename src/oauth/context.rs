//! What protocol code receives: the store, the keys, the node's caches, the config it reads,
//! the issuer and the time. Nothing of the HTTP edge (pages, rate limits, the discovery
//! document) is in here, so `oauth/` and `grants/` never see the server's whole state.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::oauth::client_cache::ClientCache;
use crate::oauth::deny_list::DenyListCache;
use crate::oauth::remote_jwks::RemoteJwks;
use crate::oauth::resource_cache::ResourceCache;
use crate::store::{Store, StoreError};
use crate::users::Passwords;

pub struct ProtocolContext {
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
    pub remote_jwks: RemoteJwks,
    /// Delivers back-channel Logout Tokens (`oauth::backchannel_logout`): bounded, no redirects.
    pub backchannel_http: reqwest::Client,
    pub clock: Clock,
    /// Password hashing and verification, on this server's hashing threads.
    pub passwords: Passwords,
    /// Secrets of unknown clients checked against the dummy digest (`oauth::client_auth`).
    unknown_client_checks: AtomicU64,
}

impl ProtocolContext {
    /// The context over a migrated store and loaded keys; the caches start empty.
    pub fn new(config: Config, store: Store, keys: KeyRing, clock: Clock) -> Self {
        ProtocolContext {
            issuer: config.issuer(),
            clients: ClientCache::new(config.clients.cache_ttl),
            resources: ResourceCache::new(config.clients.cache_ttl),
            deny_list: DenyListCache::new(config.tokens.revocation_cache_ttl),
            config,
            store,
            keys,
            remote_jwks: RemoteJwks::new(),
            backchannel_http: crate::oauth::backchannel_logout::http_client(),
            clock,
            passwords: Passwords::new(),
            unknown_client_checks: AtomicU64::new(0),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The longest an access token issued now can live: config or any resource's own setting.
    pub async fn longest_access_token_lifetime(&self) -> Result<u64, StoreError> {
        self.store
            .longest_access_token_lifetime(self.config.tokens.access_token_lifetime)
            .await
    }

    /// How many unknown clients' secrets this server checked against the dummy digest: the
    /// work that makes an unknown client cost what a wrong secret costs.
    pub fn unknown_client_checks(&self) -> u64 {
        self.unknown_client_checks.load(Ordering::Relaxed)
    }

    pub(crate) fn count_unknown_client_check(&self) {
        self.unknown_client_checks.fetch_add(1, Ordering::Relaxed);
    }
}
