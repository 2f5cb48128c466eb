//! Signing keys: private keys sealed under the KEK, public JWKs in clear.

use super::admin::insert_audit;
use super::{AuditEvent, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub valid_from: i64,
    pub publish_until: Option<i64>,
}

impl Store {
    /// Keys still published at `now`, newest first: the order in which the ring picks a signer.
    pub async fn list_signing_keys(&self, now: i64) -> Result<Vec<SigningKeyRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, alg, private_key, public_jwk, created_at, valid_from, publish_until \
             FROM signing_keys WHERE publish_until IS NULL OR publish_until > $1 \
             ORDER BY valid_from DESC, kid DESC",
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// Adds keys in one transaction; with `retire_until`, every older key of the same algorithm
    /// that is not yet retiring stays published until then. "Older" is by (`valid_from`, `kid`),
    /// so two nodes rotating at once never retire each other's key both ways: the greater one
    /// survives. The audit event, if any, is written in the same transaction.
    pub async fn insert_signing_keys(
        &self,
        rows: &[SigningKeyRow],
        retire_until: Option<i64>,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for row in rows {
                sqlx::query(
                    "INSERT INTO signing_keys \
                     (kid, alg, private_key, public_jwk, created_at, valid_from, publish_until) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                )
                .bind(&row.kid)
                .bind(&row.alg)
                .bind(&row.private_key)
                .bind(&row.public_jwk)
                .bind(row.created_at)
                .bind(row.valid_from)
                .execute(&mut *tx)
                .await?;
                if let Some(until) = retire_until {
                    sqlx::query(
                        "UPDATE signing_keys SET publish_until = $1 \
                         WHERE alg = $2 AND publish_until IS NULL \
                         AND (valid_from < $3 OR (valid_from = $3 AND kid < $4))",
                    )
                    .bind(until)
                    .bind(&row.alg)
                    .bind(row.valid_from)
                    .bind(&row.kid)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if let Some(event) = audit {
                insert_audit!(&mut *tx, event);
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
