//! The token endpoint's per-client request counts (`src/rate_limit.rs`): one row per
//! client and one-minute window, to which each node adds what it admitted about once a second.

use super::{Result, Store, on_pool};

impl Store {
    /// Adds `requests` to the client's count for the window starting at `window_start` and
    /// returns the fleet's total so far: one atomic upsert.
    pub async fn add_token_requests(
        &self,
        client_id: &str,
        window_start: i64,
        requests: i64,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO token_rate_limit (client_id, window_start, requests) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, window_start) DO UPDATE \
             SET requests = token_rate_limit.requests + excluded.requests \
             RETURNING requests",
        )
        .bind(client_id)
        .bind(window_start)
        .bind(requests)
        .fetch_one(pool)
        .await)?)
    }

    /// Deletes at most `limit` counts of windows that started before `before`.
    pub async fn delete_old_token_request_counts(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM token_rate_limit WHERE (client_id, window_start) IN \
             (SELECT client_id, window_start FROM token_rate_limit WHERE window_start < $1 LIMIT $2)",
            &[before, limit],
        )
        .await
    }
}
