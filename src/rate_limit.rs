//! The token endpoint's per-client rate limit: at most `limit` token requests per
//! client per one-minute window (aligned to the minute, `now - now % 60`), across every node,
//! refused with 429 and `Retry-After` (the seconds left in the window).
//!
//! The count is shared through the store without a write per request (the
//! client-credentials JWT path stays write-free). Each node counts locally and, at the first
//! request of a client in each second, adds what it admitted since its last flush *and this
//! request* to the client's row for the window in one upsert (`token_rate_limit`), which returns
//! the fleet's total; that request is admitted when the total is within the limit. The other
//! requests in that second are judged locally against the total last read plus what this node
//! admitted since. So a node writes at most once per client per second, and:
//! - one node alone never admits more than the limit in a window;
//! - the fleet can overshoot by what the other nodes admitted since this node's last flush and
//!   had not yet flushed (with steady traffic, at most one second of their traffic; in the worst
//!   burst at most `nodes × limit` per window); with one request per node per second, as in
//!   `tests/it/rate_limit.rs`, the limit is exact.
//!
//! A request refused at a flush is counted (the window is already full, so that changes
//! nothing); requests refused locally are not. When the store cannot be written, requests are
//! admitted and the failure logged: the limit protects capacity, not a secret, and the store
//! being down already fails most grants.
//!
//! The local counts are per node and short-lived (one window); a node that stops loses at most
//! one second of its counts.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;

use crate::error::{ErrorCode, OAuthError};
use crate::oauth::client::Client;
use crate::state::AppState;

/// Seconds in a window.
pub const WINDOW: i64 = 60;

/// Past this many clients in the map, entries of earlier windows are dropped.
const PRUNE_AT: usize = 1024;

/// This node's view of each client's current window.
#[derive(Debug, Default)]
pub struct TokenRateLimiter {
    clients: Mutex<HashMap<String, Local>>,
}

#[derive(Debug, Clone, Copy)]
struct Local {
    window_start: i64,
    /// The fleet's total at this node's last flush.
    fleet: i64,
    /// Admitted here since the last flush.
    pending: i64,
    /// The second of the last flush.
    flushed_at: i64,
}

impl Local {
    fn new(window_start: i64) -> Self {
        Self {
            window_start,
            fleet: 0,
            pending: 0,
            flushed_at: i64::MIN,
        }
    }
}

/// What the local step decided.
enum Step {
    Admit,
    Refuse,
    /// Flush `requests` (this one included) and decide on the total.
    Flush {
        requests: i64,
    },
}

/// The client's limit: its own `token_requests_per_minute`, else the config's; 0 is none.
pub fn limit_for(state: &AppState, client: &Client) -> u64 {
    client
        .meta
        .token_requests_per_minute
        .unwrap_or(state.config.throttle.token_requests_per_minute)
}

/// Admits or refuses one token request of `client` at `now`.
pub async fn check(state: &AppState, client: &Client, now: i64) -> Result<(), OAuthError> {
    let limit = limit_for(state, client) as i64;
    if limit == 0 {
        return Ok(());
    }
    let limiter = &state.token_rate;
    let window_start = now - now.rem_euclid(WINDOW);
    let retry_after = (window_start + WINDOW - now) as u64;
    let step = limiter.step(&client.id, window_start, now, limit);
    let admitted = match step {
        Step::Admit => true,
        Step::Refuse => false,
        Step::Flush { requests } => {
            match state
                .store
                .add_token_requests(&client.id, window_start, requests)
                .await
            {
                Ok(total) => {
                    limiter.learned(&client.id, window_start, total);
                    total <= limit
                }
                Err(e) => {
                    tracing::warn!(client_id = %client.id, error = %e,
                        "token rate limit: cannot write the count; admitting");
                    limiter.unflushed(&client.id, window_start, requests);
                    true
                }
            }
        }
    };
    if admitted {
        return Ok(());
    }
    metrics::counter!("portcullis_token_rate_limited_total").increment(1);
    tracing::info!(client_id = %client.id, retry_after, "token request rate limited");
    let mut e = OAuthError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TemporarilyUnavailable,
        "too many token requests for this client; retry later",
    )
    .with_detail(format!("client {} over {limit} per minute", client.id));
    e.retry_after = Some(retry_after);
    Err(e)
}

impl TokenRateLimiter {
    fn step(&self, client_id: &str, window_start: i64, now: i64, limit: i64) -> Step {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() > PRUNE_AT {
            clients.retain(|_, l| l.window_start >= window_start);
        }
        let local = clients
            .entry(client_id.to_string())
            .or_insert_with(|| Local::new(window_start));
        if local.window_start != window_start {
            *local = Local::new(window_start);
        }
        if local.flushed_at < now {
            local.flushed_at = now;
            let requests = local.pending + 1;
            local.pending = 0;
            return Step::Flush { requests };
        }
        if local.fleet + local.pending >= limit {
            return Step::Refuse;
        }
        local.pending += 1;
        Step::Admit
    }

    /// The fleet's total read back at a flush (a later read never lowers it).
    fn learned(&self, client_id: &str, window_start: i64, total: i64) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(local) = clients.get_mut(client_id)
            && local.window_start == window_start
        {
            local.fleet = local.fleet.max(total);
        }
    }

    /// A flush that failed: its requests wait for the next one.
    fn unflushed(&self, client_id: &str, window_start: i64, requests: i64) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(local) = clients.get_mut(client_id)
            && local.window_start == window_start
        {
            local.pending += requests;
        }
    }
}

/// Deletes at most `limit` counts of windows already over.
pub async fn purge(
    store: &crate::store::Store,
    now: i64,
    limit: i64,
) -> Result<u64, crate::store::StoreError> {
    let current = now - now.rem_euclid(WINDOW);
    store.delete_old_token_request_counts(current, limit).await
}
