//! The browser pages (sign-in, consent, error, signed-out): templates, the response every page
//! is sent in, and CSRF protection for their forms. Sessions live in `crate::session`.
//!
//! Every page carries the same defences: no framing (RFC 6749 §10.13 clickjacking), a CSP that
//! allows no script and no external asset but `https:`/`data:` images, no referrer (the URL of
//! an authorization page carries request parameters), no sniffing and no caching.

pub mod cookie;
pub mod csrf;
pub mod scopes;
pub mod templates;
pub mod views;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use csrf::{CSRF_COOKIE, CSRF_FIELD, csrf_token, verify_csrf};
pub use templates::{TemplateError, Templates};

use crate::state::AppState;
use crate::store::StoreError;

/// `GET`: the page shown after signing out (`names::path::SIGNED_OUT`).
pub const SIGNED_OUT_PATH: &str = crate::names::path::SIGNED_OUT;

/// Served when a template fails at run time: plain, self-contained, and says nothing more.
const FALLBACK_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Something went wrong</title>\
</head><body><main><h1>Something went wrong</h1><p>The page could not be shown. Please try again \
later.</p></main></body></html>";

/// A rendered page on its way out: status, HTML, the cookies to set, and where its forms may
/// lead. Rendering never fails the handler: a template error is logged and answered with a
/// plain 500 page.
#[derive(Debug)]
pub struct Page {
    status: StatusCode,
    html: Option<String>,
    form_targets: Vec<String>,
    cookies: Vec<HeaderValue>,
}

impl Page {
    /// Renders `template` with `context` (one of `views`, or a `minijinja::context!`).
    pub fn new(state: &AppState, template: &str, context: &impl Serialize) -> Page {
        let html = match state.templates.render(template, context) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(template, error = %format!("{e:#}"), "page template failed");
                None
            }
        };
        Page {
            status: StatusCode::OK,
            html,
            form_targets: Vec::new(),
            cookies: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    /// Sets a cookie with the page (`Set-Cookie`), e.g. from `csrf_token` or a session.
    pub fn with_cookie(mut self, cookie: Option<HeaderValue>) -> Page {
        self.cookies.extend(cookie);
        self
    }

    /// Lets this page's forms end at `uri`'s origin as well as at ours. Chrome and Safari
    /// check `form-action` against every redirect that follows a submission, so a sign-in or
    /// consent form whose answer redirects to the client must name the (verified) redirect
    /// URI here; a `form_post` response (OAuth 2.0 Form Post Response Mode) posts to it
    /// directly. A URI that yields no safe source is ignored.
    pub fn allow_form_target(mut self, uri: &str) -> Page {
        if let Some(source) = form_action_source(uri)
            && !self.form_targets.contains(&source)
        {
            self.form_targets.push(source);
        }
        self
    }

    /// The `Content-Security-Policy` this page is sent with.
    pub fn content_security_policy(&self) -> String {
        let mut form_action = String::from("'self'");
        for target in &self.form_targets {
            form_action.push(' ');
            form_action.push_str(target);
        }
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; \
             form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let csp = self.content_security_policy();
        let (status, body) = match self.html {
            Some(html) => (self.status, html),
            None => (StatusCode::INTERNAL_SERVER_ERROR, FALLBACK_HTML.to_string()),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).unwrap_or_else(|_| {
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                     frame-ancestors 'none'; base-uri 'none'",
                )
            }),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        for cookie in self.cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// The error page: a title and a plain explanation with a 4xx (or 5xx) status. `/authorize`
/// shows it when it must not redirect: the client or redirect URI could not be verified
/// (RFC 6749 §4.1.2.1).
pub fn error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    explanation: &str,
) -> Response {
    Page::new(
        state,
        templates::ERROR,
        &views::ErrorView::new(title, explanation),
    )
    .with_status(status)
    .into_response()
}

/// Why a page request failed. The detail is logged; the user sees a fixed explanation.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The form's CSRF token was missing or wrong.
    #[error("form refused: {0}")]
    Csrf(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PageError {
    /// The error page for this failure.
    pub fn page(&self, state: &AppState) -> Response {
        let (status, title, explanation) = match self {
            PageError::Csrf(_) => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this site, or it was open for too long. Go back, \
                 reload the page and try again.",
            ),
            PageError::Store(StoreError::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The service cannot handle your request right now. Please try again in a moment.",
            ),
            PageError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Your request could not be completed. Please try again later.",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "page request failed");
        } else {
            tracing::info!(error = %self, "page request refused");
        }
        error_page(state, status, title, explanation)
    }
}

/// `GET /signed-out`.
pub async fn signed_out(State(state): State<Arc<AppState>>) -> Page {
    Page::new(&state, templates::SIGNED_OUT, &views::SignedOut {})
}

/// The CSP source for where a submission to `uri` lands: the origin of an http(s) URI, or the
/// scheme of a private-use URI scheme (RFC 8252 §7.1). Schemes that run or embed content
/// never qualify.
fn form_action_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let source = match url.scheme() {
        "http" | "https" => {
            let origin = url.origin();
            origin.is_tuple().then(|| origin.ascii_serialization())
        }
        "javascript" | "data" | "blob" | "file" | "filesystem" | "about" | "vbscript" => None,
        // The URL parser allows only ALPHA / DIGIT / "+" / "-" / "." in a scheme.
        scheme => Some(format!("{scheme}:")),
    }?;
    // A host may hold characters (`;`, `,`, `'`) that would end or change the directive.
    source
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.:/[]".contains(&b))
        .then_some(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_targets_are_origins_or_schemes() {
        assert_eq!(
            form_action_source("https://app.example.com/cb?x=1#f").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            form_action_source("http://127.0.0.1:51234/callback").as_deref(),
            Some("http://127.0.0.1:51234")
        );
        assert_eq!(
            form_action_source("com.example.app:/oauth2redirect").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(form_action_source("javascript:alert(1)"), None);
        assert_eq!(form_action_source("data:text/html,x"), None);
        assert_eq!(form_action_source("not a uri"), None);
        assert_eq!(
            form_action_source("https://app.example.com; script-src *"),
            None
        );
        assert_eq!(form_action_source("https://a;b.example/"), None);
        assert_eq!(form_action_source("https://a,b.example/"), None);
    }
}
