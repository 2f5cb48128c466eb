//! The pages of an authorization request: sign-in, consent, and the error pages shown when a
//! refusal must not reach the client.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Pending, REQUEST_FIELD};
use crate::error::OAuthError;
use crate::names::path;
use crate::oauth::scope::Scope;
use crate::pages::scopes::describe_scopes;
use crate::pages::views::{self, Hidden};
use crate::pages::{Page, PageError, csrf_token, error_page, templates};
use crate::session::Session;
use crate::state::AppState;

fn hidden(pending: &Pending) -> Vec<Hidden> {
    vec![Hidden {
        name: REQUEST_FIELD.into(),
        value: pending.id.clone(),
    }]
}

/// The sign-in page; its form may lead on to the client (the redirect after sign-in).
pub fn signin_page(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
    error: Option<(StatusCode, String)>,
) -> Response {
    let (token, cookie) = csrf_token(state, headers);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let view = views::SignIn {
        client_name: pending.client.meta.client_name.clone(),
        action: path::AUTHORIZE_SIGNIN.into(),
        csrf_token: token,
        hidden: hidden(pending),
        username: pending.request.login_hint.clone().unwrap_or_default(),
        error,
    };
    Page::new(state, templates::SIGNIN, &view)
        .with_status(status)
        .with_cookie(cookie)
        .allow_form_target(&pending.request.to.redirect_uri)
        .into_response()
}

/// The consent page: the client and each requested scope in words.
pub(super) async fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
    session: &Session,
    scope: &Scope,
) -> Response {
    let username = match state.store.get_user(&session.user_id).await {
        Ok(user) => user.map(|u| u.username).unwrap_or_default(),
        Err(e) => return PageError::Store(e).page(state),
    };
    let scopes = match describe_scopes(&state.store, &pending.client, scope).await {
        Ok(scopes) => scopes,
        Err(e) => return PageError::Store(e).page(state),
    };
    let (token, cookie) = csrf_token(state, headers);
    let view = views::Consent {
        client_name: pending.client.meta.client_name.clone(),
        logo_uri: views::https_logo(pending.client.meta.logo_uri.as_deref()),
        username,
        scopes,
        action: path::AUTHORIZE_CONSENT.into(),
        csrf_token: token,
        hidden: hidden(pending),
    };
    Page::new(state, templates::CONSENT, &view)
        .with_cookie(cookie)
        .allow_form_target(&pending.request.to.redirect_uri)
        .into_response()
}

/// A refusal that must not reach the client: the error page.
pub(super) fn refusal_page(state: &AppState, e: OAuthError) -> Response {
    if e.status.is_server_error() {
        return store_failed(state, e);
    }
    tracing::info!(error = e.code.as_str(), detail = ?e.detail, "authorization request refused (page)");
    let explanation = if e.description.contains("redirect_uri") {
        "The application sent you here with a return address it has not registered. \
         Contact the application's support."
    } else if e.description.contains("client") {
        "The application that sent you here is not known to this server. Contact the \
         application's support."
    } else {
        "The application sent a request this server cannot handle. Go back to the \
         application and try again."
    };
    error_page(
        state,
        StatusCode::BAD_REQUEST,
        "This request is not valid",
        explanation,
    )
}

pub(super) fn bad_request_page(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::BAD_REQUEST,
        "This request is not valid",
        "The application sent a request this server cannot handle. Go back to the \
         application and try again.",
    )
}

pub fn expired_page(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "The sign-in took too long or was already completed. Go back to the application and \
         start again.",
    )
}

pub(super) fn store_failed(state: &AppState, e: OAuthError) -> Response {
    tracing::error!(error = e.code.as_str(), detail = ?e.detail, "authorization request failed");
    let (status, title) = if e.status == StatusCode::SERVICE_UNAVAILABLE {
        (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
    };
    error_page(
        state,
        status,
        title,
        "Your request could not be completed. Please try again later.",
    )
}
