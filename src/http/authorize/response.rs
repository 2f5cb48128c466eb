//! RFC 6749 §4.1.2 / §4.1.2.1 authorization and error responses, with `iss` (RFC 9207), in
//! the `query`, `fragment` or `form_post` response mode.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::pages::bad_request_page;
use crate::error::OAuthError;
use crate::oauth::authorize_request::{ResponseMode, Return};
use crate::pages::{Page, templates, views};
use crate::state::AppState;

/// The authorization response (RFC 6749 §4.1.2) or error response (§4.1.2.1), with `iss`
/// (RFC 9207), in the requested response mode.
pub fn respond(state: &AppState, to: &Return, result: Result<String, OAuthError>) -> Response {
    respond_with(state, to, result.map(|code| vec![("code", code)]))
}

/// Parameters a response may carry only outside the query (RFC 9700 §2.1.2).
const TOKENS: [&str; 2] = ["access_token", "id_token"];

/// Any authorization response: the code, or the implicit flow's tokens (RFC 6749 §4.2.2), or
/// an error, with `state` and `iss`.
pub fn respond_with(
    state: &AppState,
    to: &Return,
    result: Result<Vec<(&'static str, String)>, OAuthError>,
) -> Response {
    let mut fields: Vec<(&str, String)> = Vec::new();
    match result {
        Ok(response) => {
            // Checked at /authorize already; a token must never reach a query string.
            if to.response_mode == ResponseMode::Query
                && response.iter().any(|(k, _)| TOKENS.contains(k))
            {
                tracing::error!("refusing to put tokens in a query string");
                return bad_request_page(state);
            }
            fields.extend(response);
        }
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(error = e.code.as_str(), detail = ?e.detail, "authorization failed");
            } else {
                tracing::info!(error = e.code.as_str(), detail = ?e.detail, "authorization refused");
            }
            fields.push(("error", e.code.to_string()));
            fields.push(("error_description", e.description.to_string()));
        }
    }
    if let Some(s) = &to.state {
        fields.push(("state", s.clone()));
    }
    fields.push(("iss", state.issuer.clone()));
    let Ok(mut url) = url::Url::parse(&to.redirect_uri) else {
        return bad_request_page(state);
    };
    match to.response_mode {
        ResponseMode::Query => {
            url.query_pairs_mut()
                .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())));
        }
        ResponseMode::Fragment => {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            url.set_fragment(Some(&encoded));
        }
        ResponseMode::FormPost => return form_post(state, &to.redirect_uri, &fields),
    }
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => headers.insert(header::LOCATION, location),
        Err(_) => return bad_request_page(state),
    };
    crate::http::no_store(response)
}

/// OAuth 2.0 Form Post Response Mode §2: a form that posts the response to the redirect URI.
/// The pages run no script, so the user presses "Continue".
fn form_post(state: &AppState, redirect_uri: &str, fields: &[(&str, String)]) -> Response {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Continue</title></head><body>\
         <main><h1>Continue to the application</h1>",
    );
    html.push_str(&format!(
        "<form method=\"post\" action=\"{}\">",
        escape(redirect_uri)
    ));
    for (name, value) in fields {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        ));
    }
    html.push_str("<button type=\"submit\">Continue</button></form></main></body></html>");
    // The page defences (CSP with form-action allowing the client, no framing, no caching)
    // come from `Page`; only the body differs.
    let page = Page::new(state, templates::SIGNED_OUT, &views::SignedOut {})
        .allow_form_target(redirect_uri)
        .into_response();
    let (mut parts, _) = page.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

/// HTML escaping for attribute values and text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attribute_values() {
        assert_eq!(escape("a\"b<c>&'"), "a&quot;b&lt;c&gt;&amp;&#x27;");
    }
}
