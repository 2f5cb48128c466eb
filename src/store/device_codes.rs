//! Device codes (RFC 8628): one row per device authorization, found by the SHA-256 of the
//! device code (the polling client) or of the normalised user code (the verification pages).
//! Everything that changes, the decision, the polling state and the redemption, changes in
//! one statement, so any node can serve any poll or page of the same flow.

use super::{Consumed, Result, Store, on_pool};

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCodeStatus {
    /// The user has not decided yet.
    Pending,
    Approved,
    Denied,
}

impl DeviceCodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceCodeStatus::Pending => "pending",
            DeviceCodeStatus::Approved => "approved",
            DeviceCodeStatus::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceCodeRow {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    /// JSON array of resource identifiers.
    pub audience: String,
    /// `DeviceCodeStatus::as_str`.
    pub status: String,
    /// The user who approved or denied.
    pub user_id: Option<String>,
    /// When that user authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: Option<i64>,
    /// Seconds the client must leave between polls (RFC 8628 §3.5).
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    /// 1 when the last poll came sooner than `poll_interval` after the one before.
    pub slow_down: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl DeviceCodeRow {
    pub fn status(&self) -> Option<DeviceCodeStatus> {
        DeviceCodeStatus::parse(&self.status)
    }
}

/// The statement with every column of `device_codes` spliced in where it says `{}`: once
/// after the columns of an `INSERT`, or as a `SELECT` list or `RETURNING` list, as one literal.
macro_rules! with_columns {
    ($before:literal, $after:literal) => {
        concat!(
            $before,
            "device_code_hash, user_code_hash, grant_id, client_id, scope, audience, status, \
             user_id, auth_time, poll_interval, last_polled_at, slow_down, issued_at, expires_at, \
             consumed_at",
            $after
        )
    };
}

/// RFC 8628 §3.5: a poll sooner than the interval is `slow_down`, and the interval grows by 5.
pub const SLOW_DOWN_STEP: i64 = 5;

impl Store {
    /// Inserts a new device authorization. The user code must be unique among live codes: a
    /// row with the same user code that has expired is replaced in the same statement; a live
    /// one wins and `false` comes back (the caller draws another user code).
    pub async fn insert_device_code(&self, d: &DeviceCodeRow, now: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let sql = with_columns!(
            "INSERT INTO device_codes (",
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, NULL, 0, $9, $10, NULL) \
             ON CONFLICT (user_code_hash) DO UPDATE SET \
             device_code_hash = excluded.device_code_hash, grant_id = excluded.grant_id, \
             client_id = excluded.client_id, scope = excluded.scope, \
             audience = excluded.audience, status = excluded.status, user_id = NULL, \
             auth_time = NULL, poll_interval = excluded.poll_interval, last_polled_at = NULL, \
             slow_down = 0, issued_at = excluded.issued_at, expires_at = excluded.expires_at, \
             consumed_at = NULL \
             WHERE device_codes.expires_at <= $11"
        );
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(&d.device_code_hash)
            .bind(&d.user_code_hash)
            .bind(&d.grant_id)
            .bind(&d.client_id)
            .bind(&d.scope)
            .bind(&d.audience)
            .bind(DeviceCodeStatus::Pending.as_str())
            .bind(d.poll_interval)
            .bind(d.issued_at)
            .bind(d.expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// The device authorization a user code names, while it waits for the user's decision.
    pub async fn pending_device_code(
        &self,
        user_code_hash: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>> {
        let sql = with_columns!(
            "SELECT ",
            " FROM device_codes WHERE user_code_hash = $1 AND status = $2 AND expires_at > $3"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, DeviceCodeRow>(sql)
            .bind(user_code_hash)
            .bind(DeviceCodeStatus::Pending.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Records the user's decision (approved or denied) on a pending, live authorization. One
    /// statement: of two decisions racing, the first wins and the second gets `None`.
    pub async fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: DeviceCodeStatus,
        user_id: &str,
        auth_time: i64,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>> {
        let _turn = self.write_turn().await;
        let sql = with_columns!(
            "UPDATE device_codes SET status = $2, user_id = $3, auth_time = $4 \
             WHERE user_code_hash = $1 AND status = $5 AND expires_at > $6 RETURNING ",
            ""
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, DeviceCodeRow>(sql)
            .bind(user_code_hash)
            .bind(decision.as_str())
            .bind(user_id)
            .bind(auth_time)
            .bind(DeviceCodeStatus::Pending.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Records a poll by `client_id` (RFC 8628 §3.4) and returns the row as it now is. One
    /// statement reads the previous poll and writes this one, so polls landing on different
    /// nodes at once are judged against each other: a pending, live code polled sooner than
    /// `poll_interval` after the previous poll gets `slow_down = 1` and an interval 5 s longer.
    /// (Every right-hand side reads the row as it was before the update, in both dialects.)
    /// `None`: no such device code for this client.
    pub async fn poll_device_code(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>> {
        let _turn = self.write_turn().await;
        let sql = with_columns!(
            "UPDATE device_codes SET last_polled_at = $3, \
             slow_down = CASE WHEN status = $4 AND expires_at > $3 \
                 AND last_polled_at IS NOT NULL AND $3 - last_polled_at < poll_interval \
                 THEN 1 ELSE 0 END, \
             poll_interval = CASE WHEN status = $4 AND expires_at > $3 \
                 AND last_polled_at IS NOT NULL AND $3 - last_polled_at < poll_interval \
                 THEN poll_interval + $5 ELSE poll_interval END \
             WHERE device_code_hash = $1 AND client_id = $2 RETURNING ",
            ""
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, DeviceCodeRow>(sql)
            .bind(device_code_hash)
            .bind(client_id)
            .bind(now)
            .bind(DeviceCodeStatus::Pending.as_str())
            .bind(SLOW_DOWN_STEP)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Takes an approved device code for `client_id` (RFC 8628 §3.5: tokens are issued once).
    /// One statement decides the single winner among racing polls; one already taken is
    /// `Replayed`, anything else `Missing`.
    pub async fn take_device_code(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Consumed<DeviceCodeRow>> {
        let _turn = self.write_turn().await;
        let sql = with_columns!(
            "UPDATE device_codes SET consumed_at = $3 \
             WHERE device_code_hash = $1 AND client_id = $2 AND status = $4 \
             AND consumed_at IS NULL AND expires_at > $3 RETURNING ",
            ""
        );
        let taken = on_pool!(self, pool => sqlx::query_as::<_, DeviceCodeRow>(sql)
            .bind(device_code_hash)
            .bind(client_id)
            .bind(now)
            .bind(DeviceCodeStatus::Approved.as_str())
            .fetch_optional(pool)
            .await)?;
        if let Some(row) = taken {
            return Ok(Consumed::Fresh(row));
        }
        let spent = on_pool!(self, pool => sqlx::query_as::<_, (String, Option<i64>)>(
            "SELECT grant_id, consumed_at FROM device_codes \
             WHERE device_code_hash = $1 AND client_id = $2",
        )
        .bind(device_code_hash)
        .bind(client_id)
        .fetch_optional(pool)
        .await)?;
        Ok(match spent {
            Some((grant_id, Some(_))) => Consumed::Replayed { grant_id },
            _ => Consumed::Missing,
        })
    }

    /// Removes at most `limit` device codes that are of no more use: unused ones expired at
    /// `now`, used ones expired at `used_before`, the caller's `now` minus the longest an
    /// access token lives, so a replay of a used code is still told (and its grant revoked)
    /// while tokens it produced may live. Returns how many went.
    pub async fn delete_expired_device_codes(
        &self,
        now: i64,
        used_before: i64,
        limit: i64,
    ) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM device_codes WHERE device_code_hash IN (SELECT device_code_hash \
             FROM device_codes WHERE (consumed_at IS NULL AND expires_at <= $1) \
             OR expires_at <= $2 LIMIT $3)",
            &[now, used_before, limit],
        )
        .await
    }
}
