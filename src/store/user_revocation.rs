//! Cutting a user off (an admin disables or deletes them): every grant they hold is
//! revoked through the deny-list, their refresh tokens, opaque access tokens, unused codes and
//! browser sessions are deleted, and the clients of those sessions are returned so each can be
//! sent a Logout Token. One transaction.

use super::session_clients::SessionClientRow;
use super::tokens::grant_key;
use super::{Result, Store, on_pool};

impl Store {
    /// Revokes everything `user_id` holds; the grant entries stay on the deny-list until
    /// `until` (when every token of those grants is dead anyway). Returns the clients of the
    /// user's sessions, taken.
    pub async fn revoke_user(&self, user_id: &str, until: i64) -> Result<Vec<SessionClientRow>> {
        // The key format lives in one place (`grant_key`); SQL builds the same string.
        let prefix = grant_key("");
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Every grant that produced a code, a refresh token or an opaque token for the
            // user. JWT access tokens carry their grant_id, so this reaches them too.
            // (SQLite needs the WHERE before ON CONFLICT in an INSERT … SELECT.)
            sqlx::query(
                "INSERT INTO revocations (revoked_key, expires_at) \
                 SELECT $2 || g.grant_id, CAST($3 AS BIGINT) FROM ( \
                   SELECT grant_id FROM authorization_codes WHERE user_id = $1 \
                   UNION SELECT grant_id FROM refresh_tokens WHERE subject = $1 \
                   UNION SELECT grant_id FROM access_tokens \
                         WHERE subject = $1 AND grant_id IS NOT NULL \
                 ) AS g WHERE true \
                 ON CONFLICT (revoked_key) DO NOTHING",
            )
            .bind(user_id)
            .bind(&prefix)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            for statement in [
                "DELETE FROM refresh_tokens WHERE subject = $1",
                "DELETE FROM access_tokens WHERE subject = $1",
                "DELETE FROM authorization_codes WHERE user_id = $1 AND consumed_at IS NULL",
                "DELETE FROM sessions WHERE user_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let clients = sqlx::query_as::<_, SessionClientRow>(
                "DELETE FROM session_clients WHERE user_id = $1 \
                 RETURNING sid, client_id, user_id, created_at, expires_at",
            )
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            clients
        }))
    }
}
