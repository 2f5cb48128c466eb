//! Extractors that turn every malformed request into an RFC 6749-style JSON error: no request
//! ever gets axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::client_auth;
use crate::oauth::params::Params;
use crate::state::AppState;

/// An `application/x-www-form-urlencoded` body (RFC 6749 §3.2), parsed into `Params`, with
/// the `Authorization` header kept for client authentication.
pub struct Form {
    pub params: Params,
    pub authorization: Option<String>,
}

impl Form {
    /// Authenticates the calling client (RFC 6749 §2.3) for the endpoint at `path`: the
    /// shared first step of the token, introspection and revocation endpoints.
    pub async fn authenticate_client(
        &self,
        state: &AppState,
        path: &str,
        now: i64,
    ) -> Result<Client, OAuthError> {
        let presented = client_auth::presented(self.authorization.as_deref(), &self.params)?;
        client_auth::authenticate(state, &presented, &state.endpoint(path), now).await
    }
}

fn body_error(e: BytesRejection) -> OAuthError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        OAuthError::invalid_request("request body too large")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        OAuthError::invalid_request("unreadable request body").with_detail(e.body_text())
    }
}

fn has_media_type(req: &Request, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(&req, "application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        Ok(Form {
            params: Params::parse(&bytes)?,
            authorization,
        })
    }
}

/// A JSON body for the admin API; errors name what is wrong (RFC 7591 §3.2.2).
pub struct Json<T>(pub T);

/// `application/json` or `application/*+json`, as axum's own `Json` accepts.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// Whether JSON text holds an escaped NUL: `\u0000` not itself preceded by an escaping `\`.
/// (A raw NUL byte is not valid JSON at all.)
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| {
        w == b"\\u0000" && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(OAuthError::invalid_request(
                "the body must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        // U+0000 has no use in any field, and PostgreSQL text cannot store it (a 500 there,
        // silently kept by SQLite): refused here, the same on both backends.
        if has_escaped_nul(&bytes) {
            return Err(OAuthError::invalid_request(
                "the body must not contain NUL characters",
            ));
        }
        // Syntax first, then shape: a well-formed body of the wrong shape names the field.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            return Err(OAuthError::invalid_request(format!("malformed JSON: {e}")));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(e) => Err(OAuthError::invalid_request(e.body_text())),
        }
    }
}

/// A path parameter; a malformed one is a 400, not axum's text.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // No id has a NUL in it, and PostgreSQL cannot even compare one.
        if parts.uri.path().contains("%00") {
            return Err(OAuthError::invalid_request("malformed path"));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| {
                OAuthError::invalid_request("malformed path").with_detail(e.body_text())
            })
    }
}

/// A query string; a malformed one is a 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(OAuthError::invalid_request(
                "malformed query: NUL character",
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| OAuthError::invalid_request(format!("malformed query: {}", e.body_text())))
    }
}

/// A JSON body that may be absent altogether (an empty POST takes the defaults).
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        if !has_body {
            return Ok(OptionalJson(None));
        }
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::has_escaped_nul;

    #[test]
    fn finds_escaped_nul_but_not_an_escaped_backslash() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000"}"#));
        assert!(has_escaped_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"a": "\\u0000"}"#));
        assert!(!has_escaped_nul(br#""\u000""#));
    }
}
