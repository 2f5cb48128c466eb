//! CSRF protection for every form (OWASP "double submit cookie"): a random token in the
//! `portcullis_csrf` cookie, the same token in a hidden field, compared in constant time.
//! Nothing is kept in memory or in the store, so any node can check a form any node served.
//!
//! The cookie is `SameSite=Strict`: a form posted from another site arrives without it and is
//! refused, and an attacker who cannot read our pages cannot learn the token for the field.

use axum::http::{HeaderMap, HeaderValue};

use super::PageError;
use super::cookie::{self, SameSite};
use crate::secret::{constant_time_eq, random_token};
use crate::state::AppState;

pub const CSRF_COOKIE: &str = "portcullis_csrf";
/// The hidden field every form carries.
pub const CSRF_FIELD: &str = "csrf_token";

/// The token to put in a form's hidden field, and the `Set-Cookie` to send with the page when
/// the request did not already carry a usable token. Reusing the cookie's token keeps forms
/// open in other tabs valid.
pub fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = cookie::get(headers, CSRF_COOKIE).filter(|t| cookie::is_token(t)) {
        return (token, None);
    }
    let token = random_token();
    let set = cookie::set(
        CSRF_COOKIE,
        &token,
        SameSite::Strict,
        cookie::secure(state),
        None,
    );
    (token, Some(set))
}

/// Accepts a form only when its `csrf_token` field equals the cookie's token, both present
/// and non-empty.
pub fn verify_csrf(headers: &HeaderMap, form_value: &str) -> Result<(), PageError> {
    let Some(cookie) = cookie::get(headers, CSRF_COOKIE) else {
        return Err(PageError::Csrf("no CSRF cookie, or more than one"));
    };
    if cookie.is_empty() || form_value.is_empty() {
        return Err(PageError::Csrf("empty CSRF token"));
    }
    if !constant_time_eq(&cookie, form_value) {
        return Err(PageError::Csrf("CSRF token does not match the cookie"));
    }
    Ok(())
}
