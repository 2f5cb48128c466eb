//! Authorization codes (RFC 6749 §4.1.2): stored only as SHA-256, taken once by one atomic
//! statement (single use, §4.1.2 and §10.5, is a take, never get-then-delete).

use super::tokens::{insert_issued, insert_opaque, insert_refresh};
use super::{Consumed, IssuedRows, OpaqueTokenRow, RefreshTokenRow, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    /// JSON array of resource identifiers.
    pub audience: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    /// The browser session the code was issued in (OIDC Back-Channel Logout §2.1 `sid`).
    pub sid: Option<String>,
    /// The authentication context class the sign-in satisfied (OIDC Core §2 `acr`).
    pub acr: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// What tells a replay from a code that never existed (or expired unused).
#[derive(sqlx::FromRow)]
struct Spent {
    grant_id: String,
    consumed_at: Option<i64>,
}

impl Store {
    pub async fn insert_code(&self, c: &CodeRow) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, \
             redirect_uri, scope, audience, nonce, code_challenge, code_challenge_method, \
             auth_time, sid, acr, issued_at, expires_at, consumed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL)",
        )
        .bind(&c.code_hash)
        .bind(&c.grant_id)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(&c.audience)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(&c.code_challenge_method)
        .bind(c.auth_time)
        .bind(&c.sid)
        .bind(&c.acr)
        .bind(c.issued_at)
        .bind(c.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The code with this digest if it is unused and unexpired: what a redemption checks
    /// before it takes the code (`redeem_code`).
    pub async fn find_code(&self, hash: &str, now: i64) -> Result<Option<CodeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CodeRow>(
            "SELECT code_hash, grant_id, client_id, user_id, redirect_uri, scope, audience, \
             nonce, code_challenge, code_challenge_method, auth_time, sid, acr, issued_at, \
             expires_at, consumed_at FROM authorization_codes \
             WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    /// Takes a code and stores the tokens issued for it in one transaction: the take is
    /// `consume_code`'s atomic statement, so one of racing redemptions wins; a crash cannot
    /// leave a spent code without its tokens (or tokens without a spent code), and SQLite
    /// commits (and fsyncs) once.
    /// `Replayed` and `Missing` store nothing.
    pub async fn redeem_code(
        &self,
        hash: &str,
        now: i64,
        issued: &IssuedRows,
    ) -> Result<Consumed<()>> {
        let _turn = self.write_turn().await;
        let taken = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let taken = sqlx::query_scalar::<_, String>(
                "UPDATE authorization_codes SET consumed_at = $2 \
                 WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
                 RETURNING grant_id",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                insert_issued!(&mut *tx, issued);
                tx.commit().await?;
            }
            taken
        });
        if taken.is_some() {
            return Ok(Consumed::Fresh(()));
        }
        self.spent_code(hash).await
    }

    /// Takes a code: one atomic statement decides the single winner among racing redemptions.
    /// A code already taken is `Replayed` (even after it expired: its grant must still be
    /// revoked); an unknown or expired unused code is `Missing`.
    pub async fn consume_code(&self, hash: &str, now: i64) -> Result<Consumed<CodeRow>> {
        let _turn = self.write_turn().await;
        let taken = on_pool!(self, pool => sqlx::query_as::<_, CodeRow>(
            "UPDATE authorization_codes SET consumed_at = $2 \
             WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
             RETURNING code_hash, grant_id, client_id, user_id, redirect_uri, scope, audience, \
             nonce, code_challenge, code_challenge_method, auth_time, sid, acr, issued_at, \
             expires_at, consumed_at",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        if let Some(row) = taken {
            return Ok(Consumed::Fresh(row));
        }
        self.spent_code(hash).await
    }

    /// A code that is not there to take: `Replayed` when it was taken before, else `Missing`
    /// (unknown, or expired unused). A read.
    pub async fn spent_code<T>(&self, hash: &str) -> Result<Consumed<T>> {
        let spent = on_pool!(self, pool => sqlx::query_as::<_, Spent>(
            "SELECT grant_id, consumed_at FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(hash)
        .fetch_optional(pool)
        .await)?;
        Ok(match spent {
            Some(Spent {
                grant_id,
                consumed_at: Some(_),
            }) => Consumed::Replayed { grant_id },
            _ => Consumed::Missing,
        })
    }

    /// Removes at most `limit` authorization codes of no more use: unused ones expired at
    /// `now`, used ones expired at `used_before`. The caller passes `now` minus the longest
    /// access-token lifetime: until then the access token the code bought may live, and
    /// `revoke_user` finds its grant through this row (and a replay is still told).
    pub async fn delete_expired_codes(
        &self,
        now: i64,
        used_before: i64,
        limit: i64,
    ) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash \
             FROM authorization_codes WHERE (consumed_at IS NULL AND expires_at <= $1) \
             OR expires_at <= $2 LIMIT $3)",
            &[now, used_before, limit],
        )
        .await
    }
}
