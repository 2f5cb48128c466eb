//! A per-node, short-lived copy of rows read from the store, keyed by a string: the shared
//! mechanism behind the client and resource caches (`oauth/client_cache.rs`,
//! `oauth/resource_cache.rs`).
//!
//! Nodes share nothing but the database (ARCHITECTURE.md), so a copy may be stale. The bound
//! is the TTL in seconds (by the `AppState` clock): after it every node reads the store again.
//! The node that makes a change drops its own copy at once (`invalidate`, `invalidate_all`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Most entries a cache keeps; past this, expired copies are dropped, and all of them when
/// live ones still fill half of it.
const MAX_ENTRIES: usize = 10_000;

struct Entry<V> {
    /// The clock reading (Unix seconds) when the row was read.
    read_at: i64,
    value: Arc<V>,
}

pub struct ReadThrough<V> {
    ttl: i64,
    entries: RwLock<HashMap<String, Entry<V>>>,
    /// Bumped by every invalidation: a read that started before a change must not put its
    /// (possibly older) row back after the change dropped the copy.
    generation: AtomicU64,
}

impl<V> ReadThrough<V> {
    /// `ttl_seconds` 0: nothing is kept, every lookup reads the store.
    pub fn new(ttl_seconds: u64) -> Self {
        ReadThrough {
            ttl: i64::try_from(ttl_seconds).unwrap_or(i64::MAX),
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The copy of `key` if it was read less than the TTL ago.
    pub fn fresh(&self, key: &str, now: i64) -> Option<Arc<V>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(key)?;
        // A clock moved backwards (tests) does not make a copy live longer.
        (0..self.ttl)
            .contains(&(now - entry.read_at))
            .then(|| Arc::clone(&entry.value))
    }

    /// Read before going to the store; pass it to `put` with what the store returned.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `value` for `key`, unless an invalidation happened since `generation` was read.
    pub fn put(&self, key: &str, now: i64, value: &Arc<V>, generation: u64) {
        if self.ttl <= 0 {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // Checked under the write lock, which the invalidations also take after bumping it.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            let ttl = self.ttl;
            entries.retain(|_, e| (0..ttl).contains(&(now - e.read_at)));
            // Still over half full: start afresh, so the scan above runs at most once per
            // MAX_ENTRIES / 2 new entries.
            if entries.len() >= MAX_ENTRIES / 2 {
                entries.clear();
            }
        }
        entries.insert(
            key.to_string(),
            Entry {
                read_at: now,
                value: Arc::clone(value),
            },
        );
    }

    /// Drops the copy of `key` without ruling out reads in flight (the store said it is gone).
    pub fn forget(&self, key: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }

    /// Drops this node's copy of `key` after the store has a change to it.
    pub fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.forget(key);
    }

    /// Drops every copy after a change the keys cannot name (a renamed identifier).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_lives_for_the_ttl_only() {
        let cache = ReadThrough::new(5);
        let generation = cache.generation();
        cache.put("a", 100, &Arc::new(1), generation);
        assert_eq!(cache.fresh("a", 104).as_deref(), Some(&1));
        assert_eq!(cache.fresh("a", 105), None);
        // A clock moved backwards does not revive it either.
        assert_eq!(cache.fresh("a", 99), None);
    }

    #[test]
    fn a_read_that_began_before_an_invalidation_is_not_kept() {
        let cache = ReadThrough::new(5);
        let before = cache.generation();
        cache.invalidate("a");
        cache.put("a", 100, &Arc::new(1), before);
        assert_eq!(cache.fresh("a", 100), None);
        let before = cache.generation();
        cache.invalidate_all();
        cache.put("b", 100, &Arc::new(2), before);
        assert_eq!(cache.fresh("b", 100), None);
    }

    #[test]
    fn ttl_zero_keeps_nothing() {
        let cache = ReadThrough::new(0);
        let generation = cache.generation();
        cache.put("a", 100, &Arc::new(1), generation);
        assert_eq!(cache.fresh("a", 100), None);
    }
}
