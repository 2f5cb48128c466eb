//! Browser sessions: one row per signed-in browser, keyed by the SHA-256 of the cookie's
//! value. Every rule (idle and absolute expiry, disabled users) is checked in the statement
//! that reads the row, so every node sees the same answer.

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// SHA-256 hex of the session cookie's value; the value itself is never stored.
    pub id_hash: String,
    pub user_id: String,
    /// When the user last authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    pub last_seen_at: i64,
    /// The absolute end of the session.
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_session(&self, s: &SessionRow) -> Result<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, auth_time, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.id_hash)
        .bind(&s.user_id)
        .bind(s.auth_time)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The live session with this digest. Live means: before its absolute end, seen after
    /// `idle_since`, and its user exists and is not disabled. A session last seen before
    /// `touch_before` is marked as seen at `now`, which restarts its idle time; the rest are
    /// only read, so a burst of requests in one browser is not a burst of writes. The mark is
    /// one statement that checks liveness again, so a request racing the session's expiry
    /// cannot revive it.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_since: i64,
        touch_before: i64,
    ) -> Result<Option<SessionRow>> {
        let live = on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(
            "SELECT id_hash, user_id, auth_time, last_seen_at, expires_at FROM sessions \
             WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3 \
             AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id \
                         AND NOT users.disabled)",
        )
        .bind(id_hash)
        .bind(now)
        .bind(idle_since)
        .fetch_optional(pool)
        .await)?;
        match live {
            Some(row) if row.last_seen_at >= touch_before => return Ok(Some(row)),
            None => return Ok(None),
            Some(_) => {}
        }
        let _turn = self.write_turn().await;
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(
            "UPDATE sessions SET last_seen_at = $2 \
             WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3 \
             AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id \
                         AND NOT users.disabled) \
             RETURNING id_hash, user_id, auth_time, last_seen_at, expires_at",
        )
        .bind(id_hash)
        .bind(now)
        .bind(idle_since)
        .fetch_optional(pool)
        .await)?)
    }

    /// Ends a session; true when there was one.
    pub async fn delete_session(&self, id_hash: &str) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Ends a session and returns it, when there was one (sign-out needs its `sid`).
    pub async fn take_session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(
            "DELETE FROM sessions WHERE id_hash = $1 \
             RETURNING id_hash, user_id, auth_time, last_seen_at, expires_at",
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await)?)
    }

    /// Removes at most `limit` sessions past their absolute end or idle since `idle_since`
    /// (the same rules `touch_session` reads them by); returns how many.
    pub async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_since: i64,
        limit: i64,
    ) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions \
             WHERE expires_at <= $1 OR last_seen_at <= $2 LIMIT $3)",
            &[now, idle_since, limit],
        )
        .await
    }
}
