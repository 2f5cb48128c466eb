//! Trusted assertion issuers (RFC 7521 §5.1): JWT issuers and SAML identity providers whose
//! assertions the bearer grants accept. `issuer` is the JWT `iss` or the SAML entity id; the
//! rest of the registration is JSON in `config`.

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssuerRow {
    pub id: String,
    /// `jwt` | `saml`
    pub kind: String,
    pub issuer: String,
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! select_issuers {
    ($where:literal) => {
        concat!(
            "SELECT id, kind, issuer, config, created_at, updated_at FROM assertion_issuers ",
            $where
        )
    };
}

impl Store {
    /// A second issuer of the same kind and identifier is `StoreError::Conflict`.
    pub async fn insert_issuer(&self, r: &IssuerRow, audit: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            sqlx::query(
                "INSERT INTO assertion_issuers (id, kind, issuer, config, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id)
            .bind(&r.kind)
            .bind(&r.issuer)
            .bind(&r.config)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?;
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    pub async fn update_issuer(&self, r: &IssuerRow, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query(
                "UPDATE assertion_issuers SET kind = $2, issuer = $3, config = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(&r.id)
            .bind(&r.kind)
            .bind(&r.issuer)
            .bind(&r.config)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    pub async fn get_issuer(&self, id: &str) -> Result<Option<IssuerRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IssuerRow>(
            select_issuers!("WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The issuer of `kind` that an assertion names (its `iss` or SAML `Issuer`).
    pub async fn find_issuer(&self, kind: &str, issuer: &str) -> Result<Option<IssuerRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IssuerRow>(
            select_issuers!("WHERE kind = $1 AND issuer = $2"),
        )
        .bind(kind)
        .bind(issuer)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn list_issuers(&self, after: Option<&str>, limit: i64) -> Result<Vec<IssuerRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IssuerRow>(
            select_issuers!("WHERE id > $1 ORDER BY id LIMIT $2"),
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn delete_issuer(&self, id: &str, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query("DELETE FROM assertion_issuers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }
}
