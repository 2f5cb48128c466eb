//! RFC 6749 §4.1.1–4.1.2, OIDC Core §3.1.2: the authorization endpoint. A request is checked
//! (`oauth::authorize_request`), stored server-side for ten minutes under the SHA-256 of a
//! random id the pages carry in a hidden field, and resumed after the sign-in
//! (`http::signin`) and consent (`http::consent`) pages until a code is issued.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::error::OAuthError;
use crate::grants::authorization_code::{CodeGrant, issue_code};
use crate::grants::implicit;
use crate::oauth::authorize_request::{
    self, AuthorizeRequest, Refusal, consent_required, login_required,
};
use crate::oauth::client::Client;
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::pages::PageError;
use crate::secret::{random_token, sha256_hex};
use crate::session::{self, Session, current_session};
use crate::state::AppState;
use crate::store::{AuthorizationRequestRow, SessionClientRow};

mod pages;
mod response;

use pages::{bad_request_page, consent_page, refusal_page, store_failed};
pub use pages::{expired_page, signin_page};
pub use response::{respond, respond_with};

/// How long a user has to sign in and consent.
const REQUEST_LIFETIME: i64 = 600;
/// The hidden field that names the pending request.
pub const REQUEST_FIELD: &str = "request_id";

/// `GET /authorize`: the request in the query string (RFC 6749 §4.1.1).
pub async fn authorize_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    start(&state, &headers, query.unwrap_or_default().as_bytes()).await
}

/// `POST /authorize`: the request as a form (OIDC Core §3.1.2.1).
pub async fn authorize_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return bad_request_page(&state);
    }
    start(&state, &headers, &body).await
}

async fn start(state: &AppState, headers: &HeaderMap, raw: &[u8]) -> Response {
    // RFC 6749 §3.1: parameters must not repeat; the client is not known yet, so no redirect.
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return refusal_page(state, e),
    };
    let (client, request) = match authorize_request::parse(state, &params).await {
        Ok(ok) => ok,
        Err(Refusal::Page(e)) => return refusal_page(state, e),
        Err(Refusal::Redirect(to, e)) => return respond(state, &to, Err(e)),
    };
    // Stored only when a page must be shown (`keep`): a browser with a session and consent
    // gets its code in this one request, with nothing to resume.
    let pending = Pending {
        id: random_token(),
        request,
        client,
        stored: false,
    };
    resume(state, headers, pending, None, None).await
}

/// Stores the request under its id, so the sign-in or consent page about to be shown can
/// resume it (`load_pending`); a request already stored is left alone.
async fn keep(state: &AppState, pending: &Pending, now: i64) -> Result<(), Response> {
    if pending.stored {
        return Ok(());
    }
    let request = serde_json::to_string(&pending.request)
        .map_err(|e| store_failed(state, OAuthError::server_error().with_detail(e.to_string())))?;
    let row = AuthorizationRequestRow {
        id_hash: sha256_hex(&pending.id),
        client_id: pending.client.id.clone(),
        request,
        created_at: now,
        expires_at: now + REQUEST_LIFETIME,
    };
    state
        .store
        .insert_authorization_request(&row)
        .await
        .map_err(|e| PageError::Store(e).page(state))
}

/// A stored request being worked on.
pub struct Pending {
    pub id: String,
    pub request: AuthorizeRequest,
    pub client: Client,
    /// In the store under `id` (a page was shown for it); taken when it finishes.
    pub stored: bool,
}

/// Loads the pending request a page names: `Err` is the page to show when it is unknown or
/// has expired.
pub async fn load_pending(state: &AppState, id: &str, now: i64) -> Result<Pending, Response> {
    let row = match state
        .store
        .authorization_request(&sha256_hex(id), now)
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return Err(expired_page(state)),
        Err(e) => return Err(PageError::Store(e).page(state)),
    };
    let request: AuthorizeRequest = serde_json::from_str(&row.request).map_err(|e| {
        store_failed(
            state,
            OAuthError::server_error().with_detail(format!("request: {e}")),
        )
    })?;
    let client = match state.store.get_client(&row.client_id).await {
        Ok(Some(c)) => Client::from_row(c).map_err(|e| {
            store_failed(state, OAuthError::server_error().with_detail(e.to_string()))
        })?,
        Ok(None) => return Err(expired_page(state)),
        Err(e) => return Err(PageError::Store(e).page(state)),
    };
    Ok(Pending {
        id: id.to_string(),
        request,
        client,
        stored: true,
    })
}

