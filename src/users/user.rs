//! A local account (OIDC Core §5.1): the stable opaque `sub`, a username and standard claims.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Claims, UserError};
use crate::store::UserRow;

pub const MAX_USERNAME_CHARS: usize = 200;

/// A local account. `id` is the stable opaque `sub`. The password hash is never part of it,
/// so nothing that shows a `User` can show the hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(flatten)]
    pub claims: Claims,
}

impl User {
    pub fn from_row(row: UserRow) -> Result<User, UserError> {
        let claims = serde_json::from_str(&row.claims).map_err(|e| UserError::StoredClaims {
            id: row.id.clone(),
            cause: e.to_string(),
        })?;
        Ok(User {
            id: row.id,
            username: row.username,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            claims,
        })
    }

    /// OIDC Core §5.1: `preferred_username`, or the username when none is set.
    pub fn preferred_username(&self) -> &str {
        self.claims
            .preferred_username
            .as_deref()
            .unwrap_or(&self.username)
    }

    /// Every claim the user has, for the ID token and userinfo to pick from by scope
    /// (OIDC Core §5.4): `sub`, the claims that are set, `preferred_username` (the username
    /// when unset) and `updated_at`.
    pub fn oidc_claims(&self) -> Map<String, Value> {
        let mut claims = match serde_json::to_value(&self.claims) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        claims.insert("sub".into(), json!(self.id));
        claims.insert(
            "preferred_username".into(),
            json!(self.preferred_username()),
        );
        claims.insert("updated_at".into(), json!(self.updated_at));
        claims
    }
}

/// Usernames compare case-insensitively: they are stored lower-cased, so `Alice` and `alice`
/// cannot be two accounts. 1–200 characters, no whitespace or control characters.
pub fn normalize_username(raw: &str) -> Result<String, UserError> {
    let name = raw.to_lowercase();
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Err(UserError::invalid("username", "1 to 200 characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UserError::invalid(
            "username",
            "no whitespace or control characters",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_case_and_refuse_spaces() {
        assert_eq!(normalize_username("Alice").unwrap(), "alice");
        for bad in ["", "a b", "a\tb", "a\u{7}b", &"x".repeat(201)] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_username(&"x".repeat(200)).is_ok());
    }
}
