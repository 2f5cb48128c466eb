//! A short-lived, per-node copy of client registrations and their live secret digests, so the
//! token endpoint does not read and re-parse the same client row on every request
//! (`cache.rs` keeps the copies).
//!
//! The bound is `clients.cache_ttl` seconds: after that every node reads the store again, so a
//! client deleted, re-registered or given a new secret on any node is seen everywhere within
//! it. The node that makes the change drops its own copy at once (`invalidate`). Unknown clients are not remembered, so a new registration works everywhere
//! immediately. Each secret keeps its expiry, so a secret past its grace period stops
//! authenticating the second it expires, cached or not.

use std::sync::Arc;

use crate::cache::ReadThrough;
use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::store::{LiveSecret, Store};

/// A client and the digests of its secrets as read from the store.
#[derive(Debug)]
pub struct CachedClient {
    pub client: Client,
    pub secrets: Vec<LiveSecret>,
}

impl CachedClient {
    /// Digests of the secrets that authenticate at `now`.
    pub fn live_secret_hashes(&self, now: i64) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .filter(move |s| s.is_live(now))
            .map(|s| s.hash.as_str())
    }
}

pub struct ClientCache {
    copies: ReadThrough<CachedClient>,
}

impl ClientCache {
    /// `ttl_seconds` 0: every lookup reads the store.
    pub fn new(ttl_seconds: u64) -> Self {
        ClientCache {
            copies: ReadThrough::new(ttl_seconds),
        }
    }

    /// The client `client_id` at `now`: from the copy if it was read less than `ttl` seconds
    /// ago, else from the store. `None`: no such client.
    pub async fn get(
        &self,
        store: &Store,
        client_id: &str,
        now: i64,
    ) -> Result<Option<Arc<CachedClient>>, OAuthError> {
        if let Some(hit) = self.copies.fresh(client_id, now) {
            return Ok(Some(hit));
        }
        self.reload(store, client_id, now).await
    }

    /// The client read from the store now, whatever the copy holds; the copy is replaced.
    pub async fn reload(
        &self,
        store: &Store,
        client_id: &str,
        now: i64,
    ) -> Result<Option<Arc<CachedClient>>, OAuthError> {
        let generation = self.copies.generation();
        let Some((row, secrets)) = store.get_client_with_secrets(client_id, now).await? else {
            // Gone: forget the copy too, so a deleted client is refused from here on.
            self.copies.forget(client_id);
            return Ok(None);
        };
        let client = Client::from_row(row).map_err(|e| {
            OAuthError::server_error().with_detail(format!("client {client_id}: {e}"))
        })?;
        let cached = Arc::new(CachedClient { client, secrets });
        self.copies.put(client_id, now, &cached, generation);
        Ok(Some(cached))
    }

    /// Drops this node's copy of `client_id` (after the store has the change).
    pub fn invalidate(&self, client_id: &str) {
        self.copies.invalidate(client_id);
    }
}
