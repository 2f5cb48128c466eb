//! Token state that must be remembered: opaque access tokens, refresh tokens, the revocation
//! deny-list and the replay cache for one-time assertion ids.

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpaqueTokenRow {
    pub token_hash: String,
    pub jti: String,
    pub grant_id: Option<String>,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub audience: String,
    pub claims: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub audience: String,
    pub claims: String,
    pub issued_at: i64,
    /// Unused: the end of its idle window (RFC 9700 §4.14.2), never past `family_expires_at`.
    /// Consumed: `family_expires_at`, so a replay is recognised as long as the family lives.
    pub expires_at: i64,
    /// The absolute end of the family: its first token's issue + `tokens.refresh_token_lifetime`.
    pub family_expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// Deny-list keys: one token by `jti`, or every token of a grant.
pub fn jti_key(jti: &str) -> String {
    format!("jti:{jti}")
}

pub fn grant_key(grant_id: &str) -> String {
    format!("grant:{grant_id}")
}

/// Inserts a `RefreshTokenRow` with `executor` (a pool or a transaction of either backend).
macro_rules! insert_refresh {
    ($executor:expr, $t:expr) => {{
        let t: &RefreshTokenRow = $t;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, subject, scope, \
             audience, claims, issued_at, expires_at, family_expires_at, consumed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(&t.token_hash)
        .bind(&t.grant_id)
        .bind(&t.client_id)
        .bind(&t.subject)
        .bind(&t.scope)
        .bind(&t.audience)
        .bind(&t.claims)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.family_expires_at)
        .execute($executor)
        .await?;
    }};
}
pub(crate) use insert_refresh;

/// Inserts an `OpaqueTokenRow` with `executor` (a pool or a transaction of either backend).
macro_rules! insert_opaque {
    ($executor:expr, $t:expr) => {{
        let t: &OpaqueTokenRow = $t;
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, \
             audience, claims, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&t.token_hash)
        .bind(&t.jti)
        .bind(&t.grant_id)
        .bind(&t.client_id)
        .bind(&t.subject)
        .bind(&t.scope)
        .bind(&t.audience)
        .bind(&t.claims)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .execute($executor)
        .await?;
    }};
}
pub(crate) use insert_opaque;

/// Inserts the rows of `IssuedRows` with `tx` (a transaction of either backend).
macro_rules! insert_issued {
    ($tx:expr, $rows:expr) => {{
        let rows: &IssuedRows = $rows;
        if let Some(t) = &rows.opaque {
            insert_opaque!($tx, t);
        }
        if let Some(t) = &rows.refresh {
            insert_refresh!($tx, t);
        }
    }};
}
pub(crate) use insert_issued;

/// What the store keeps of the tokens issued for a user's grant (only digests): the opaque
/// access token's row and the refresh token's, written in the transaction that takes the code
/// or refresh token they were issued for (`Store::redeem_code`, `Store::rotate_refresh_token`).
#[derive(Debug, Default)]
pub struct IssuedRows {
    pub opaque: Option<OpaqueTokenRow>,
    pub refresh: Option<RefreshTokenRow>,
}

impl IssuedRows {
    pub fn is_empty(&self) -> bool {
        self.opaque.is_none() && self.refresh.is_none()
    }
}

/// How a rotation (`rotate_refresh_token`) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Taken, and the successor stored.
    Rotated,
    /// Taken, but the grant is on the deny-list: nothing stored.
    GrantRevoked(String),
    /// Already taken: a replay.
    Replayed { grant_id: String },
    /// Unknown, or expired unused.
    Missing,
}

