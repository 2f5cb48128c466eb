//! What an admin service refuses or fails with. The HTTP admin API answers each as an RFC 6749
//! §5.2 error body; the CLI prints it (`Display` reads as that body's code and text).

use crate::error::{ErrorCode, OAuthError, SERVER_ERROR_TEXT, UNAVAILABLE_TEXT};
use crate::keys::KeyError;
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field of the request is refused: `invalid_request`, or for client metadata the
    /// RFC 7591 §3.2.2 `invalid_client_metadata` or `invalid_redirect_uri`. The text names the
    /// field (`username`, `redirect_uris[0]`).
    #[error("{code}: {field}: {message}")]
    InvalidField {
        code: ErrorCode,
        field: String,
        message: String,
    },
    /// The request as a whole is refused (`invalid_request`).
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// No such client, user, resource or issuer.
    #[error("not_found: {0}")]
    NotFound(&'static str),
    /// A unique name or identifier is taken.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The store failed: answered 503 when it may succeed later, 500 otherwise.
    #[error("{}", store_text(.0))]
    Store(StoreError),
    /// A protocol step the change runs (revoking a user's grants) or a stored registration the
    /// protocol layer reads failed; answered as that failure says.
    #[error("{0}")]
    Protocol(OAuthError),
    /// Stored data that does not parse, a key that cannot be made, a hash that cannot be
    /// computed: logged with the cause, answered `server_error` without it.
    #[error("server_error: {SERVER_ERROR_TEXT} ({0})")]
    Internal(String),
}

impl AdminError {
    /// `invalid_request` naming `field`.
    pub fn invalid(field: &str, message: &str) -> AdminError {
        AdminError::invalid_as(ErrorCode::InvalidRequest, field, message)
    }

    /// A refused field with another code than `invalid_request` (RFC 7591 §3.2.2).
    pub fn invalid_as(code: ErrorCode, field: &str, message: &str) -> AdminError {
        AdminError::InvalidField {
            code,
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// What the CLI prints of a store failure: the text of the error body the API answers.
fn store_text(e: &StoreError) -> String {
    match e {
        StoreError::Unavailable(cause) => {
            format!("temporarily_unavailable: {UNAVAILABLE_TEXT} ({cause})")
        }
        other => format!("server_error: {SERVER_ERROR_TEXT} ({other})"),
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl From<KeyError> for AdminError {
    fn from(e: KeyError) -> Self {
        AdminError::Internal(e.to_string())
    }
}

impl From<UserError> for AdminError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid { field, message } => AdminError::InvalidField {
                code: ErrorCode::InvalidRequest,
                field,
                message,
            },
            UserError::NotAnObject => AdminError::InvalidRequest(e.to_string()),
            UserError::Store(e) => AdminError::Store(e),
            UserError::Hashing(_) | UserError::StoredClaims { .. } => {
                AdminError::Internal(e.to_string())
            }
        }
    }
}
