//! The sign-in form of an authorization request (OIDC Core §3.1.2.3): the password is checked
//! behind the sign-in throttle, and a new session starts with `auth_time` = now.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::authorize::{REQUEST_FIELD, load_pending, resume, signin_page};
use crate::admin::users::authenticate;
use crate::oauth::params::Params;
use crate::pages::{CSRF_FIELD, PageError, verify_csrf};
use crate::session::{create_session, end_session};
use crate::state::AppState;
use crate::store::StoreError;
use crate::throttle::{self, Throttled};

/// Shown for every failed attempt: it does not say which of the two was wrong.
const WRONG: &str = "The username or password is not correct.";

/// `POST /authorize/signin`.
pub async fn signin(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let params = Params::parse(&body).unwrap_or_default();
    if let Err(e) = verify_csrf(&headers, params.get(CSRF_FIELD).unwrap_or_default()) {
        return e.page(&state);
    }
    let pending =
        match load_pending(&state, params.get(REQUEST_FIELD).unwrap_or_default(), now).await {
            Ok(p) => p,
            Err(page) => return page,
        };
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    // The sign-in throttle counts the client, not a reverse proxy in front of us.
    let ip = crate::proxy::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    if let Err(Throttled { retry_after }) = throttle::check(&state, username, ip, now).await {
        let message = format!("Too many attempts; try again in {retry_after} seconds.");
        return signin_page(
            &state,
            &headers,
            &pending,
            Some((StatusCode::TOO_MANY_REQUESTS, message)),
        );
    }
    let user = match authenticate(&state.store, username, password).await {
        Ok(user) => user,
        Err(e) => {
            // Only store or hashing failures reach here; keep their 503-or-500 meaning.
            let cause = e.to_string();
            let failure = if e.status == StatusCode::SERVICE_UNAVAILABLE {
                StoreError::Unavailable(cause)
            } else {
                StoreError::Database(cause)
            };
            return PageError::Store(failure).page(&state);
        }
    };
    let Some(user) = user else {
        if let Err(e) = throttle::record_failure(&state, username, ip, now).await {
            return PageError::Store(e).page(&state);
        }
        tracing::info!(client_id = %pending.client.id, "sign-in refused");
        return signin_page(
            &state,
            &headers,
            &pending,
            Some((StatusCode::OK, WRONG.into())),
        );
    };
    if let Err(e) = throttle::record_success(&state, username, ip, now).await {
        return PageError::Store(e).page(&state);
    }
    // A new session id on every sign-in (no fixation): the old one ends first.
    if let Err(e) = end_session(&state, &headers).await {
        return PageError::Store(e).page(&state);
    }
    let (session, cookie) = match create_session(&state, &user.id, now, now).await {
        Ok(s) => s,
        Err(e) => return PageError::Store(e).page(&state),
    };
    tracing::info!(user_id = %user.id, client_id = %pending.client.id, "signed in");
    let mut response = resume(&state, &headers, pending, Some(session), None).await;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}
