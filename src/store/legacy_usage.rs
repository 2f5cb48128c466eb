//! Uses of the legacy flows (implicit and password, RFC 9700 §2.1.2 and §2.4), counted per
//! client, flow and UTC day: one upsert per use, so uses on several nodes at once all count.

use super::{Result, Store, on_pool};

/// One client's use of one legacy flow over a span of days.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LegacyUsageRow {
    pub client_id: String,
    /// `implicit` or `password`.
    #[schema(example = "password")]
    pub flow: String,
    /// Unix seconds of the latest use.
    pub last_used_at: i64,
    pub uses: i64,
}

impl Store {
    /// Counts one use of `flow` by `client_id` on `day` (Unix seconds / 86400) at `now`.
    pub async fn record_legacy_use(
        &self,
        client_id: &str,
        flow: &str,
        day: i64,
        now: i64,
    ) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO legacy_usage (client_id, flow, day, uses, last_used_at) \
             VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (client_id, flow, day) DO UPDATE SET \
             uses = legacy_usage.uses + 1, \
             last_used_at = CASE WHEN excluded.last_used_at > legacy_usage.last_used_at \
                 THEN excluded.last_used_at ELSE legacy_usage.last_used_at END",
        )
        .bind(client_id)
        .bind(flow)
        .bind(day)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Every client and flow used on `first_day` or later, most recent use first. `SUM` of a
    /// `BIGINT` is `NUMERIC` on Postgres, hence the cast.
    pub async fn list_legacy_usage(&self, first_day: i64) -> Result<Vec<LegacyUsageRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, LegacyUsageRow>(
            "SELECT client_id, flow, MAX(last_used_at) AS last_used_at, \
             CAST(SUM(uses) AS BIGINT) AS uses \
             FROM legacy_usage WHERE day >= $1 \
             GROUP BY client_id, flow \
             ORDER BY last_used_at DESC, client_id, flow",
        )
        .bind(first_day)
        .fetch_all(pool)
        .await)?)
    }
}
