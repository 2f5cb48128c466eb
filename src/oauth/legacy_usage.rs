//! Every use of a legacy flow (the implicit flow, the password grant) logs a deprecation
//! warning and is counted per client, flow and day in the store; the admin API lists them
//! (`admin::legacy_usage`), so operators know whom to migrate.

use serde::Serialize;

use crate::error::OAuthError;
use crate::oauth::context::ProtocolContext;

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

pub(crate) const DAY: i64 = 86_400;

/// Logs the deprecation warning (the client id only, never a credential or token) and counts
/// the use in the store, where every node's uses add up.
pub async fn record_use(
    protocol: &ProtocolContext,
    client_id: &str,
    flow: LegacyFlow,
    now: i64,
) -> Result<(), OAuthError> {
    tracing::warn!(
        client_id,
        flow = flow.as_str(),
        "deprecated legacy flow used (RFC 9700); migrate this client to the code flow with PKCE"
    );
    metrics::counter!("portcullis_legacy_flow_uses_total", "flow" => flow.as_str()).increment(1);
    protocol
        .store
        .record_legacy_use(client_id, flow.as_str(), now.div_euclid(DAY), now)
        .await?;
    Ok(())
}
