//! Signing keys: private keys sealed under the KEK, public JWKs in clear.

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, StoreError, on_pool};

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

    /// Adds keys in one transaction. With `overlap` (the longest a token signed by a key
    /// lives), a key stops being published `overlap` seconds after the next key of its
    /// algorithm starts signing: every older key of the same algorithm that is not yet retiring
    /// gets `publish_until = valid_from + overlap`, and so does the new key itself when a newer
    /// one is already there (by that newer key's `valid_from`). "Older" is by (`valid_from`,
    /// `kid`). The audit event, if any, is written in the same transaction.
    ///
    /// Two nodes rotating at once (tests/it/races.rs) each insert a key the other has not seen.
    /// Retiring only older keys left the lesser key without an end whenever it committed
    /// second; hence the new key's own check. And under Postgres' READ COMMITTED neither
    /// transaction sees the other's uncommitted key at all, so both stayed unretired: rotations
    /// therefore take a table lock that only writers of this table wait for (SHARE ROW
    /// EXCLUSIVE conflicts with itself and with row writes, not with reads), so the second
    /// sees the first's key. SQLite needs no such statement: the first INSERT takes the
    /// database's one write lock, and the transaction reads only after it has it.
    pub async fn insert_signing_keys(
        &self,
        rows: &[SigningKeyRow],
        overlap: Option<i64>,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let serialise = match self {
            Store::Postgres(_) => Some("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"),
            Store::Sqlite(_) => None,
        };
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            if let Some(lock) = serialise {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
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
                if let Some(overlap) = overlap {
                    sqlx::query(
                        "UPDATE signing_keys SET publish_until = $1 \
                         WHERE alg = $2 AND publish_until IS NULL \
                         AND (valid_from < $3 OR (valid_from = $3 AND kid < $4))",
                    )
                    .bind(row.valid_from + overlap)
                    .bind(&row.alg)
                    .bind(row.valid_from)
                    .bind(&row.kid)
                    .execute(&mut *tx)
                    .await?;
                    // No newer key: MIN is NULL, and so publish_until stays.
                    sqlx::query(
                        "UPDATE signing_keys SET publish_until = $1 + (SELECT MIN(newer.valid_from) \
                         FROM signing_keys newer WHERE newer.alg = $2 \
                         AND (newer.valid_from > $3 OR (newer.valid_from = $3 AND newer.kid > $4))) \
                         WHERE kid = $4",
                    )
                    .bind(overlap)
                    .bind(&row.alg)
                    .bind(row.valid_from)
                    .bind(&row.kid)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    /// Every key row, unpublished ones too, newest first.
    pub async fn all_signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, alg, private_key, public_jwk, created_at, valid_from, publish_until \
             FROM signing_keys ORDER BY valid_from DESC, kid DESC",
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Replaces every row's sealed private key with `reseal(row)` in one transaction (a KEK
    /// change), with its audit event; the first error rolls everything back. On
    /// Postgres the table is locked against writers first, so a key inserted meanwhile cannot
    /// stay under the old KEK; on SQLite a writer that commits between the read and the
    /// updates makes the transaction fail (WAL snapshot), never half-apply.
    pub async fn reseal_signing_keys<E: From<StoreError>>(
        &self,
        mut reseal: impl FnMut(&SigningKeyRow) -> std::result::Result<Vec<u8>, E>,
        audit: &AuditEvent,
    ) -> std::result::Result<usize, E> {
        let db = |e: sqlx::Error| E::from(StoreError::from(e));
        let postgres = matches!(self, Store::Postgres(_));
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            if postgres {
                sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            let rows = sqlx::query_as::<_, SigningKeyRow>(
                "SELECT kid, alg, private_key, public_jwk, created_at, valid_from, publish_until \
                 FROM signing_keys ORDER BY valid_from DESC, kid DESC",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                let sealed = reseal(row)?;
                sqlx::query("UPDATE signing_keys SET private_key = $1 WHERE kid = $2")
                    .bind(&sealed)
                    .bind(&row.kid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            Ok(Wrote::Changed(rows.len()))
        })
        .await)
    }
}
