//! A short-lived, per-node copy of resource (API) registrations by identifier, so a token
//! request or an introspection does not read and re-parse the same resource row each time
//! (`cache.rs` keeps the copies).
//!
//! The bound is `clients.cache_ttl` seconds, the same as for clients: a resource changed or
//! deleted on any node is seen everywhere within it, and at once on the node that changed it
//! (`invalidate_all`). Unknown identifiers are not remembered, so a new registration works
//! everywhere immediately.

use std::sync::Arc;

use crate::cache::ReadThrough;
use crate::error::OAuthError;
use crate::oauth::resource::Resource;
use crate::store::Store;

pub struct ResourceCache {
    copies: ReadThrough<Resource>,
}

impl ResourceCache {
    /// `ttl_seconds` 0: every lookup reads the store.
    pub fn new(ttl_seconds: u64) -> Self {
        ResourceCache {
            copies: ReadThrough::new(ttl_seconds),
        }
    }

    /// The registered resources among `identifiers`, in their order; unknown ones are left
    /// out. Only the identifiers without a fresh copy are read from the store.
    pub async fn by_identifiers(
        &self,
        store: &Store,
        identifiers: &[String],
        now: i64,
    ) -> Result<Vec<Arc<Resource>>, OAuthError> {
        let mut found = Vec::with_capacity(identifiers.len());
        let mut missing = Vec::new();
        for identifier in identifiers {
            match self.copies.fresh(identifier, now) {
                Some(hit) => found.push(Some(hit)),
                None => {
                    found.push(None);
                    missing.push(identifier.clone());
                }
            }
        }
        if !missing.is_empty() {
            let generation = self.copies.generation();
            for row in store.resources_by_identifiers(&missing).await? {
                let resource = Arc::new(Resource::from_row(row)?);
                self.copies
                    .put(&resource.identifier, now, &resource, generation);
                let at = identifiers.iter().position(|i| *i == resource.identifier);
                if let Some(slot) = at.and_then(|i| found.get_mut(i)) {
                    *slot = Some(resource);
                }
            }
            for identifier in &missing {
                if !found.iter().flatten().any(|r| r.identifier == *identifier) {
                    // Gone from the store: drop any stale copy too.
                    self.copies.forget(identifier);
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Drops this node's copies after a resource changed: an update may rename an identifier,
    /// so no single key names everything it touched.
    pub fn invalidate_all(&self) {
        self.copies.invalidate_all();
    }
}
