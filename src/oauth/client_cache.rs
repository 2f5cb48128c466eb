//! A short-lived, per-node copy of client registrations and their live secret digests, so the
//! token endpoint does not read and re-parse the same client row on every request.
//!
//! Nodes share nothing but the database (ARCHITECTURE.md), so a copy may be stale. The bound
//! is `clients.cache_ttl` seconds (by the `AppState` clock): after that every node reads the
//! store again, so a client deleted, re-registered or given a new secret on any node is seen
//! everywhere within it. The node that makes the change drops its own copy at once
//! (`invalidate`). Unknown clients are not remembered, so a new registration works everywhere
//! immediately. Each secret keeps its expiry, so a secret past its grace period stops
//! authenticating the second it expires, cached or not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::store::{LiveSecret, Store};

/// Most clients a node keeps; past this, expired copies are dropped first, then all.
const MAX_ENTRIES: usize = 10_000;

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

struct Entry {
    /// The clock reading (Unix seconds) when the row was read.
    read_at: i64,
    client: Arc<CachedClient>,
}

pub struct ClientCache {
    ttl: i64,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every `invalidate`: a read that started before a change must not put its
    /// (possibly older) row back after the change dropped the copy.
    generation: AtomicU64,
}

impl ClientCache {
    /// `ttl_seconds` 0: every lookup reads the store.
    pub fn new(ttl_seconds: u64) -> Self {
        ClientCache {
            ttl: i64::try_from(ttl_seconds).unwrap_or(i64::MAX),
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
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
        if let Some(hit) = self.fresh(client_id, now) {
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
        let generation = self.generation.load(Ordering::Acquire);
        let Some((row, secrets)) = store.get_client_with_secrets(client_id, now).await? else {
            // Gone: forget the copy too, so a deleted client is refused from here on.
            self.forget(client_id);
            return Ok(None);
        };
        let client = Client::from_row(row).map_err(|e| {
            OAuthError::server_error().with_detail(format!("client {client_id}: {e}"))
        })?;
        let cached = Arc::new(CachedClient { client, secrets });
        if self.ttl > 0 {
            self.put(client_id, now, &cached, generation);
        }
        Ok(Some(cached))
    }

    /// Drops this node's copy of `client_id` (after the store has the change).
    pub fn invalidate(&self, client_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.forget(client_id);
    }

    fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(client_id);
        }
    }

    fn fresh(&self, client_id: &str, now: i64) -> Option<Arc<CachedClient>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(client_id)?;
        // A clock moved backwards (tests) does not make a copy live longer.
        let age = now - entry.read_at;
        (0..self.ttl)
            .contains(&age)
            .then(|| Arc::clone(&entry.client))
    }

    fn put(&self, client_id: &str, now: i64, client: &Arc<CachedClient>, generation: u64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // Checked under the write lock, which `invalidate` also takes after bumping it.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(client_id) {
            let ttl = self.ttl;
            entries.retain(|_, e| (0..ttl).contains(&(now - e.read_at)));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            client_id.to_string(),
            Entry {
                read_at: now,
                client: Arc::clone(client),
            },
        );
    }
}
