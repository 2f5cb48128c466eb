//! CORS (Fetch Standard §3.2) for browser apps, such as a single-page app using the code flow
//! with PKCE. Two policies:
//!
//! - **public** (discovery, JWKS): public documents, readable from any origin
//!   (`Access-Control-Allow-Origin: *`).
//! - **client endpoints** (`/token`, `/userinfo`, `/revoke`; `/device_authorization` belongs
//!   here too, added with the device flow): an origin is allowed when it is the origin of some
//!   registered client's redirect URI, or listed in `http.cors_allowed_origins`. The allowed
//!   origin is echoed, with `Vary: Origin`. Never `Access-Control-Allow-Credentials`: these
//!   endpoints take credentials in headers and bodies, never cookies.
//!
//! The admin API and the pages get no CORS headers at all: browsers then refuse cross-origin
//! reads of them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::names::path;
use crate::oauth::client::Client;
use crate::state::AppState;

/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";
/// Request headers a browser app sends: Basic or Bearer credentials, and form or JSON bodies.
const ALLOW_HEADERS: &str = "Authorization, Content-Type";

/// The ASCII serialisation of `value`'s origin, if it is an http(s) URL (a browser's `Origin`
/// header, or a redirect URI). `null` and other schemes have no origin to allow.
pub fn parse_origin(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Discovery and JWKS: any origin may read them.
pub async fn public(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        r
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The token, userinfo and revocation endpoints: allowed origins only.
pub async fn for_clients(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(origin) = origin else {
        // Not a cross-origin browser request: nothing to add but the cache key.
        return vary(next.run(request).await);
    };
    let allowed = is_allowed(&state, &origin).await;
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        if !allowed {
            tracing::info!(
                origin,
                path = request.uri().path(),
                "CORS preflight refused"
            );
            return vary(StatusCode::FORBIDDEN.into_response());
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        allow(h, &origin);
        let methods = if request.uri().path() == path::USERINFO {
            "GET, POST"
        } else {
            "POST"
        };
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        return vary(response);
    }
    let mut response = next.run(request).await;
    if allowed {
        let h = response.headers_mut();
        allow(h, &origin);
        // RFC 6750 §3: a browser app reads why its token was refused.
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
    vary(response)
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
}

/// The answer depends on `Origin`: shared caches must key on it.
fn vary(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// Whether `origin` is configured, or is the origin of a registered redirect URI. A store
/// failure refuses (and is logged): CORS fails closed.
async fn is_allowed(state: &AppState, origin: &str) -> bool {
    // Only an exact serialised origin counts (`https://app.example.com`, no path or slash).
    if parse_origin(origin).as_deref() != Some(origin) {
        return false;
    }
    if state
        .config
        .http
        .cors_allowed_origins
        .iter()
        .any(|o| o.as_str() == origin)
    {
        return true;
    }
    let Some(host) = url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
    else {
        return false;
    };
    let rows = match state.store.clients_mentioning(&host).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!("CORS: cannot read the clients, refusing {origin}: {e}");
            return false;
        }
    };
    rows.into_iter()
        .filter_map(|row| Client::from_row(row).ok())
        .any(|client| {
            client
                .meta
                .redirect_uris
                .iter()
                .any(|uri| parse_origin(uri).as_deref() == Some(origin))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("https://App.Example.com/cb?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parse_origin("https://app.example.com:443/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:5173/").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(parse_origin("com.example.app:/cb"), None);
        assert_eq!(parse_origin("null"), None);
    }
}
