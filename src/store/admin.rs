//! Admin API tokens (SHA-256 digests) and the audit trail of admin changes.

use serde_json::Value;

use super::{Result, Store, on_pool};

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

/// Writes an audit event inside the transaction of the change it records.
macro_rules! insert_audit {
    ($executor:expr, $e:expr) => {
        sqlx::query(
            "INSERT INTO audit_events (id, at, actor, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&$e.id)
        .bind($e.at)
        .bind(&$e.actor)
        .bind(&$e.action)
        .bind(&$e.target)
        .bind(&$e.detail)
        .execute($executor)
        .await?
    };
}
pub(crate) use insert_audit;

impl Store {
    pub async fn insert_admin_token(&self, row: &AdminTokenRow, audit: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
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
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
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