/// The next step of a pending request: the sign-in page, the consent page, or the code.
/// `session` is one just created by a sign-in for this request (its cookie is not in `headers`
/// yet); `signin_error` is shown on a sign-in page re-rendered after a failed attempt.
pub async fn resume(
    state: &AppState,
    headers: &HeaderMap,
    pending: Pending,
    session: Option<Session>,
    signin_error: Option<(StatusCode, String)>,
) -> Response {
    let now = state.now();
    // A session passed in was started by a sign-in for this very request.
    let fresh = session.is_some();
    let session = match session {
        Some(s) => Some(s),
        None => match current_session(state, headers, now).await {
            Ok(s) => s,
            Err(e) => return PageError::Store(e).page(state),
        },
    };
    let request = &pending.request;
    // OIDC Core §3.1.2.1: prompt=login re-authenticates; max_age bounds the age of the last one.
    let session = session.filter(|s| {
        (fresh || !request.prompt.login)
            && request.max_age.is_none_or(|max| now - s.auth_time <= max)
    });
    // OIDC Core §3.1.2.1 `id_token_hint`: only the hinted user will do. Another user's
    // session counts as no session; a sign-in just made as someone else is refused.
    let hint_mismatch = |s: &Session| {
        request
            .hinted_sub
            .as_deref()
            .is_some_and(|sub| sub != s.user_id)
    };
    if fresh && session.as_ref().is_some_and(hint_mismatch) {
        return abandon(state, &pending, login_required()).await;
    }
    let session = session.filter(|s| !hint_mismatch(s));
    let Some(session) = session else {
        if request.prompt.none {
            return abandon(state, &pending, login_required()).await;
        }
        if let Err(page) = keep(state, &pending, now).await {
            return page;
        }
        return signin_page(state, headers, &pending, signin_error);
    };
    let scope = Scope::parse(&request.scope).unwrap_or_default();
    let consented = if pending.client.meta.first_party && !request.prompt.consent {
        true
    } else if request.prompt.consent {
        false
    } else {
        match state
            .store
            .consented_scope(&session.user_id, &pending.client.id)
            .await
        {
            Ok(granted) => {
                let granted = granted
                    .as_deref()
                    .and_then(Scope::parse)
                    .unwrap_or_default();
                scope.not_in(&granted).is_empty()
            }
            Err(e) => return PageError::Store(e).page(state),
        }
    };
    if !consented {
        if request.prompt.none {
            return abandon(state, &pending, consent_required()).await;
        }
        if let Err(page) = keep(state, &pending, now).await {
            return page;
        }
        return consent_page(state, headers, &pending, &session, &scope).await;
    }
    finish(state, &pending, &session).await
}

/// Issues the code (RFC 6749 §4.1.2), or the implicit flow's tokens, and sends them to the
/// client. A stored pending request is taken first, so it finishes once (two consent posts
/// racing get one code); one that was never stored finishes in the request that made it.
pub async fn finish(state: &AppState, pending: &Pending, session: &Session) -> Response {
    let now = state.now();
    if pending.stored {
        match state
            .store
            .take_authorization_request(&sha256_hex(&pending.id), now)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => return expired_page(state),
            Err(e) => return PageError::Store(e).page(state),
        }
    }
    let request = &pending.request;
    let sid = session::sid(session);
    // Back-Channel Logout 1.0 §2.1: remember that this client holds tokens of this session,
    // so its end reaches the client.
    let bound = state
        .store
        .record_session_client(&SessionClientRow {
            sid: sid.clone(),
            client_id: pending.client.id.clone(),
            user_id: session.user_id.clone(),
            created_at: now,
            expires_at: session.expires_at,
        })
        .await;
    if let Err(e) = bound {
        return PageError::Store(e).page(state);
    }
    if request.response_type.is_implicit() {
        // RFC 6749 §4.2.2: the tokens themselves, in the fragment or form_post.
        let tokens = implicit::issue(
            state,
            &pending.client,
            request,
            &session.user_id,
            session.auth_time,
            &sid,
            now,
        )
        .await;
        return respond_with(state, &request.to, tokens);
    }
    let grant = CodeGrant {
        client_id: pending.client.id.clone(),
        user_id: session.user_id.clone(),
        redirect_uri: request.to.redirect_uri.clone(),
        scope: Scope::parse(&request.scope).unwrap_or_default(),
        audience: request.resources.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge_method.clone(),
        auth_time: session.auth_time,
        sid: Some(sid),
        acr: request.acr.clone(),
    };
    let code = issue_code(state, grant, now).await;
    respond(state, &request.to, code)
}

/// Ends a pending request with an error sent to the client (e.g. `access_denied`).
pub async fn abandon(state: &AppState, pending: &Pending, error: OAuthError) -> Response {
    let now = state.now();
    if pending.stored
        && let Err(e) = state
            .store
            .take_authorization_request(&sha256_hex(&pending.id), now)
            .await
    {
        return PageError::Store(e).page(state);
    }
    respond(state, &pending.request.to, Err(error))
}
