//! Sign-in throttling (issue 4, RFC 9700 §4.10 "brute force" and NIST SP 800-63B §5.2.2 rate
//! limiting): failed sign-ins are counted per account and per IP, in the store so that every
//! node sees them, and each failure past the free attempts blocks for twice as long as the
//! one before, up to `throttle.max_delay`.
//!
//! `sign_in` is the one password check behind the throttle: `check` before verifying the
//! password, then `record_failure` or `record_success`. The sign-in page and the password grant
//! (issue 7) both call it, so they share the counters. Unknown usernames are counted exactly
//! like known ones, so the answers tell nothing about which accounts exist.
//!
//! The device verification page counts wrong user codes with the same machinery
//! (`check_user_code`, `record_user_code_miss`; RFC 8628 §5.1).

use std::net::{IpAddr, Ipv6Addr};

use serde_json::json;

use crate::admin::Actor;
use crate::admin::users::{MAX_USERNAME_CHARS, User, authenticate, normalize_username};
use crate::audit;
use crate::config::ThrottleConfig;
use crate::error::OAuthError;
use crate::oauth::context::ProtocolContext;
use crate::secret::sha256_hex;
use crate::store::{AuditEvent, Backoff, Store, StoreError, ThrottleRow};

/// A sign-in refused for now: try again in `retry_after` seconds (the `Retry-After` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: u64,
}

/// What `check` answers when the store cannot: fail closed, briefly.
const RETRY_WHEN_STORE_FAILS: u64 = 1;

/// `account:<username>`, lower-cased as usernames are stored. A name that is not a valid
/// username is cut to the longest valid length, so a huge name cannot make a huge key.
pub fn account_key(username: &str) -> String {
    let name = normalize_username(username).unwrap_or_else(|_| {
        username
            .to_lowercase()
            .chars()
            .take(MAX_USERNAME_CHARS)
            .collect()
    });
    format!("account:{name}")
}

/// `ip:<address>`; for IPv6 the /64 prefix, since one host usually holds the whole /64 and
/// could otherwise rotate addresses. An IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("ip:{prefix}/64")
        }
    }
}

fn account_backoff(c: &ThrottleConfig) -> Backoff {
    backoff(c, c.account_free_attempts)
}

fn ip_backoff(c: &ThrottleConfig) -> Backoff {
    backoff(c, c.ip_free_attempts)
}

fn backoff(c: &ThrottleConfig, free_attempts: u32) -> Backoff {
    Backoff {
        free_attempts: i64::from(free_attempts),
        base_delay: c.base_delay as i64,
        max_delay: c.max_delay as i64,
        window: c.window as i64,
    }
}

/// Whether `username` may try to sign in from `ip` at `now`. A store failure is logged and
/// answered as throttled for a second: a brute force must not get through while the counters
/// cannot be read.
pub async fn check(
    state: &ProtocolContext,
    username: &str,
    ip: IpAddr,
    now: i64,
) -> Result<(), Throttled> {
    let keys = [account_key(username), ip_key(ip)];
    blocked(state, &keys, now, "portcullis_sign_in_throttled_total").await
}

/// Whether either counter blocks at `now` (each block counted in `metric`); fails closed as
/// `check` says.
async fn blocked(
    state: &ProtocolContext,
    [key, other]: &[String; 2],
    now: i64,
    metric: &'static str,
) -> Result<(), Throttled> {
    let blocked_until = state.store.sign_in_blocked_until(key, other).await;
    match blocked_until {
        Ok(until) if until > now => {
            metrics::counter!(metric).increment(1);
            Err(Throttled {
                retry_after: (until - now) as u64,
            })
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!("throttle: cannot read the counters, refusing: {e}");
            Err(Throttled {
                retry_after: RETRY_WHEN_STORE_FAILS,
            })
        }
    }
}

