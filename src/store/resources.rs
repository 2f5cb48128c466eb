//! Resource servers (APIs): the audiences tokens are minted for.

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResourceRow {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: String,
    pub access_token_lifetime: Option<i64>,
    pub access_token_format: String,
    pub signing_alg: Option<String>,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! select_resources {
    ($where:literal) => {
        concat!(
            "SELECT id, identifier, name, scopes, access_token_lifetime, access_token_format, \
             signing_alg, client_id, created_at, updated_at FROM resources ",
            $where
        )
    };
}

impl Store {
    pub async fn insert_resource(&self, r: &ResourceRow, audit: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            sqlx::query(
                "INSERT INTO resources (id, identifier, name, scopes, access_token_lifetime, \
                 access_token_format, signing_alg, client_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&r.id)
            .bind(&r.identifier)
            .bind(&r.name)
            .bind(&r.scopes)
            .bind(r.access_token_lifetime)
            .bind(&r.access_token_format)
            .bind(&r.signing_alg)
            .bind(&r.client_id)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?;
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    pub async fn update_resource(&self, r: &ResourceRow, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query(
                "UPDATE resources SET identifier = $2, name = $3, scopes = $4, \
                 access_token_lifetime = $5, access_token_format = $6, signing_alg = $7, \
                 client_id = $8, updated_at = $9 WHERE id = $1",
            )
            .bind(&r.id)
            .bind(&r.identifier)
            .bind(&r.name)
            .bind(&r.scopes)
            .bind(r.access_token_lifetime)
            .bind(&r.access_token_format)
            .bind(&r.signing_alg)
            .bind(&r.client_id)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    pub async fn get_resource(&self, id: &str) -> Result<Option<ResourceRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ResourceRow>(
            select_resources!("WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Resources with any of these identifiers (the `resource`/`audience` of a token request).
    pub async fn resources_by_identifiers(
        &self,
        identifiers: &[String],
    ) -> Result<Vec<ResourceRow>> {
        let mut out = Vec::with_capacity(identifiers.len());
        for identifier in identifiers {
            let row = on_pool!(self, pool => sqlx::query_as::<_, ResourceRow>(
                select_resources!("WHERE identifier = $1"),
            )
            .bind(identifier)
            .fetch_optional(pool)
            .await)?;
            out.extend(row);
        }
        Ok(out)
    }

    pub async fn list_resources(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ResourceRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ResourceRow>(
            select_resources!("WHERE id > $1 ORDER BY id LIMIT $2"),
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn delete_resource(&self, id: &str, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query("DELETE FROM resources WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    /// The longest access-token lifetime any resource sets: retired signing keys stay
    /// published at least this long.
    pub async fn max_resource_token_lifetime(&self) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(access_token_lifetime) FROM resources",
        )
        .fetch_one(pool)
        .await)?)
    }

    /// The longest an access token issued now can live: `configured` (the config's lifetime)
    /// or any resource's own setting, whichever is longer.
    pub async fn longest_access_token_lifetime(&self, configured: u64) -> Result<u64> {
        let by_resource = self
            .max_resource_token_lifetime()
            .await?
            .unwrap_or(0)
            .max(0) as u64;
        Ok(by_resource.max(configured))
    }
}
