//! Which clients were issued tokens within which browser session (OIDC Back-Channel Logout 1.0
//! §2.1): one row per (`sid`, client), written when a code is issued, taken when the session
//! ends so each client is told once.

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionClientRow {
    /// The session's public id (the `sid` claim), never its cookie or the cookie's hash.
    pub sid: String,
    pub client_id: String,
    pub user_id: String,
    pub created_at: i64,
    /// The session's absolute end: after it there is nothing left to log out.
    pub expires_at: i64,
}

impl Store {
    /// Remembers that `client_id` was issued tokens in session `sid`. One upsert: a second code
    /// in the same session leaves one row.
    pub async fn record_session_client(&self, row: &SessionClientRow) -> Result<()> {
        // Every sign-in of an SSO session to the same client writes the same row: read first,
        // so only the first one is a write (SQLite has one writer; Postgres a WAL record each).
        // A logout taking the row between this read and the code changes nothing: the client
        // is notified by that logout, as it would be had the row been written again.
        let known = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM session_clients \
             WHERE sid = $1 AND client_id = $2 AND expires_at = $3",
        )
        .bind(&row.sid)
        .bind(&row.client_id)
        .bind(row.expires_at)
        .fetch_one(pool)
        .await)?;

        if known > 0 {
            return Ok(());
        }
        let _turn = self.write_turn().await;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO session_clients (sid, client_id, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sid, client_id) DO UPDATE SET expires_at = $5",
        )
        .bind(&row.sid)
        .bind(&row.client_id)
        .bind(&row.user_id)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Takes the clients of an ending session: one statement, so two nodes ending the same
    /// session cannot both notify a client.
    pub async fn take_session_clients(&self, sid: &str) -> Result<Vec<SessionClientRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SessionClientRow>(
            "DELETE FROM session_clients WHERE sid = $1 \
             RETURNING sid, client_id, user_id, created_at, expires_at",
        )
        .bind(sid)
        .fetch_all(pool)
        .await)?,
        )
    }

    /// Removes at most `limit` rows of sessions past their absolute end; returns how many.
    /// The primary key is two columns: a row value, which both dialects read.
    pub async fn delete_expired_session_clients(&self, now: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM session_clients WHERE (sid, client_id) IN (SELECT sid, client_id \
             FROM session_clients WHERE expires_at <= $1 LIMIT $2)",
            &[now, limit],
        )
        .await
    }
}
