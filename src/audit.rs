//! Security events: sign-ins, lockouts, consent, revocation, replays. Each is written
//! to `audit_events` (beside the admin changes, which their own transactions record) and to the
//! structured log with the same fields, and `GET /admin/events` / `portcullis events` read them.
//! Routine token issuance is not an event: it goes to the log and metrics only, so the token
//! endpoint's hot path writes nothing.
//!
//! Fields: `actor` is who acted (`ip:<address>`, `user:<id>`, `client:<id>`, or the admin
//! token's actor), `target` what it acted on (a user id, client id, grant id, …), `detail` a
//! small JSON object. Never a secret, password, token or typed username (a user may type their
//! password into the username field).

use serde_json::Value;

use crate::store::{AuditEvent, Store};

/// Who acted, as the audit trail records it: an admin token's actor, `cli`, or for security
/// events the address, user or client behind them.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn cli() -> Self {
        Actor("cli".into())
    }
}

/// Event types (`action`), besides the admin changes (`client.create`, `keys.rotate`, …).
pub mod action {
    pub const SIGN_IN_SUCCESS: &str = "sign_in.success";
    pub const SIGN_IN_FAILURE: &str = "sign_in.failure";
    /// A failure that made a counter block (the account's or the address's).
    pub const SIGN_IN_LOCKOUT: &str = "sign_in.lockout";
    /// A wrong user code that made a counter block (RFC 8628 §5.1).
    pub const USER_CODE_LOCKOUT: &str = "device.user_code_lockout";
    pub const CONSENT_GRANTED: &str = "consent.granted";
    pub const CONSENT_DENIED: &str = "consent.denied";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    /// RFC 9700 §4.14.2: a spent refresh token presented again.
    pub const REFRESH_TOKEN_REUSE: &str = "refresh_token.reuse";
    /// RFC 6749 §4.1.2: an authorization code (or device code) redeemed twice.
    pub const CODE_REPLAY: &str = "code.replay";
    /// RFC 7521 §5.2 / RFC 7523 §3: an assertion's one-time id seen again.
    pub const ASSERTION_REPLAY: &str = "assertion.replay";
}

/// Events logged at `warn`: each means someone may be attacking.
fn is_alarm(action: &str) -> bool {
    matches!(
        action,
        action::SIGN_IN_LOCKOUT
            | action::USER_CODE_LOCKOUT
            | action::REFRESH_TOKEN_REUSE
            | action::CODE_REPLAY
            | action::ASSERTION_REPLAY
    )
}

/// Writes the event to the store and the log. A store failure is logged and swallowed: the
/// request that caused the event has already decided its answer, and failing it would let an
/// unavailable audit table turn a refusal into something else.
pub async fn record(
    store: &Store,
    now: i64,
    action: &str,
    actor: &str,
    target: &str,
    detail: Value,
) {
    let event = AuditEvent::new(now, actor, action, target, detail);
    if is_alarm(action) {
        tracing::warn!(target: "portcullis::audit", action, actor, subject = target,
            detail = %event.detail, "security event");
    } else {
        tracing::info!(target: "portcullis::audit", action, actor, subject = target,
            detail = %event.detail, "security event");
    }
    if let Err(e) = store.insert_audit_event(&event).await {
        tracing::error!(target: "portcullis::audit", action, error = %e,
            "cannot write a security event to the store");
    }
}

/// `client:<id>`, the actor of a client's request.
pub fn client_actor(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// `user:<id>`, the actor of a signed-in user's choice.
pub fn user_actor(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// `ip:<address>`, the actor of an unauthenticated browser.
pub fn ip_actor(ip: std::net::IpAddr) -> String {
    format!("ip:{}", ip.to_canonical())
}
