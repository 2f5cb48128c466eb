//! Sign-in throttle counters: they live in the store, not in a node's memory, so that
//! guesses spread over several nodes are counted together. Each failure is one atomic upsert, so failures that land on
//! several nodes at once all count.

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleRow {
    pub throttle_key: String,
    pub failures: i64,
    pub last_failure_at: i64,
    /// Unix seconds; 0 when the key was never blocked.
    pub blocked_until: i64,
}

/// How failures turn into delays: `free_attempts` failures cost nothing; each further one
/// blocks until `now + min(base_delay · 2^(failures − free_attempts), max_delay)`. A counter
/// whose last failure is more than `window` seconds old starts again from zero.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub free_attempts: i64,
    pub base_delay: i64,
    pub max_delay: i64,
    pub window: i64,
}

/// Past this many doublings the delay is `max_delay` whatever the base (keeps the shift in range).
const MAX_DOUBLINGS: i64 = 32;

impl Backoff {
    /// `blocked_until` after the `failures`-th failure at `now` (0: not blocked). The upsert
    /// computes the same in SQL; a test checks that the two agree.
    pub fn blocked_until(&self, failures: i64, now: i64) -> i64 {
        let over = failures - self.free_attempts;
        if over <= 0 {
            return 0;
        }
        if over >= MAX_DOUBLINGS {
            return now + self.max_delay;
        }
        now + (self.base_delay << over).min(self.max_delay)
    }
}

impl Store {
    /// Counts one failed sign-in against `key` at `now` and returns the counter as it now is.
    /// One statement: `failures` restarts at 1 when the last failure is older than the window,
    /// and `blocked_until` never moves back. `<<` and `CASE` read the same on SQLite and
    /// Postgres (which has no `bigint << bigint`, hence the casts).
    pub async fn record_sign_in_failure(
        &self,
        key: &str,
        now: i64,
        backoff: &Backoff,
    ) -> Result<ThrottleRow> {
        let first = backoff.blocked_until(1, now);
        let forget_before = now - backoff.window;
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ThrottleRow>(
            "INSERT INTO sign_in_throttle (throttle_key, failures, last_failure_at, blocked_until) \
             VALUES ($1, 1, $2, $3) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
             failures = CASE WHEN sign_in_throttle.last_failure_at < $4 THEN 1 \
                 ELSE sign_in_throttle.failures + 1 END, \
             last_failure_at = $2, \
             blocked_until = CASE \
                 WHEN sign_in_throttle.last_failure_at < $4 THEN \
                     CASE WHEN excluded.blocked_until > sign_in_throttle.blocked_until \
                     THEN excluded.blocked_until ELSE sign_in_throttle.blocked_until END \
                 WHEN sign_in_throttle.failures + 1 <= $5 THEN sign_in_throttle.blocked_until \
                 WHEN sign_in_throttle.failures + 1 - $5 >= $8 THEN $2 + $7 \
                 WHEN ($6 << CAST(sign_in_throttle.failures + 1 - $5 AS INTEGER)) > $7 \
                     THEN $2 + $7 \
                 ELSE $2 + ($6 << CAST(sign_in_throttle.failures + 1 - $5 AS INTEGER)) END \
             RETURNING throttle_key, failures, last_failure_at, blocked_until",
        )
        .bind(key)
        .bind(now)
        .bind(first)
        .bind(forget_before)
        .bind(backoff.free_attempts)
        .bind(backoff.base_delay)
        .bind(backoff.max_delay)
        .bind(MAX_DOUBLINGS)
        .fetch_one(pool)
        .await)?)
    }

    /// The later `blocked_until` of the two counters (0 when neither exists or was blocked).
    pub async fn sign_in_blocked_until(&self, account: &str, ip: &str) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(MAX(blocked_until), 0) FROM sign_in_throttle \
             WHERE throttle_key = $1 OR throttle_key = $2",
        )
        .bind(account)
        .bind(ip)
        .fetch_one(pool)
        .await)?)
    }

    pub async fn find_sign_in_throttle(&self, key: &str) -> Result<Option<ThrottleRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ThrottleRow>(
            "SELECT throttle_key, failures, last_failure_at, blocked_until FROM sign_in_throttle \
             WHERE throttle_key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await)?)
    }

    /// Forgets a counter (a successful sign-in clears its account's). True when there was one.
    pub async fn clear_sign_in_throttle(&self, key: &str) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM sign_in_throttle WHERE throttle_key = $1")
            .bind(key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// An admin clearing a lockout: the counter goes and the audit event is written in one
    /// transaction (the event is written whether or not there was a counter).
    pub async fn clear_sign_in_throttle_audited(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query("DELETE FROM sign_in_throttle WHERE throttle_key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // The event records the admin's act, which happened even without a counter.
            Ok(Wrote::Changed(n == 1))
        })
        .await)
    }

    /// Deletes counters that no longer block and whose last failure is older than
    /// `forget_before` (they would restart from zero anyway), at most `limit` of them.
    /// Returns how many went.
    pub async fn purge_sign_in_throttle(
        &self,
        now: i64,
        forget_before: i64,
        limit: i64,
    ) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM sign_in_throttle WHERE throttle_key IN (SELECT throttle_key \
             FROM sign_in_throttle WHERE blocked_until <= $1 AND last_failure_at < $2 LIMIT $3)",
            &[now, forget_before, limit],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_attempts_up_to_the_cap() {
        let b = Backoff {
            free_attempts: 5,
            base_delay: 1,
            max_delay: 900,
            window: 900,
        };
        let delays: Vec<i64> = (1..=16).map(|f| b.blocked_until(f, 1000)).collect();
        assert_eq!(&delays[..5], &[0; 5]);
        assert_eq!(
            &delays[5..],
            &[
                1002, 1004, 1008, 1016, 1032, 1064, 1128, 1256, 1512, 1900, 1900
            ]
        );
        assert_eq!(b.blocked_until(1_000_000, 0), 900);
    }
}