/// Counts a failed sign-in against the account and the IP: two atomic upserts. A failure that
/// makes either counter block is a `sign_in.lockout` event (`user_id` is the account's user,
/// when it exists).
pub async fn record_failure(
    state: &ProtocolContext,
    username: &str,
    user_id: Option<&str>,
    ip: IpAddr,
    now: i64,
) -> Result<(), StoreError> {
    let c = &state.config.throttle;
    let store = &state.store;
    let by_account = store
        .record_sign_in_failure(&account_key(username), now, &account_backoff(c))
        .await?;
    let by_ip = store
        .record_sign_in_failure(&ip_key(ip), now, &ip_backoff(c))
        .await?;
    let target = user_id.unwrap_or_default();
    for (counter, row) in [("account", by_account), ("ip", by_ip)] {
        if row.blocked_until > now {
            lockout_event(
                state,
                audit::action::SIGN_IN_LOCKOUT,
                counter,
                &row,
                ip,
                target,
                now,
            )
            .await;
        }
    }
    Ok(())
}

/// Records that `row` now blocks (the counter's key is not recorded: an account key holds a
/// typed username).
async fn lockout_event(
    state: &ProtocolContext,
    action: &str,
    counter: &str,
    row: &ThrottleRow,
    ip: IpAddr,
    target: &str,
    now: i64,
) {
    let detail = json!({
        "counter": counter,
        "failures": row.failures,
        "blocked_until": row.blocked_until,
    });
    audit::record(
        &state.store,
        now,
        action,
        &audit::ip_actor(ip),
        target,
        detail,
    )
    .await;
}

/// A successful sign-in clears the account's counter. The IP's counter is left to decay: one
/// right password must not wipe out a spray of wrong ones from the same address.
pub async fn record_success(
    state: &ProtocolContext,
    username: &str,
    _ip: IpAddr,
    _now: i64,
) -> Result<(), StoreError> {
    state
        .store
        .clear_sign_in_throttle(&account_key(username))
        .await?;
    Ok(())
}

/// Password checks by outcome (`success`, `failure`); refusals before the check are
/// `portcullis_sign_in_throttled_total`.
const SIGN_INS: &str = "portcullis_sign_ins_total";

/// What a password check behind the throttle came to.
#[derive(Debug)]
pub enum SignIn {
    /// The password is right and the user may sign in (not disabled).
    User(Box<User>),
    /// Too many failures: refused without looking at the password.
    Throttled(Throttled),
    /// Wrong username or password, or a disabled user: counted as a failure.
    Refused,
}

/// Checks `username` and `password` from `ip` behind the throttle and counts the outcome. The
/// password is verified in constant time, against a dummy hash for unknown users
/// (`admin::users::authenticate`). Errors are store or hashing failures only.
pub async fn sign_in(
    state: &ProtocolContext,
    username: &str,
    password: &str,
    ip: IpAddr,
    now: i64,
) -> Result<SignIn, OAuthError> {
    if let Err(throttled) = check(state, username, ip, now).await {
        return Ok(SignIn::Throttled(throttled));
    }
    match authenticate(&state.store, username, password).await? {
        // Counted by outcome only: a username in a label would publish who signs in.
        Some(user) => {
            metrics::counter!(SIGN_INS, "outcome" => "success").increment(1);
            record_success(state, username, ip, now).await?;
            let actor = audit::ip_actor(ip);
            audit::record(
                &state.store,
                now,
                audit::action::SIGN_IN_SUCCESS,
                &actor,
                &user.id,
                json!({}),
            )
            .await;
            Ok(SignIn::User(Box::new(user)))
        }
        None => {
            metrics::counter!(SIGN_INS, "outcome" => "failure").increment(1);
            // The event names the account's user when there is one, never the typed name.
            let user_id = match normalize_username(username) {
                Ok(name) => state
                    .store
                    .find_user_by_username(&name)
                    .await?
                    .map(|u| u.id),
                Err(_) => None,
            };
            record_failure(state, username, user_id.as_deref(), ip, now).await?;
            let detail = json!({ "known_user": user_id.is_some() });
            let target = user_id.as_deref().unwrap_or_default();
            audit::record(
                &state.store,
                now,
                audit::action::SIGN_IN_FAILURE,
                &audit::ip_actor(ip),
                target,
                detail,
            )
            .await;
            Ok(SignIn::Refused)
        }
    }
}

