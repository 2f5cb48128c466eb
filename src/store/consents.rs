//! Remembered consents (one row per user and client, the union of the scopes granted) and
//! authorization requests waiting between the sign-in and consent pages (stored by the
//! SHA-256 of their id, short-lived, taken once when the code is issued).

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationRequestRow {
    pub id_hash: String,
    pub client_id: String,
    /// JSON of the validated request.
    pub request: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// The scope `user_id` has granted `client_id`, space-separated, if any.
    pub async fn consented_scope(&self, user_id: &str, client_id: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Records the scope `user_id` has now granted `client_id` (the caller passes the union
    /// with what was granted before).
    pub async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, created_at = $4",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_authorization_request(&self, r: &AuthorizationRequestRow) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO authorization_requests (id_hash, client_id, request, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.id_hash)
        .bind(&r.client_id)
        .bind(&r.request)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The pending request with this digest, if it has not expired at `now`.
    pub async fn authorization_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationRequestRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AuthorizationRequestRow>(
            "SELECT id_hash, client_id, request, created_at, expires_at \
             FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?,
        )
    }

    /// Takes the pending request: one statement, so two submissions cannot both finish it.
    pub async fn take_authorization_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationRequestRow>> {
        let _turn = self.write_turn().await;
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AuthorizationRequestRow>(
            "DELETE FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2 \
             RETURNING id_hash, client_id, request, created_at, expires_at",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?,
        )
    }

    /// Removes at most `limit` expired pending requests; returns how many.
    pub async fn delete_expired_authorization_requests(&self, now: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM authorization_requests WHERE id_hash IN (SELECT id_hash \
             FROM authorization_requests WHERE expires_at <= $1 LIMIT $2)",
            &[now, limit],
        )
        .await
    }
}
