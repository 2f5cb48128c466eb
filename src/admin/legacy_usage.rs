//! Who still uses a legacy flow (RFC 9700 §2.1.2, §2.4): every use of the implicit flow or the password grant
//! logs a deprecation warning and is counted per client, flow and day, and
//! `GET /admin/legacy-usage?days=N` lists the clients, so operators know whom to migrate.

use serde::Serialize;

use super::AdminError;
use crate::store::{LegacyUsageRow, Store, StoreError};

/// The two flows OAuth 2.1 removed (RFC 9700 §2.1.2, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyFlow {
    Implicit,
    Password,
}

impl LegacyFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            LegacyFlow::Implicit => "implicit",
            LegacyFlow::Password => "password",
        }
    }
}

const DAY: i64 = 86_400;
pub const DEFAULT_DAYS: i64 = 30;
pub const MAX_DAYS: i64 = 366;

/// Logs the deprecation warning (the client id only, never a credential or token) and counts
/// the use in the store, where every node's uses add up.
pub async fn record_use(
    store: &Store,
    client_id: &str,
    flow: LegacyFlow,
    now: i64,
) -> Result<(), StoreError> {
    tracing::warn!(
        client_id,
        flow = flow.as_str(),
        "deprecated legacy flow used (RFC 9700); migrate this client to the code flow with PKCE"
    );
    metrics::counter!("portcullis_legacy_flow_uses_total", "flow" => flow.as_str()).increment(1);
    store
        .record_legacy_use(client_id, flow.as_str(), now.div_euclid(DAY), now)
        .await?;
    Ok(())
}

/// The clients that used a legacy flow in the last `days` days (today included), most recent
/// first, with the flow, the last use and the number of uses.
pub async fn list(
    store: &Store,
    days: Option<i64>,
    now: i64,
) -> Result<Vec<LegacyUsageRow>, AdminError> {
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AdminError::InvalidRequest(format!(
            "days must be an integer from 1 to {MAX_DAYS}"
        )));
    }
    let today = now.div_euclid(DAY);
    Ok(store.list_legacy_usage(today - (days - 1)).await?)
}
