//! RFC 8628 §3.3: the verification pages at `/device`. The user enters the code the device
//! shows (or arrives with it filled in, §3.3.1), signs in, sees which application asks for
//! what on a device, and approves or denies. The device learns the decision when it next polls
//! (`grants::device_code`), on whichever node.
//!
//! Every form carries the CSRF token and the user code; every use of a user code goes through
//! `find_code`, which throttles guessing per address and per browser in the store (§5.1).
//! Approval is never remembered or skipped, not even for first-party clients: §5.4 remote
//! phishing is exactly a user approving a code someone else started.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::signin::{SignInRefused, sign_in_with_password};
use crate::names::path;
use crate::oauth::client::Client;
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::oauth::user_code;
use crate::pages::cookie;
use crate::pages::scopes::describe_scopes;
use crate::pages::views::{self, Hidden};
use crate::pages::{CSRF_COOKIE, CSRF_FIELD, Page, PageError, csrf_token, error_page, templates};
use crate::proxy::client_ip;
use crate::session::{Session, current_session};
use crate::state::AppState;
use crate::store::{DeviceCodeRow, DeviceCodeStatus, StoreError};
use crate::throttle::{self, Throttled};

/// The form field (and query parameter, §3.3.1) that carries the user code.
const CODE_FIELD: &str = "user_code";

const MALFORMED: &str = "A code has eight letters, like WDJB-MJHT. Check the code on your device.";
/// The same words whether the code never existed, expired or was already used: no oracle.
const NO_SUCH_CODE: &str =
    "That code is not valid or has expired. Check the code on your device, or start again there.";

/// `GET /device`, possibly `?user_code=WDJB-MJHT` (`verification_uri_complete`). The code is
/// only filled in: the user still presses Continue, after comparing it with the device.
pub async fn enter_code(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let prefill = params
        .get(CODE_FIELD)
        .and_then(user_code::normalize)
        .map(|c| user_code::display(&c))
        .unwrap_or_default();
    code_page(&state, &headers, prefill, None)
}

