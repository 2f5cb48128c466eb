//! A per-node, short-lived copy of deny-list answers for access tokens: whether a token's
//! `jti` or grant is revoked or its subject disabled (`Store::is_revoked`). A resource server
//! introspecting the same token on every call then costs one store read per token per second
//! instead of one per call.
//!
//! The bound is `tokens.revocation_cache_ttl` seconds (1 by default; `cache.rs` keeps the
//! copies): a revocation made on another node reaches this node within it. RFC 7009 §2.2
//! allows such a propagation delay ("implementations should minimize that window"). Every
//! revocation made on this node (the revocation endpoint, a code or refresh-token replay, a
//! user disabled or deleted) drops all of this node's copies after its store write, so the
//! node that revoked is exact at once.

use std::sync::Arc;

use crate::cache::ReadThrough;
use crate::store::{Store, StoreError};

pub struct DenyListCache {
    copies: ReadThrough<bool>,
}

impl DenyListCache {
    /// `ttl_seconds` 0: every check reads the store.
    pub fn new(ttl_seconds: u64) -> Self {
        DenyListCache {
            copies: ReadThrough::new(ttl_seconds),
        }
    }

    /// Whether the token with this `jti`, grant and subject is dead: on the deny-list, or its
    /// subject is a disabled user.
    pub async fn is_revoked(
        &self,
        store: &Store,
        jti: &str,
        grant_id: Option<&str>,
        subject: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        // Fields joined with a character none of them holds (ids and subjects are printable).
        let key = format!("{jti}\n{}\n{subject}", grant_id.unwrap_or_default());
        if let Some(hit) = self.copies.fresh(&key, now) {
            return Ok(*hit);
        }
        let generation = self.copies.generation();
        let revoked = store.is_revoked(jti, grant_id, subject).await?;
        self.copies.put(&key, now, &Arc::new(revoked), generation);
        Ok(revoked)
    }

    /// Drops every copy after this node revoked something.
    pub fn revoked_here(&self) {
        self.copies.invalidate_all();
    }
}
