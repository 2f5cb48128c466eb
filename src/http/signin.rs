//! The sign-in form of an authorization request (OIDC Core §3.1.2.3): the password is checked
//! behind the sign-in throttle, and a new session starts with `auth_time` = now. That step,
//! `sign_in_with_password`, is shared by every sign-in form (the device pages use it too).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::authorize::{REQUEST_FIELD, load_pending, resume, signin_page};
use crate::oauth::params::Params;
use crate::pages::{CSRF_FIELD, PageError, verify_csrf};
use crate::session::{Session, create_session, end_session};
use crate::state::AppState;
use crate::store::StoreError;
use crate::throttle::{self, SignIn, Throttled};
use crate::users::UserError;

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
    let (session, cookie) =
        match sign_in_with_password(&state, &headers, ip, username, password, now).await {
            Ok(signed_in) => signed_in,
            Err(SignInRefused::Form(status, message)) => {
                tracing::info!(client_id = %pending.client.id, "sign-in refused");
                return signin_page(&state, &headers, &pending, Some((status, message)));
            }
            Err(SignInRefused::Page(e)) => return e.page(&state),
        };
    tracing::info!(user_id = %session.user_id, client_id = %pending.client.id, "signed in");
    let mut response = resume(&state, &headers, pending, Some(session), None).await;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// Why a password sign-in started no session.
pub enum SignInRefused {
    /// Show the sign-in form again, with this status and message for the user.
    Form(StatusCode, String),
    /// Show the error page for this failure.
    Page(PageError),
}

/// Every sign-in form's step: checks `username` and `password` behind the sign-in throttle
/// and, when they are right, starts a new session (the request's previous one ends first, so
/// no id an attacker planted survives). Returns the session and its `Set-Cookie`.
pub async fn sign_in_with_password(
    state: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
    username: &str,
    password: &str,
    now: i64,
) -> Result<(Session, HeaderValue), SignInRefused> {
    let store_failed = |e: StoreError| SignInRefused::Page(PageError::Store(e));
    let user = match throttle::sign_in(
        &state.store,
        &state.passwords,
        &state.config.throttle,
        username,
        password,
        ip,
        now,
    )
    .await
    {
        Ok(SignIn::User(user)) => user,
        Ok(SignIn::Throttled(Throttled { retry_after })) => {
            let message = format!("Too many attempts; try again in {retry_after} seconds.");
            return Err(SignInRefused::Form(StatusCode::TOO_MANY_REQUESTS, message));
        }
        Ok(SignIn::Refused) => return Err(SignInRefused::Form(StatusCode::OK, WRONG.into())),
        Err(UserError::Store(e)) => return Err(store_failed(e)),
        // Hashing or a stored user that does not parse: the server's fault, a 500 page.
        Err(e) => return Err(store_failed(StoreError::Database(e.to_string()))),
    };
    // A new session id on every sign-in (no fixation): the old one ends first.
    end_session(state, headers).await.map_err(store_failed)?;
    create_session(state, &user.id, now, now)
        .await
        .map_err(store_failed)
}
