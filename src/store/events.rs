//! Security events in `audit_events` (`src/audit.rs`): written one at a time outside any
//! other transaction (admin changes write theirs inside the change's transaction, `audited`),
//! read back with filters and a keyset cursor, and purged after the retention period.

use super::admin::insert_audit;
use super::{AuditEvent, Result, Store, on_pool};

/// What `GET /admin/events` and `portcullis events` ask for. Every filter is optional; the
/// page is newest first, `(at, id)` descending, and `before` is the last event of the previous
/// page.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// `at >= since`.
    pub since: Option<i64>,
    /// `at < until`.
    pub until: Option<i64>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// Only events older than this one (`at`, `id`) in the page order.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl Store {
    /// Records one event on its own (a security event has no change to share a transaction
    /// with).
    pub async fn insert_audit_event(&self, event: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => insert_audit(pool, event).await)?;
        Ok(())
    }

    /// Events matching `filter`, newest first. Each optional filter is `($n IS NULL OR …)`,
    /// so the SQL text is one for both dialects; the indexes of migration 0011 serve the
    /// equality filters.
    pub async fn find_audit_events(&self, filter: &EventFilter) -> Result<Vec<AuditEvent>> {
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AuditEvent>(
            "SELECT id, at, actor, action, target, detail FROM audit_events \
             WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) \
             AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR actor = $4) \
             AND ($5 IS NULL OR target = $5) \
             AND ($6 IS NULL OR at < $6 OR (at = $6 AND id < $7)) \
             ORDER BY at DESC, id DESC LIMIT $8",
        )
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.action.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.target.as_deref())
        .bind(before_at)
        .bind(before_id)
        .bind(filter.limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Deletes at most `limit` events older than `before` (housekeeping's retention).
    pub async fn delete_old_audit_events(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
             WHERE at < $1 LIMIT $2)",
            &[before, limit],
        )
        .await
    }
}