/// `POST /device`: the code entered. Signed in: the approval page; else the sign-in page.
pub async fn submit_code(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let params = Params::parse(&body).unwrap_or_default();
    let found = match find_code(
        &state,
        &headers,
        client_ip(peer.ip(), &headers, &state.trusted_proxies),
        &params,
        now,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    match current_session(&state, &headers, now).await {
        Ok(Some(session)) => approval_page(&state, &headers, &found, &session).await,
        Ok(None) => signin_page(&state, &headers, &found, None),
        Err(e) => PageError::Store(e).page(&state),
    }
}

/// `POST /device/signin`: the sign-in form of a verification, then the approval page.
pub async fn signin(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let params = Params::parse(&body).unwrap_or_default();
    // Both throttles (user-code guessing and sign-in) count the client, not a proxy before us.
    let ip = client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let found = match find_code(&state, &headers, ip, &params, now).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    match sign_in_with_password(&state, &headers, ip, username, password, now).await {
        Ok((session, cookie)) => {
            tracing::info!(user_id = %session.user_id, client_id = %found.client.id, "signed in (device)");
            let mut response = approval_page(&state, &headers, &found, &session).await;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(SignInRefused::Form(status, message)) => {
            tracing::info!(client_id = %found.client.id, "sign-in refused (device)");
            signin_page(&state, &headers, &found, Some((status, message)))
        }
        Err(SignInRefused::Page(e)) => e.page(&state),
    }
}

/// `POST /device/approve`: Allow or Deny, recorded on the device code in one statement.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let params = Params::parse(&body).unwrap_or_default();
    let found = match find_code(
        &state,
        &headers,
        client_ip(peer.ip(), &headers, &state.trusted_proxies),
        &params,
        now,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let session = match current_session(&state, &headers, now).await {
        Ok(Some(session)) => session,
        // Signed out in another tab: sign in again.
        Ok(None) => return signin_page(&state, &headers, &found, None),
        Err(e) => return PageError::Store(e).page(&state),
    };
    // Anything but an explicit Allow is a denial (RFC 8628 §3.5 access_denied).
    let decision = if params.get("decision") == Some("allow") {
        DeviceCodeStatus::Approved
    } else {
        DeviceCodeStatus::Denied
    };
    let decided = state
        .store
        .decide_device_code(
            &found.row.user_code_hash,
            decision,
            &session.user_id,
            session.auth_time,
            now,
        )
        .await;
    match decided {
        Ok(Some(row)) => {
            tracing::info!(
                user_id = %session.user_id,
                client_id = %found.client.id,
                grant_id = %row.grant_id,
                decision = decision.as_str(),
                "device authorization decided"
            );
            let action = if decision == DeviceCodeStatus::Approved {
                crate::audit::action::CONSENT_GRANTED
            } else {
                crate::audit::action::CONSENT_DENIED
            };
            let actor = crate::audit::user_actor(&session.user_id);
            let detail = serde_json::json!({ "scope": row.scope, "device": true });
            crate::audit::record(&state.store, now, action, &actor, &found.client.id, detail).await;
            let view = views::DeviceDone {
                approved: decision == DeviceCodeStatus::Approved,
                client_name: found.client.meta.client_name.clone(),
            };
            Page::new(&state, templates::DEVICE_DONE, &view).into_response()
        }
        // Decided in another tab, or expired in the meantime.
        Ok(None) => code_page(
            &state,
            &headers,
            String::new(),
            Some((StatusCode::BAD_REQUEST, NO_SUCH_CODE.into())),
        ),
        Err(e) => PageError::Store(e).page(&state),
    }
}

/// A pending device authorization a form named, with its client.
struct Found {
    /// As shown: `WDJB-MJHT`.
    shown: String,
    row: DeviceCodeRow,
    client: Client,
}

/// The shared first step of every form: the CSRF check, then the user code behind the
/// guessing throttle. `Err` is the page to answer with.
async fn find_code(
    state: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
    params: &Params,
    now: i64,
) -> Result<Found, Response> {
    if let Err(e) = crate::pages::verify_csrf(headers, params.get(CSRF_FIELD).unwrap_or_default()) {
        return Err(e.page(state));
    }
    // verify_csrf has just checked that the cookie is there.
    let browser = cookie::get(headers, CSRF_COOKIE).unwrap_or_default();
    let typed = params.get(CODE_FIELD).unwrap_or_default();
    if let Err(Throttled { retry_after }) =
        throttle::check_user_code(&state.store, ip, &browser, now).await
    {
        let message = format!("Too many attempts; try again in {retry_after} seconds.");
        return Err(code_page(
            state,
            headers,
            typed.chars().take(32).collect(),
            Some((StatusCode::TOO_MANY_REQUESTS, message)),
        ));
    }
    // A malformed code cannot match anything, so it is not counted as a guess.
    let Some(code) = user_code::normalize(typed) else {
        return Err(code_page(
            state,
            headers,
            typed.chars().take(32).collect(),
            Some((StatusCode::BAD_REQUEST, MALFORMED.into())),
        ));
    };
    let store_failed = |e: StoreError| PageError::Store(e).page(state);
    let row = state
        .store
        .pending_device_code(&user_code::digest(&code), now)
        .await
        .map_err(store_failed)?;
    let client = match &row {
        Some(row) => state
            .store
            .get_client(&row.client_id)
            .await
            .map_err(store_failed)?
            .and_then(|c| Client::from_row(c).ok()),
        None => None,
    };
    let (Some(row), Some(client)) = (row, client) else {
        throttle::record_user_code_miss(&state.store, &state.config.throttle, ip, &browser, now)
            .await
            .map_err(store_failed)?;
        tracing::info!("device verification: no pending code matches");
        return Err(code_page(
            state,
            headers,
            user_code::display(&code),
            Some((StatusCode::BAD_REQUEST, NO_SUCH_CODE.into())),
        ));
    };
    Ok(Found {
        shown: user_code::display(&code),
        row,
        client,
    })
}

/// The page where the code is entered, with `error` (status and words) after a failed try.
fn code_page(
    state: &AppState,
    headers: &HeaderMap,
    user_code: String,
    error: Option<(StatusCode, String)>,
) -> Response {
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let (token, cookie) = csrf_token(state, headers);
    let view = views::DeviceCodeEntry {
        action: path::DEVICE.into(),
        csrf_token: token,
        user_code,
        error,
    };
    Page::new(state, templates::DEVICE_CODE, &view)
        .with_status(status)
        .with_cookie(cookie)
        .into_response()
}

fn hidden(found: &Found) -> Vec<Hidden> {
    vec![Hidden {
        name: CODE_FIELD.into(),
        value: found.shown.clone(),
    }]
}

/// The shared sign-in page (`signin.html`), posting to `/device/signin`.
fn signin_page(
    state: &AppState,
    headers: &HeaderMap,
    found: &Found,
    error: Option<(StatusCode, String)>,
) -> Response {
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let (token, cookie) = csrf_token(state, headers);
    let view = views::SignIn {
        client_name: found.client.meta.client_name.clone(),
        action: path::DEVICE_SIGNIN.into(),
        csrf_token: token,
        hidden: hidden(found),
        username: String::new(),
        error,
    };
    Page::new(state, templates::SIGNIN, &view)
        .with_status(status)
        .with_cookie(cookie)
        .into_response()
}

/// The approval page: the application, the code to compare, each scope in words, and the
/// warning against approving a code someone else started (RFC 8628 §5.4).
async fn approval_page(
    state: &AppState,
    headers: &HeaderMap,
    found: &Found,
    session: &Session,
) -> Response {
    let username = match state.store.get_user(&session.user_id).await {
        Ok(user) => user.map(|u| u.username).unwrap_or_default(),
        Err(e) => return PageError::Store(e).page(state),
    };
    let Some(scope) = Scope::parse(&found.row.scope) else {
        tracing::error!(grant_id = %found.row.grant_id, "device code with a bad scope");
        return error_page(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Your request could not be completed. Please try again later.",
        );
    };
    let scopes = match describe_scopes(&state.store, &found.client, &scope).await {
        Ok(scopes) => scopes,
        Err(e) => return PageError::Store(e).page(state),
    };
    let (token, cookie) = csrf_token(state, headers);
    let view = views::DeviceApproval {
        client_name: found.client.meta.client_name.clone(),
        logo_uri: views::https_logo(found.client.meta.logo_uri.as_deref()),
        username,
        user_code: found.shown.clone(),
        scopes,
        action: path::DEVICE_APPROVE.into(),
        csrf_token: token,
        hidden: hidden(found),
    };
    Page::new(state, templates::DEVICE_APPROVE, &view)
        .with_cookie(cookie)
        .into_response()
}
