//! RFC 6749 §5.2 error responses, shared by every JSON endpoint.
//!
//! The public `error_description` is fixed text that gives no oracle; the reason a request was
//! refused goes to `detail`, which is logged and never sent.

use std::borrow::Cow;

use http::StatusCode;
use serde::Serialize;

/// An error code: RFC 6749 §5.2 and §4.1.2.1, and the codes the server answers from other
/// specifications. Serialised as the registered string (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // RFC 6749 §5.2
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    // RFC 6749 §4.1.2.1
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    // OIDC Core §3.1.2.6
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    // RFC 8707 §2
    InvalidTarget,
    // RFC 7009 §2.2.1
    UnsupportedTokenType,
    // RFC 7591 §3.2.2
    InvalidRedirectUri,
    InvalidClientMetadata,
    // RFC 6750 §3.1
    InvalidToken,
    InsufficientScope,
    // RFC 8628 §3.5
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    // Admin API and routing: RFC 9110 §15.5.5 and §15.5.10 as codes
    NotFound,
    Conflict,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Lets a test compare a code with the string a client receives.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The `error_description` of `server_error`: the cause is logged, never sent.
pub const SERVER_ERROR_TEXT: &str = "the server could not complete the request";
/// The `error_description` of `temporarily_unavailable`.
pub const UNAVAILABLE_TEXT: &str = "the server is temporarily unable to handle the request";

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: ErrorCode,
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
    pub(crate) error: ErrorCode,
    /// Fixed text for people; absent when there is none.
    #[serde(skip_serializing_if = "str::is_empty")]
    #[schema(value_type = String)]
    pub(crate) error_description: &'a str,
}

macro_rules! constructors {
    ($($name:ident => $code:ident, $status:ident),* $(,)?) => {
        $(
            pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                Self::new(StatusCode::$status, ErrorCode::$code, description)
            }
        )*
    };
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
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
        invalid_request => InvalidRequest, BAD_REQUEST,
        invalid_grant => InvalidGrant, BAD_REQUEST,
        unauthorized_client => UnauthorizedClient, BAD_REQUEST,
        unsupported_grant_type => UnsupportedGrantType, BAD_REQUEST,
        invalid_scope => InvalidScope, BAD_REQUEST,
        // RFC 8707 §2
        invalid_target => InvalidTarget, BAD_REQUEST,
        // RFC 7009 §2.2.1
        unsupported_token_type => UnsupportedTokenType, BAD_REQUEST,
        // RFC 7591 §3.2.2
        invalid_redirect_uri => InvalidRedirectUri, BAD_REQUEST,
        invalid_client_metadata => InvalidClientMetadata, BAD_REQUEST,
        // RFC 6750 §3.1
        invalid_token => InvalidToken, UNAUTHORIZED,
        // RFC 8628 §3.5
        authorization_pending => AuthorizationPending, BAD_REQUEST,
        slow_down => SlowDown, BAD_REQUEST,
        access_denied => AccessDenied, BAD_REQUEST,
        expired_token => ExpiredToken, BAD_REQUEST,
        // Admin API and routing
        not_found => NotFound, NOT_FOUND,
        conflict => Conflict, CONFLICT,
    }

    /// RFC 6749 §5.2: client authentication failed.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            description,
        )
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            SERVER_ERROR_TEXT,
        )
    }

    /// RFC 6749 §4.1.2.1: the server is overloaded or a dependency is down.
    pub fn temporarily_unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            UNAVAILABLE_TEXT,
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

/// A user that cannot be read or checked: a store failure keeps its meaning; a refused field
/// is `invalid_request` naming it; hashing or stored-claims failures are logged, not sent.
impl From<crate::users::UserError> for OAuthError {
    fn from(e: crate::users::UserError) -> Self {
        use crate::users::UserError;
        match e {
            UserError::Store(e) => e.into(),
            UserError::Invalid { .. } | UserError::NotAnObject => {
                Self::invalid_request(e.to_string())
            }
            UserError::Hashing(_) | UserError::StoredClaims { .. } => {
                Self::server_error().with_detail(e.to_string())
            }
        }
    }
}
