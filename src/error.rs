//! RFC 6749 §5.2 error responses, shared by every JSON endpoint.
//!
//! The public `error_description` is fixed text that gives no oracle; the reason a request was
//! refused goes to `detail`, which is logged and never sent.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: Cow<'static, str>,
    /// Logged, never sent: why the request was refused.
    pub detail: Option<String>,
    /// RFC 6749 §5.2: a 401 `invalid_client` answers with the scheme the client tried.
    pub www_authenticate: Option<&'static str>,
    /// RFC 6585 §4 / RFC 9110 §10.2.3: seconds a client should wait (429, 503).
    pub retry_after: Option<u64>,
}

/// The body of every error answer (RFC 6749 §5.2); the admin API's OpenAPI description names
/// it as `OAuthError`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthError)]
pub struct ErrorBody<'a> {
    /// The error code: an RFC 6749 §5.2 code, or `not_found`, `conflict`, `invalid_token`
    /// (RFC 6750 §3.1), `invalid_client_metadata` (RFC 7591 §3.2.2), `server_error`,
    /// `temporarily_unavailable`.
    #[schema(value_type = String, example = "invalid_request")]
    error: &'a str,
    /// Fixed text for people; absent when there is none.
    #[serde(skip_serializing_if = "str::is_empty")]
    #[schema(value_type = String)]
    error_description: &'a str,
}

macro_rules! constructors {
    ($($name:ident => $status:ident),* $(,)?) => {
        $(
            pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                Self::new(StatusCode::$status, stringify!($name), description)
            }
        )*
    };
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            detail: None,
            www_authenticate: None,
            retry_after: None,
        }
    }

    constructors! {
        // RFC 6749 §5.2
        invalid_request => BAD_REQUEST,
        invalid_grant => BAD_REQUEST,
        unauthorized_client => BAD_REQUEST,
        unsupported_grant_type => BAD_REQUEST,
        invalid_scope => BAD_REQUEST,
        // RFC 8707 §2
        invalid_target => BAD_REQUEST,
        // RFC 7009 §2.2.1
        unsupported_token_type => BAD_REQUEST,
        // RFC 7591 §3.2.2
        invalid_redirect_uri => BAD_REQUEST,
        invalid_client_metadata => BAD_REQUEST,
        // RFC 6750 §3.1
        invalid_token => UNAUTHORIZED,
        // RFC 8628 §3.5
        authorization_pending => BAD_REQUEST,
        slow_down => BAD_REQUEST,
        access_denied => BAD_REQUEST,
        expired_token => BAD_REQUEST,
        // Admin API and routing
        not_found => NOT_FOUND,
        conflict => CONFLICT,
    }

    /// RFC 6749 §5.2: client authentication failed.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }

    /// RFC 6749 §4.1.2.1: the server is overloaded or a dependency is down.
    pub fn temporarily_unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is temporarily unable to handle the request",
        );
        e.retry_after = Some(1);
        e
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_www_authenticate(mut self, scheme: &'static str) -> Self {
        self.www_authenticate = Some(scheme);
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        metrics::counter!("portcullis_oauth_errors_total", "error" => self.code).increment(1);
        if self.status.is_server_error() {
            tracing::error!(error = self.code, detail = ?self.detail, "request failed");
        } else {
            tracing::info!(error = self.code, detail = ?self.detail, "request refused");
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

/// Store and other internal failures: logged with their cause, answered without it.
impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(cause) => {
                Self::temporarily_unavailable().with_detail(cause)
            }
            other => Self::server_error().with_detail(other.to_string()),
        }
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::server_error().with_detail(e.to_string())
    }
}
