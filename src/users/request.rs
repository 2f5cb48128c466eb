//! The body of an admin create or replace of a user: `{username, password?, disabled?,
//! …claims}`, read field by field so that each refusal names its field.

use serde_json::Value;

use super::{CLAIM_NAMES, Claims, UserError};
use crate::secret::Secret;

/// Names a request may not set: the server assigns them.
const SERVER_SET: [&str; 4] = ["id", "sub", "created_at", "updated_at"];

/// A create or replace request: `{username, password?, disabled?, …claims}`.
#[derive(Debug, Default)]
pub struct UserRequest {
    /// Required to create; absent in a replace keeps the current one.
    pub username: Option<String>,
    /// Absent keeps the current password (on create: the user has none and cannot sign in
    /// with one).
    pub password: Option<Secret>,
    /// Absent keeps the current state (on create: enabled), so a replace that leaves it out
    /// never re-enables an account.
    pub disabled: Option<bool>,
    /// Replaces every claim; `None` keeps them (what the CLI's enable and disable send).
    pub claims: Option<Claims>,
}

impl UserRequest {
    /// The admin API's JSON body: the wrong shape, an unknown claim or a server-set name is a
    /// 400 naming the field. Values are checked by `admin::users::create` and `update`.
    pub fn from_json(value: Value) -> Result<UserRequest, UserError> {
        let Value::Object(mut map) = value else {
            return Err(UserError::NotAnObject);
        };
        let username = match map.remove("username") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(UserError::invalid("username", "must be a string")),
        };
        let password = match map.remove("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s)),
            Some(_) => return Err(UserError::invalid("password", "must be a string")),
        };
        let disabled = match map.remove("disabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(UserError::invalid("disabled", "must be true or false")),
        };
        if let Some(name) = map.keys().find(|k| SERVER_SET.contains(&k.as_str())) {
            return Err(UserError::invalid(name, "set by the server"));
        }
        if let Some(name) = map.keys().find(|k| !CLAIM_NAMES.contains(&k.as_str())) {
            return Err(UserError::invalid(name, "unknown claim"));
        }
        let claims = serde_path_to_error::deserialize(Value::Object(map))
            .map_err(|e| UserError::invalid(&e.path().to_string(), &e.inner().to_string()))?;
        Ok(UserRequest {
            username,
            password,
            disabled,
            claims: Some(claims),
        })
    }
}
