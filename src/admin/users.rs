//! The admin services for local users: create, read, list, replace, delete, set a password and
//! clear a sign-in lockout, each written to the audit trail with the change. The user model,
//! its checks and password hashing live in `users`.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Actor, AdminError, Page};
use crate::oauth::context::ProtocolContext;
use crate::secret::Secret;
use crate::store::{AuditEvent, Store, StoreError, UserRow};
use crate::throttle::account_key;
use crate::users::{
    Claims, Passwords, User, UserError, UserRequest, check_password, normalize_username,
    validate_claims,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn not_found() -> AdminError {
    AdminError::NotFound("no such user")
}

fn conflict(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict => AdminError::Conflict("username: already taken"),
        other => other.into(),
    }
}

fn claims_json(claims: &Claims) -> Result<String, AdminError> {
    serde_json::to_string(claims).map_err(|e| AdminError::Internal(e.to_string()))
}

/// What the audit trail records of a user: never the password, nor the claims' values.
fn audit_detail(row: &UserRow, claims: &Claims, password: &str) -> Value {
    let names: Vec<String> = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    json!({
        "username": row.username,
        "disabled": row.disabled,
        "claims": names,
        "password": password,
    })
}

async fn new_hash(
    passwords: &Passwords,
    password: Option<Secret>,
) -> Result<Option<String>, AdminError> {
    match password {
        Some(p) => {
            check_password(&p)?;
            Ok(Some(passwords.hash(p).await?))
        }
        None => Ok(None),
    }
}

pub async fn create(
    store: &Store,
    passwords: &Passwords,
    actor: &Actor,
    req: UserRequest,
    now: i64,
) -> Result<User, AdminError> {
    let username = normalize_username(
        req.username
            .as_deref()
            .ok_or_else(|| UserError::invalid("username", "required"))?,
    )?;
    let claims = validate_claims(req.claims.unwrap_or_default())?;
    if let Some(p) = &req.password {
        check_password(p)?;
    }
    // Spares the hashing for a name already taken; the unique index still decides races.
    if store.find_user_by_username(&username).await?.is_some() {
        return Err(conflict(StoreError::Conflict));
    }
    let row = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        password_hash: new_hash(passwords, req.password).await?,
        claims: claims_json(&claims)?,
        disabled: req.disabled.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let password = if row.password_hash.is_some() {
        "set"
    } else {
        "none"
    };
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.create",
        &row.id,
        audit_detail(&row, &claims, password),
    );
    store.insert_user(&row, &audit).await.map_err(conflict)?;
    Ok(User::from_row(row)?)
}

pub async fn get(store: &Store, id: &str) -> Result<User, AdminError> {
    Ok(User::from_row(
        store.get_user(id).await?.ok_or_else(not_found)?,
    )?)
}

/// A user by id or, failing that, by username (the CLI takes either).
pub async fn find(store: &Store, id_or_username: &str) -> Result<User, AdminError> {
    if let Some(row) = store.get_user(id_or_username).await? {
        return Ok(User::from_row(row)?);
    }
    let Ok(username) = normalize_username(id_or_username) else {
        return Err(not_found());
    };
    Ok(User::from_row(
        store
            .find_user_by_username(&username)
            .await?
            .ok_or_else(not_found)?,
    )?)
}

pub async fn list(store: &Store, page: &Page) -> Result<UserList, AdminError> {
    let limit = page.limit();
    let rows = store.list_users(page.after.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let users = rows
        .into_iter()
        .take(limit as usize)
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = more.then(|| users.last().map(|u| u.id.clone())).flatten();
    Ok(UserList { users, next })
}

/// Replaces the claims; changes the username, `disabled` and the password where the request
/// gives them (see `UserRequest`).
pub async fn update(
    protocol: &ProtocolContext,
    actor: &Actor,
    id: &str,
    req: UserRequest,
    now: i64,
) -> Result<User, AdminError> {
    let store = &protocol.store;
    let existing = User::from_row(store.get_user(id).await?.ok_or_else(not_found)?)?;
    let username = match req.username.as_deref() {
        Some(u) => normalize_username(u)?,
        None => existing.username.clone(),
    };
    let claims = match req.claims {
        Some(c) => validate_claims(c)?,
        None => existing.claims,
    };
    let password_changed = req.password.is_some();
    let row = UserRow {
        id: id.to_string(),
        username,
        password_hash: new_hash(&protocol.passwords, req.password).await?,
        claims: claims_json(&claims)?,
        disabled: req.disabled.unwrap_or(existing.disabled),
        created_at: existing.created_at,
        updated_at: now,
    };
    let password = if password_changed {
        "changed"
    } else {
        "unchanged"
    };
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.update",
        id,
        audit_detail(&row, &claims, password),
    );
    if !store.update_user(&row, &audit).await.map_err(conflict)? {
        return Err(not_found());
    }
    // Every request that disables cuts off (idempotent), so a disable whose revocation failed
    // can simply be repeated.
    if req.disabled == Some(true) {
        cut_off(protocol, id, now).await?;
    }
    Ok(User::from_row(row)?)
}

pub async fn set_password(
    store: &Store,
    passwords: &Passwords,
    actor: &Actor,
    id: &str,
    password: Secret,
    now: i64,
) -> Result<(), AdminError> {
    check_password(&password)?;
    if store.get_user(id).await?.is_none() {
        return Err(not_found());
    }
    let hash = passwords.hash(password).await?;
    let audit = AuditEvent::new(now, &actor.0, "user.set_password", id, json!({}));
    if store.set_user_password(id, &hash, now, &audit).await? {
        Ok(())
    } else {
        Err(not_found())
    }
}

pub async fn delete(
    protocol: &ProtocolContext,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<(), AdminError> {
    if protocol.store.get_user(id).await?.is_none() {
        return Err(not_found());
    }
    // Revoked before the row goes, so a failure leaves a user that can be deleted again;
    // and once more after, for a grant that raced in between.
    cut_off(protocol, id, now).await?;
    let audit = AuditEvent::new(now, &actor.0, "user.delete", id, json!({}));
    if !protocol.store.delete_user(id, &audit).await? {
        return Err(not_found());
    }
    cut_off(protocol, id, now).await
}

/// Clears the user's sign-in lockout: the account's throttle counter (RFC 9700 §4.10), audited
/// as `user.clear_lockout`. IP counters are left alone.
pub async fn clear_lockout(
    store: &Store,
    actor: &Actor,
    user_id: &str,
    now: i64,
) -> Result<(), AdminError> {
    let user = store.get_user(user_id).await?.ok_or_else(not_found)?;
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.clear_lockout",
        &user.id,
        json!({ "username": user.username }),
    );
    let had_counter = store
        .clear_sign_in_throttle_audited(&account_key(&user.username), &audit)
        .await?;
    tracing::info!(user = %user.id, had_counter, "sign-in lockout cleared");
    Ok(())
}

/// Cuts the user off (`oauth::revoke::cut_off_user`): grants revoked, sessions ended.
async fn cut_off(protocol: &ProtocolContext, user_id: &str, now: i64) -> Result<(), AdminError> {
    Ok(crate::oauth::revoke::cut_off_user(protocol, user_id, now).await?)
}
