//! Who still uses a legacy flow: every use of the implicit flow or the password grant
//! logs a deprecation warning and is counted per client, flow and day, and
//! `GET /admin/legacy-usage?days=N` lists the clients, so operators know whom to migrate. The
//! counting itself is `oauth::legacy_usage`.

use super::AdminError;
use crate::oauth::legacy_usage::DAY;
use crate::store::{LegacyUsageRow, Store};

pub const DEFAULT_DAYS: i64 = 30;
pub const MAX_DAYS: i64 = 366;

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
