//! Local user accounts: the OIDC Core §5.1 standard claims a user holds, argon2id password
//! hashing, and `authenticate`, the one password check that every sign-in runs.
//!
//! Nothing here knows the admin API, HTTP or the server state: the admin services (`admin::users`)
//! and the sign-in throttle call in with a store and the `Passwords` value the server holds.

mod authenticate;
mod claims;
mod password;
mod request;
mod user;

pub use authenticate::authenticate;
pub use claims::{Address, CLAIM_NAMES, Claims, MAX_CLAIM_CHARS, validate_claims};
pub use password::{
    ARGON2_M_COST, ARGON2_P_COST, ARGON2_T_COST, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Passwords,
    check_password,
};
pub use request::UserRequest;
pub use user::{MAX_USERNAME_CHARS, User, normalize_username};

use crate::store::StoreError;

/// Why a user could not be read, checked or written.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A field of a user request is refused; `field` names it (`username`, `address.country`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A user request whose JSON body is not an object.
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hashing threads could not run a hash or verification.
    #[error("{0}")]
    Hashing(String),
    /// A stored user's claims do not parse.
    #[error("user {id}: claims: {cause}")]
    StoredClaims { id: String, cause: String },
}

impl UserError {
    pub(crate) fn invalid(field: &str, message: &str) -> UserError {
        UserError::Invalid {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}