impl Store {
    pub async fn insert_opaque_token(&self, t: &OpaqueTokenRow) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => insert_opaque!(pool, t));
        Ok(())
    }

    /// Stores the rows of tokens issued for a user's grant without a take (device codes,
    /// passwords): one transaction.
    pub async fn insert_issued(&self, rows: &IssuedRows) -> Result<()> {
        let _turn = self.write_turn().await;
        if rows.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_issued!(&mut *tx, rows);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The opaque token with this digest if it has not expired at `now`.
    pub async fn find_opaque_token(&self, hash: &str, now: i64) -> Result<Option<OpaqueTokenRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, OpaqueTokenRow>(
            "SELECT token_hash, jti, grant_id, client_id, subject, scope, audience, claims, \
             issued_at, expires_at FROM access_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn delete_opaque_token(&self, hash: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1")
            .bind(hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Adds a deny-list entry kept until `expires_at` (when the token would be dead anyway).
    pub async fn revoke(&self, key: &str, expires_at: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO revocations (revoked_key, expires_at) VALUES ($1, $2) \
             ON CONFLICT (revoked_key) DO NOTHING",
        )
        .bind(key)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// True when the token's `jti`, or its grant, is on the deny-list, or its subject is a
    /// disabled user (whose tokens die with the account, whatever flow issued them).
    pub async fn is_revoked(
        &self,
        jti: &str,
        grant_id: Option<&str>,
        subject: &str,
    ) -> Result<bool> {
        let jti = jti_key(jti);
        let grant = grant_id.map(grant_key).unwrap_or_else(|| jti.clone());
        let found = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT COUNT(*) FROM revocations \
                     WHERE revoked_key = $1 OR revoked_key = $2) \
                  + (SELECT COUNT(*) FROM users WHERE id = $3 AND disabled)",
        )
        .bind(&jti)
        .bind(&grant)
        .bind(subject)
        .fetch_one(pool)
        .await)?;
        Ok(found > 0)
    }

    /// True when the whole grant is on the deny-list (a replay or a revocation killed it).
    pub async fn is_grant_revoked(&self, grant_id: &str) -> Result<bool> {
        let found = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM revocations WHERE revoked_key = $1",
        )
        .bind(grant_key(grant_id))
        .fetch_one(pool)
        .await)?;
        Ok(found > 0)
    }

    /// Records a one-time id (`jti`, SAML `ID`) of `issuer`; false when it was seen before.
    /// One statement: two requests racing with the same id cannot both see it as fresh.
    pub async fn record_jti(&self, issuer: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let n = on_pool!(self, pool => sqlx::query(
            "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn insert_refresh_token(&self, t: &RefreshTokenRow) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => insert_refresh!(pool, t));
        Ok(())
    }

    /// The refresh token with this digest, used or not, if it has not expired (an unused one
    /// within its idle window, a used one within its family's lifetime).
    pub async fn find_refresh_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<RefreshTokenRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefreshTokenRow>(
            "SELECT token_hash, grant_id, client_id, subject, scope, audience, claims, \
             issued_at, expires_at, family_expires_at, consumed_at FROM refresh_tokens \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    /// Rotation in one transaction (RFC 9700 §4.14.2): takes the refresh token `hash` with the
    /// one atomic statement (the single winner among racing rotations) and stores its successors
    /// `next`, so a
    /// crash cannot leave a spent token without the one that replaced it, and SQLite commits
    /// (and fsyncs) once. A grant on the deny-list (a replay that raced this rotation) spends the
    /// token and stores nothing.
    pub async fn rotate_refresh_token(
        &self,
        hash: &str,
        now: i64,
        next: &IssuedRows,
    ) -> Result<Rotation> {
        let _turn = self.write_turn().await;
        let taken = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let taken = sqlx::query_scalar::<_, String>(
                "UPDATE refresh_tokens SET consumed_at = $2, expires_at = family_expires_at \
                 WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
                 RETURNING grant_id",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let mut outcome = None;
            if let Some(grant_id) = taken {
                let revoked = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM revocations WHERE revoked_key = $1",
                )
                .bind(grant_key(&grant_id))
                .fetch_one(&mut *tx)
                .await?;
                if revoked > 0 {
                    outcome = Some(Rotation::GrantRevoked(grant_id));
                } else {
                    insert_issued!(&mut *tx, next);
                    outcome = Some(Rotation::Rotated);
                }
                tx.commit().await?;
            }
            outcome
        });
        if let Some(outcome) = taken {
            return Ok(outcome);
        }
        Ok(match self.find_refresh_token(hash, now).await? {
            Some(row) => Rotation::Replayed {
                grant_id: row.grant_id,
            },
            None => Rotation::Missing,
        })
    }

    /// Revokes everything a grant produced: its refresh tokens, its opaque access tokens, and,
    /// through the deny-list until `until`, its JWT access tokens. One transaction.
    pub async fn revoke_grant(&self, grant_id: &str, until: i64) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1")
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM access_tokens WHERE grant_id = $1")
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO revocations (revoked_key, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (revoked_key) DO NOTHING",
            )
            .bind(grant_key(grant_id))
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    // Housekeeping (`tasks.rs`): batched deletes of rows no token can need any more.

    /// Removes at most `limit` opaque access tokens expired at `now`; returns how many.
    pub async fn delete_expired_opaque_tokens(&self, now: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash \
             FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
            &[now, limit],
        )
        .await
    }

    /// Removes at most `limit` refresh-token rows, used or not, that expired at or before
    /// `before`. The caller passes `now` minus the longest access-token lifetime: until then an
    /// access token issued beside or from the row may live, and `revoke_user` finds its grant
    /// through this row (a used row also still tells a replay).
    pub async fn delete_expired_refresh_tokens(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash \
             FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
            &[before, limit],
        )
        .await
    }

    /// Removes at most `limit` deny-list entries past their `expires_at`, which every writer
    /// sets to when the last token they deny is dead; returns how many.
    pub async fn delete_expired_revocations(&self, now: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM revocations WHERE revoked_key IN (SELECT revoked_key \
             FROM revocations WHERE expires_at <= $1 LIMIT $2)",
            &[now, limit],
        )
        .await
    }

    /// Removes at most `limit` one-time ids past their expiry (the assertion they came in is
    /// refused as expired by then, so the replay cache need not remember it).
    pub async fn delete_expired_jtis(&self, now: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM used_jtis WHERE (issuer, jti) IN (SELECT issuer, jti \
             FROM used_jtis WHERE expires_at <= $1 LIMIT $2)",
            &[now, limit],
        )
        .await
    }
}
