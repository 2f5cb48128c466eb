//! OpenID Connect RP-Initiated Logout 1.0: `GET|POST /logout` ends the browser session and
//! sends the user back to the client's registered `post_logout_redirect_uri`, or shows the
//! signed-out page.
//!
//! No confirmation page: §2 lets the OP decide whether to ask, and ending a session is of low
//! value to an attacker (the worst a forged logout does is sign the user out). What a forged
//! logout must not do is redirect anywhere the client did not register, so a redirect needs an
//! identified client (a valid `id_token_hint` or `client_id`) and an exact match of one of its
//! `post_logout_redirect_uris`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::backchannel_logout;
use crate::oauth::client::Client;
use crate::oauth::id_token::{hint_audience, verify_hint};
use crate::oauth::params::Params;
use crate::pages::{Page, PageError, error_page, templates, views};
use crate::session;
use crate::state::AppState;

/// What the relying party asked for (§2), parsed.
#[derive(Debug, Default)]
struct LogoutRequest {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

impl LogoutRequest {
    /// §2: the parameters come in the query (GET) or a form body (POST).
    fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        let raw: &[u8] = if *method == Method::POST {
            let is_form = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                });
            // An empty POST is a logout with no parameters.
            if !is_form && !body.is_empty() {
                return None;
            }
            body
        } else {
            uri.query().unwrap_or("").as_bytes()
        };
        let params = Params::parse(raw).ok()?;
        let take = |name: &str| params.get(name).map(str::to_string);
        Some(LogoutRequest {
            id_token_hint: take("id_token_hint"),
            client_id: take("client_id"),
            post_logout_redirect_uri: take("post_logout_redirect_uri"),
            state: take("state"),
        })
    }
}

/// `GET|POST /logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(request) = LogoutRequest::parse(&method, &uri, &headers, &body) else {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "This sign-out request is not valid",
            "The application sent a sign-out request this service cannot read. You may still \
             be signed in.",
        );
    };
    let target = match redirect_target(&state, &request).await {
        Ok(target) => target,
        Err(e) => return PageError::Store(e).page(&state),
    };
    // The user asked to sign out: the session ends whatever became of the redirect.
    let (clear, ended) = match session::take_session(&state, &headers).await {
        Ok(taken) => taken,
        Err(e) => return PageError::Store(e).page(&state),
    };
    // Back-Channel Logout 1.0 §2: every client that holds tokens of the session is told.
    if let Some(ended) = ended {
        match state
            .store
            .take_session_clients(&session::sid(&ended))
            .await
        {
            Ok(clients) => backchannel_logout::notify(&state, clients, state.now()).await,
            Err(e) => tracing::error!("logout: cannot read the session's clients: {e}"),
        }
    }
    match target {
        Some(location) => redirect(&location, clear),
        None => Page::new(&state, templates::SIGNED_OUT, &views::SignedOut {})
            .with_cookie(Some(clear))
            .into_response(),
    }
}

/// Where to send the user: the requested `post_logout_redirect_uri` with `state`, when the
/// client is identified and registered that exact URI (§2, §3.1). Otherwise nowhere; each
/// refusal is logged, and the user sees the signed-out page (§4: no redirect after a failed
/// check).
async fn redirect_target(
    state: &AppState,
    request: &LogoutRequest,
) -> Result<Option<String>, crate::store::StoreError> {
    let Some(requested) = request.post_logout_redirect_uri.as_deref() else {
        return Ok(None);
    };
    let hinted = match request.id_token_hint.as_deref() {
        Some(hint) => match hinted_client(state, hint) {
            Some(client_id) => Some(client_id),
            None => {
                tracing::info!("logout: id_token_hint is not an ID token of ours; no redirect");
                return Ok(None);
            }
        },
        None => None,
    };
    let client_id = match (hinted, request.client_id.as_deref()) {
        // §2: when both are sent, they must name the same client.
        (Some(hinted), Some(named)) if hinted != named => {
            tracing::info!("logout: client_id differs from the id_token_hint's; no redirect");
            return Ok(None);
        }
        (Some(hinted), _) => hinted,
        (None, Some(named)) => named.to_string(),
        (None, None) => {
            tracing::info!("logout: post_logout_redirect_uri with no client named; no redirect");
            return Ok(None);
        }
    };
    let client = match state.store.get_client(&client_id).await? {
        Some(row) => match Client::from_row(row) {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(client_id, "logout: stored client metadata unreadable: {e}");
                return Ok(None);
            }
        },
        None => {
            tracing::info!(client_id, "logout: unknown client; no redirect");
            return Ok(None);
        }
    };
    // §3.1: exactly one of the registered URIs (simple string comparison, as for
    // redirect_uri in RFC 6749 §3.1.2.3).
    if !client
        .meta
        .post_logout_redirect_uris
        .iter()
        .any(|u| u == requested)
    {
        tracing::info!(
            client_id,
            "logout: post_logout_redirect_uri not registered; no redirect"
        );
        return Ok(None);
    }
    let Ok(mut url) = url::Url::parse(requested) else {
        return Ok(None);
    };
    if let Some(s) = request.state.as_deref() {
        // §3: `state` is passed back as a query parameter.
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(Some(url.to_string()))
}

/// The client an `id_token_hint` was issued to (its `aud`), if it is an ID token we signed
/// for this issuer. §2: an expired one is still a good hint, so `exp` is not checked.
fn hinted_client(state: &AppState, hint: &str) -> Option<String> {
    hint_audience(&verify_hint(state, hint)?)
}

/// 302 to `location`, ending the session cookie on the way.
fn redirect(location: &str, clear: HeaderValue) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.append(header::SET_COOKIE, clear);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Option<LogoutRequest> {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        LogoutRequest::parse(&method, &uri.parse().unwrap(), &headers, body)
    }

    #[test]
    fn parameters_come_from_the_query_or_the_form() {
        let get = parse(
            Method::GET,
            "/logout?client_id=c&post_logout_redirect_uri=https%3A%2F%2Fa%2Fb&state=s",
            None,
            b"",
        )
        .unwrap();
        assert_eq!(get.client_id.as_deref(), Some("c"));
        assert_eq!(get.post_logout_redirect_uri.as_deref(), Some("https://a/b"));
        assert_eq!(get.state.as_deref(), Some("s"));
        let post = parse(
            Method::POST,
            "/logout?client_id=ignored",
            Some("application/x-www-form-urlencoded"),
            b"client_id=c",
        )
        .unwrap();
        assert_eq!(post.client_id.as_deref(), Some("c"));
        assert!(parse(Method::POST, "/logout", None, b"").is_some());
        assert!(parse(Method::POST, "/logout", Some("application/json"), b"{}").is_none());
        assert!(parse(Method::GET, "/logout?state=a&state=b", None, b"").is_none());
    }
}
