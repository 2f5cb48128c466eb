//! Housekeeping: a background task that deletes rows nothing can need any more, so
//! tables do not grow without end. One pass visits every table that expires, deleting in
//! batches of `housekeeping.batch_size` (each batch one short statement) until a batch comes
//! back short, and yields between batches.
//!
//! What "expired" means per table, and why it is safe:
//! - `authorization_codes`, `device_codes`: unused ones at their expiry; used ones only once
//!   their expiry plus the longest access-token lifetime has passed. Until then a token the
//!   code bought may live, `revoke_user` finds its grant through the code, and a replay must
//!   still be told from an unknown code so the grant gets revoked.
//! - `refresh_tokens`, used or not: likewise at expiry plus the longest access-token lifetime.
//! - `revocations`: at their `expires_at`, which every writer sets to when the tokens they deny
//!   are dead. `access_tokens` (opaque), `used_jtis`, `authorization_requests`,
//!   `session_clients`: at their expiry. `sessions`: at their absolute end or idle lifetime.
//!   `sign_in_throttle`: once neither blocking nor inside the counting window.
//! - `token_rate_limit`: once its one-minute window is over.
//! - `audit_events`: after `audit.retention` seconds (never when 0).
//! - `consents` never expire; `legacy_usage` is a record, not state.
//!
//! Several nodes may run passes at once. Each batch deletes only rows already expired, so two
//! nodes deleting the same rows is harmless (the second finds fewer, may see a short batch
//! early, and the next pass finishes the job); no lock is taken.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// The tables a pass purges, in the order it visits them (also the `table` label of
/// `portcullis_purged_rows_total`).
pub const TABLES: [&str; 12] = [
    "authorization_requests",
    "authorization_codes",
    "device_codes",
    "access_tokens",
    "refresh_tokens",
    "revocations",
    "used_jtis",
    "sessions",
    "session_clients",
    "sign_in_throttle",
    "token_rate_limit",
    "audit_events",
];

/// Rows one pass deleted, per table, in the order of `TABLES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCounts(pub Vec<(&'static str, u64)>);

impl PurgeCounts {
    pub fn get(&self, table: &str) -> u64 {
        self.0
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// Runs passes every `housekeeping.interval` seconds until the task is aborted. The first
/// pass comes one interval after start, so a fleet restarting at once does not purge at once.
pub async fn housekeeping(state: Arc<AppState>) {
    let period = Duration::from_secs(state.config.housekeeping.interval);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = purge_once(&state, |_, _| {}).await {
            tracing::warn!(error = %e, "housekeeping pass failed; the next pass tries again");
        }
    }
}

/// One pass over every table of a running server's store, at its clock's time.
pub async fn purge_once(
    state: &AppState,
    progress: impl FnMut(&'static str, u64),
) -> Result<PurgeCounts, StoreError> {
    purge(&state.store, &state.config, state.now(), progress).await
}

/// One pass over every table, needing only the store (`portcullis purge`). `progress` hears
/// each table's count as it finishes. Logs one line with the counts and adds them to
/// `portcullis_purged_rows_total{table}`.
pub async fn purge(
    store: &Store,
    config: &Config,
    now: i64,
    mut progress: impl FnMut(&'static str, u64),
) -> Result<PurgeCounts, StoreError> {
    let started = Instant::now();
    let batch = config.housekeeping.batch_size.max(1) as i64;
    // Until this long after expiry, a token issued from a code or refresh row may live: the
    // configured access-token lifetime, or a resource's own when longer.
    let longest = store
        .longest_access_token_lifetime(config.tokens.access_token_lifetime)
        .await? as i64;
    let used_before = now - longest;
    let idle_since = now - config.session.idle_lifetime as i64;
    let mut counts = PurgeCounts::default();
    let mut record = |table: &'static str, n: u64| {
        metrics::counter!("portcullis_purged_rows_total", "table" => table).increment(n);
        progress(table, n);
        counts.0.push((table, n));
    };

    let n = drain(batch, |l| {
        store.delete_expired_authorization_requests(now, l)
    })
    .await?;
    record("authorization_requests", n);
    let n = drain(batch, |l| store.delete_expired_codes(now, used_before, l)).await?;
    record("authorization_codes", n);
    let n = drain(batch, |l| {
        store.delete_expired_device_codes(now, used_before, l)
    })
    .await?;
    record("device_codes", n);
    let n = drain(batch, |l| store.delete_expired_opaque_tokens(now, l)).await?;
    record("access_tokens", n);
    let n = drain(batch, |l| {
        store.delete_expired_refresh_tokens(used_before, l)
    })
    .await?;
    record("refresh_tokens", n);
    let n = drain(batch, |l| store.delete_expired_revocations(now, l)).await?;
    record("revocations", n);
    let n = drain(batch, |l| store.delete_expired_jtis(now, l)).await?;
    record("used_jtis", n);
    let n = drain(batch, |l| store.delete_expired_sessions(now, idle_since, l)).await?;
    record("sessions", n);
    let n = drain(batch, |l| store.delete_expired_session_clients(now, l)).await?;
    record("session_clients", n);
    let n = drain(batch, |l| {
        crate::throttle::purge(store, &config.throttle, now, l)
    })
    .await?;
    record("sign_in_throttle", n);
    let n = drain(batch, |l| crate::rate_limit::purge(store, now, l)).await?;
    record("token_rate_limit", n);
    let retention = config.audit.retention as i64;
    let n = if retention == 0 {
        0
    } else {
        drain(batch, |l| store.delete_old_audit_events(now - retention, l)).await?
    };
    record("audit_events", n);

    let summary = counts
        .0
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(
        total = counts.total(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "housekeeping: purged expired rows: {summary}"
    );
    Ok(counts)
}

/// Deletes batch after batch until one comes back short; returns the rows deleted. Yields
/// between batches so a long backlog shares the runtime with requests.
async fn drain<F, Fut>(batch: i64, mut delete: F) -> Result<u64, StoreError>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let n = delete(batch).await?;
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}
