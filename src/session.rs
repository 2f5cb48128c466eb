//! Browser sessions (OIDC Core §3.1.2.3: the authorization server's own sign-in state). A
//! random 256-bit id lives in the `portcullis_session` cookie; the store keeps only its SHA-256,
//! so every node shares the session and a database leak yields no usable cookie.
//!
//! A session ends when it is idle for `session.idle_lifetime` seconds, when
//! `session.absolute_lifetime` has passed since it began, when its user is disabled or
//! deleted, or when the user signs out.

use axum::http::{HeaderMap, HeaderValue};

use crate::pages::cookie::{self, SameSite};
use crate::secret::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::StoreError;

pub use crate::store::SessionRow as Session;

pub const SESSION_COOKIE: &str = "portcullis_session";

/// Starts a session for `user_id`, who authenticated at `auth_time`. Returns it and the
/// `Set-Cookie` that carries it. Always a new id, so signing in cannot adopt an id an attacker
/// planted (session fixation); end any previous session with `end_session` first.
pub async fn create_session(
    state: &AppState,
    user_id: &str,
    auth_time: i64,
    now: i64,
) -> Result<(Session, HeaderValue), StoreError> {
    let id = random_token();
    let lifetime = state.config.session.absolute_lifetime;
    let session = Session {
        id_hash: sha256_hex(&id),
        user_id: user_id.to_string(),
        auth_time,
        last_seen_at: now,
        expires_at: now.saturating_add(lifetime as i64),
    };
    state.store.insert_session(&session).await?;
    let cookie = cookie::set(
        SESSION_COOKIE,
        &id,
        SameSite::Lax,
        cookie::secure(state),
        Some(lifetime),
    );
    Ok((session, cookie))
}

/// The session the request's cookie names, if it is still live at `now`; it is marked as seen,
/// which restarts its idle time. A cookie naming a dead session has its row removed.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    let Some(id) = cookie::get(headers, SESSION_COOKIE).filter(|v| cookie::is_token(v)) else {
        return Ok(None);
    };
    let id_hash = sha256_hex(&id);
    let idle_lifetime = state.config.session.idle_lifetime as i64;
    let idle_since = now.saturating_sub(idle_lifetime);
    // A visit is written at most once per `touch_interval`, so an idle session may end up to
    // that much before its idle lifetime, never after it.
    let touch_before = now.saturating_sub(touch_interval(idle_lifetime));
    let session = state
        .store
        .touch_session(&id_hash, now, idle_since, touch_before)
        .await?;
    if session.is_none() {
        state.store.delete_session(&id_hash).await?;
    }
    Ok(session)
}

/// How often a session's last visit is written: a tenth of the idle lifetime, at most a
/// minute (a 30-minute idle lifetime ends between 29 and 30 minutes after the last request).
fn touch_interval(idle_lifetime: i64) -> i64 {
    (idle_lifetime / 10).min(60)
}

/// Signs out: removes the request's session, if any, and returns the `Set-Cookie` that clears
/// the cookie.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, StoreError> {
    Ok(take_session(state, headers).await?.0)
}

/// Like `end_session`, and also returns the session that ended (for back-channel logout).
pub async fn take_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(HeaderValue, Option<Session>), StoreError> {
    let ended = match cookie::get(headers, SESSION_COOKIE).filter(|v| cookie::is_token(v)) {
        Some(id) => state.store.take_session(&sha256_hex(&id)).await?,
        None => None,
    };
    Ok((clear_cookie(state), ended))
}

/// The session's public identifier, the `sid` claim of ID and Logout Tokens (OIDC
/// Back-Channel Logout 1.0 §2.1). Derived from the stored digest of the cookie by one more
/// hash with a label, so it names the session to relying parties without revealing anything
/// that could find or forge the cookie, and needs no column of its own.
pub fn sid(session: &Session) -> String {
    sha256_hex(&format!("portcullis-sid:{}", session.id_hash))[..32].to_string()
}

/// A `Set-Cookie` that deletes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie::set(
        SESSION_COOKIE,
        "",
        SameSite::Lax,
        cookie::secure(state),
        Some(0),
    )
}
