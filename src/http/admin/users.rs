//! `/admin/users`: local user accounts. Responses hold personal data, so none is cached; no
//! response ever holds a password or its hash.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::admin::users::{self, UserList};
use crate::admin::{Actor, Page};
use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::{self, Path, Query};
use crate::http::no_store;
use crate::names::path::admin;
use crate::state::AppState;
use crate::users::{Claims, User, UserRequest};

/// The JSON body of a create or replace, as `UserRequest::from_json` reads it: OIDC Core §5.1
/// claims beside `username`, `password` and `disabled`. A replace sets every claim, so a claim
/// left out is removed. (Only the OpenAPI description uses this type.)
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = UserRequest)]
#[allow(dead_code, reason = "describes the body UserRequest::from_json reads")]
pub struct UserBody {
    /// Required to create: 1 to 200 characters without whitespace, stored lower-cased. Absent
    /// in a replace keeps the current one.
    username: Option<String>,
    /// 8 to 1024 characters; never shown. Absent keeps the current password (on create: the
    /// user has none and cannot sign in with one).
    #[schema(format = Password)]
    password: Option<String>,
    /// Absent keeps the current state (on create: enabled). Disabling revokes the user's grants
    /// and ends their sessions.
    disabled: Option<bool>,
    #[serde(flatten)]
    claims: Claims,
}

/// Creates a local user.
#[utoipa::path(
    post, path = admin::USERS, tag = "users", operation_id = "create_user",
    request_body = UserBody,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 409, description = "`conflict`: the username is taken", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = UserRequest::from_json(body)?;
    let user = users::create(&state.store, &state.passwords, &actor, req, state.now()).await?;
    Ok(no_store((StatusCode::CREATED, Json(user)).into_response()))
}

/// Lists users in pages.
#[utoipa::path(
    get, path = admin::USERS, tag = "users", operation_id = "list_users",
    params(Page),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "`invalid_request`: a malformed query", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        Json(users::list(&state.store, &page).await?).into_response(),
    ))
}

/// Reads a user.
#[utoipa::path(
    get, path = admin::USER, tag = "users", operation_id = "get_user",
    params(("id" = String, Path, description = "The user's id (their `sub`)")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        Json(users::get(&state.store, &id).await?).into_response(),
    ))
}

/// Replaces a user's claims, and their username, password or state when given.
#[utoipa::path(
    put, path = admin::USER, tag = "users", operation_id = "replace_user",
    params(("id" = String, Path, description = "The user's id (their `sub`)")),
    request_body = UserBody,
    responses(
        (status = 200, description = "Replaced", body = User),
        (status = 400, description = "`invalid_request`, naming the field", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 409, description = "`conflict`: the username is taken", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Response, OAuthError> {
    let req = UserRequest::from_json(body)?;
    let user = users::update(&state, &actor, &id, req, state.now()).await?;
    Ok(no_store(Json(user).into_response()))
}

/// Deletes a user: their grants are revoked and their sessions end.
#[utoipa::path(
    delete, path = admin::USER, tag = "users", operation_id = "delete_user",
    params(("id" = String, Path, description = "The user's id (their `sub`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    users::delete(&state, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clears the user's sign-in lockout (the account's throttle counter, RFC 9700 §4.10).
#[utoipa::path(
    delete, path = admin::USER_LOCKOUT, tag = "users", operation_id = "clear_user_lockout",
    params(("id" = String, Path, description = "The user's id (their `sub`)")),
    responses(
        (status = 204, description = "Cleared (also when there was no lockout)"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
)]
pub async fn clear_lockout(
    State(state): State<Arc<AppState>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<StatusCode, OAuthError> {
    users::clear_lockout(&state.store, &actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
