//! How an `OAuthError` is answered over HTTP: RFC 6749 §5.2 JSON, never cached, with the
//! headers the error carries. Logged and counted here, where every JSON error leaves.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorBody, OAuthError};

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        metrics::counter!("portcullis_oauth_errors_total", "error" => self.code.as_str())
            .increment(1);
        if self.status.is_server_error() {
            tracing::error!(error = self.code.as_str(), detail = ?self.detail, "request failed");
        } else {
            tracing::info!(error = self.code.as_str(), detail = ?self.detail, "request refused");
        }
        let body = ErrorBody {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1: token responses, errors included, are never cached.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(scheme) = self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
