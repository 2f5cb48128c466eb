//! Admin API tokens (SHA-256 digests) and the audit trail of admin changes.

use serde_json::Value;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Type};

use super::{Result, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminTokenRow {
    pub id: String,
    pub token_hash: String,
    pub description: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// One admin change. `detail` must never hold a secret.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// JSON text in the store, a JSON object when shown.
    #[serde(serialize_with = "as_json")]
    #[schema(value_type = Object)]
    pub detail: String,
}

fn as_json<S: serde::Serializer>(text: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::Serialize;
    serde_json::from_str::<Value>(text)
        .unwrap_or(Value::Null)
        .serialize(s)
}

impl AuditEvent {
    pub fn new(now: i64, actor: &str, action: &str, target: &str, detail: Value) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Writes one audit event through `executor`: a pool (an event on its own) or the connection
/// of the transaction whose change it records (`audited`).
pub(super) async fn insert_audit<'c, DB, X>(executor: X, e: &AuditEvent) -> sqlx::Result<()>
where
    DB: Database,
    X: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&e.id)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.detail)
    .execute(executor)
    .await?;
    Ok(())
}

/// What the write inside `audited` reports: its result, and whether it changed anything
/// worth its audit event.
pub(super) enum Wrote<T> {
    /// The change happened: its event is written in the same transaction.
    Changed(T),
    /// Nothing changed (no row matched): the transaction commits without the event.
    Unchanged(T),
}

impl Wrote<bool> {
    /// A write whose result is whether it changed a row (one row updated or deleted, a
    /// client that exists): `true` is `Changed`.
    pub(super) fn changed_if(changed: bool) -> Self {
        if changed {
            Wrote::Changed(true)
        } else {
            Wrote::Unchanged(false)
        }
    }
}

/// An admin change and the audit event that records it, in one transaction on either
/// backend: begins, runs `write` on the transaction's connection, writes `audit` (when there
/// is one and `write` says it changed something), commits. Any error drops the transaction
/// uncommitted, so a change is never stored without its event, nor an event without its
/// change. Called once per arm of `on_pool!`; `write` then sees that backend's connection.
///
/// Admin changes do not take the SQLite write turn (`Store::write_turn`): they are rare, and
/// SQLite's busy handler covers them. A caller that wants the turn takes it around this call.
///
/// The error type is the caller's: `StoreError` for most; `reseal_signing_keys` passes the
/// error of its resealing callback through.
pub(super) async fn audited<'a, DB, T, E>(
    pool: &Pool<DB>,
    audit: impl Into<Option<&'a AuditEvent>>,
    write: impl AsyncFnOnce(&mut DB::Connection) -> std::result::Result<Wrote<T>, E>,
) -> std::result::Result<T, E>
where
    DB: Database,
    E: From<StoreError>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let db = |e: sqlx::Error| E::from(StoreError::from(e));
    let mut tx = pool.begin().await.map_err(db)?;
    let (value, changed) = match write(&mut tx).await? {
        Wrote::Changed(value) => (value, true),
        Wrote::Unchanged(value) => (value, false),
    };
    if changed && let Some(event) = audit.into() {
        insert_audit(&mut *tx, event).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(value)
}

impl Store {
    pub async fn insert_admin_token(&self, row: &AdminTokenRow, audit: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            sqlx::query(
                "INSERT INTO admin_tokens (id, token_hash, description, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id)
            .bind(&row.token_hash)
            .bind(&row.description)
            .bind(row.created_at)
            .bind(row.expires_at)
            .execute(&mut *tx)
            .await?;
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    /// The admin token with this digest, if it is still valid at `now`.
    pub async fn find_admin_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AdminTokenRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AdminTokenRow>(
            "SELECT id, token_hash, description, created_at, expires_at FROM admin_tokens \
             WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    /// Newest first.
    pub async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AuditEvent>(
            "SELECT id, at, actor, action, target, detail FROM audit_events \
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }
}