/// `DELETE /admin/users/{id}/lockout`: clears the user's account counter (issue 9), audited as
/// `user.clear_lockout`. IP counters are left alone.
pub async fn clear_lockout(
    store: &Store,
    actor: &Actor,
    user_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let user = store
        .get_user(user_id)
        .await?
        .ok_or_else(|| OAuthError::not_found("no such user"))?;
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.clear_lockout",
        &user.id,
        json!({ "username": user.username }),
    );
    let had_counter = store
        .clear_sign_in_throttle_audited(&account_key(&user.username), &audit)
        .await?;
    tracing::info!(user = %user.id, had_counter, "sign-in lockout cleared");
    Ok(())
}

/// User-code guessing at the device verification page (RFC 8628 §5.1): codes that match no
/// pending device authorization are counted per address (`user-code-ip:`, as `ip_key`) and per
/// browser (`user-code-browser:` and the SHA-256 of its CSRF cookie, which every form needs),
/// with the sign-in counters' table, backoff and window, and the sign-in free attempts: the
/// IP's for the address, the account's for the browser. Right codes clear nothing.
fn user_code_keys(ip: IpAddr, browser: &str) -> [String; 2] {
    [
        format!("user-code-{}", ip_key(ip)),
        format!("user-code-browser:{}", sha256_hex(browser)),
    ]
}

/// Whether a browser at `ip` may try a user code at `now`.
pub async fn check_user_code(
    state: &ProtocolContext,
    ip: IpAddr,
    browser: &str,
    now: i64,
) -> Result<(), Throttled> {
    let keys = user_code_keys(ip, browser);
    blocked(state, &keys, now, "portcullis_user_code_throttled_total").await
}

/// Counts a user code that matched nothing against the address and the browser.
pub async fn record_user_code_miss(
    state: &ProtocolContext,
    ip: IpAddr,
    browser: &str,
    now: i64,
) -> Result<(), StoreError> {
    let c = &state.config.throttle;
    let [by_ip, by_browser] = user_code_keys(ip, browser);
    let store = &state.store;
    let by_ip = store
        .record_sign_in_failure(&by_ip, now, &ip_backoff(c))
        .await?;
    let by_browser = store
        .record_sign_in_failure(&by_browser, now, &account_backoff(c))
        .await?;
    for (counter, row) in [("ip", by_ip), ("browser", by_browser)] {
        if row.blocked_until > now {
            lockout_event(
                state,
                audit::action::USER_CODE_LOCKOUT,
                counter,
                &row,
                ip,
                "",
                now,
            )
            .await;
        }
    }
    Ok(())
}

/// Deletes at most `limit` counters that neither block nor remember anything any more.
pub async fn purge(
    store: &Store,
    config: &ThrottleConfig,
    now: i64,
    limit: i64,
) -> Result<u64, StoreError> {
    store
        .purge_sign_in_throttle(now, now - config.window as i64, limit)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(account_key("Alice"), "account:alice");
        assert_eq!(account_key("no such user"), "account:no such user");
        assert_eq!(
            account_key(&"X".repeat(500)),
            format!("account:{}", "x".repeat(200))
        );
        assert_eq!(ip_key("192.0.2.7".parse().unwrap()), "ip:192.0.2.7");
        assert_eq!(ip_key("::ffff:192.0.2.7".parse().unwrap()), "ip:192.0.2.7");
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "ip:2001:db8:1:2::/64"
        );
        assert_eq!(ip_key("::1".parse().unwrap()), "ip:::/64");
    }
}
