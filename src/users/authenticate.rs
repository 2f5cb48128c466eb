//! The password check behind every sign-in (OIDC Core §3.1.2.3, RFC 6749 §4.3.2): one argon2
//! verification whether or not the account exists, so the time taken tells nothing.

use super::{MAX_PASSWORD_CHARS, Passwords, User, UserError, normalize_username};
use crate::store::Store;

/// The user with this username and password, if the account exists, is enabled and has that
/// password. Unknown users and users without a password are checked against a dummy hash, so
/// the time taken does not tell whether an account exists.
pub async fn authenticate(
    store: &Store,
    passwords: &Passwords,
    username: &str,
    password: &str,
) -> Result<Option<User>, UserError> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(None);
    }
    let row = match normalize_username(username) {
        Ok(name) => store.find_user_by_username(&name).await?,
        Err(_) => None,
    };
    let matches = match row.as_ref().and_then(|r| r.password_hash.as_deref()) {
        Some(own_hash) => passwords.verify(password, own_hash).await?,
        None => {
            passwords.verify_dummy(password).await?;
            false
        }
    };
    match row {
        Some(row) if matches && !row.disabled => Ok(Some(User::from_row(row)?)),
        _ => Ok(None),
    }
}
