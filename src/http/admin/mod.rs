//! The admin API under `/admin`: JSON, authenticated with `Authorization: Bearer <admin token>`.
//! Handlers are thin: they call the `admin` service layer, which the CLI calls too. Each carries
//! a `#[utoipa::path]` annotation, from which `openapi.rs` builds the OpenAPI description.

mod clients;
mod events;
mod issuers;
mod keys;
mod legacy_usage;
pub mod openapi;
mod resources;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin::{Actor, AdminError};
use crate::error::OAuthError;
use crate::state::AppState;

/// The admin API behind the admin token, plus its OpenAPI description and Swagger UI (which
/// need no token: see ARCHITECTURE.md). Paths are absolute (`names::path::admin`).
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let (api, description) = documented_routes().split_for_parts();
    api.route_layer(middleware::from_fn_with_state(state, require_admin))
        .merge(openapi::routes(openapi::complete(description)))
}

/// Every admin route, each registered with `routes!`, which adds the handler to the router and
/// its `#[utoipa::path]` operation to the description in one step: a handler without the
/// annotation does not compile here. Handlers in one `routes!` share a path.
fn documented_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(openapi::AdminApi::openapi())
        .routes(routes!(clients::create, clients::list))
        .routes(routes!(clients::show, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(resources::create, resources::list))
        .routes(routes!(
            resources::show,
            resources::update,
            resources::delete
        ))
        .routes(routes!(issuers::create, issuers::list))
        .routes(routes!(issuers::show, issuers::update, issuers::delete))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::show, users::update, users::delete))
        .routes(routes!(users::clear_lockout))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::audit))
        .routes(routes!(events::list))
        .routes(routes!(legacy_usage::list))
}

/// RFC 6750 §2.1 bearer credentials, checked against the bootstrap token and stored admin
/// tokens. The actor is handed to the handler for the audit trail.
async fn require_admin(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, OAuthError> {
    let unauthorized = |why: &'static str| {
        OAuthError::invalid_token(why).with_www_authenticate("Bearer realm=\"portcullis-admin\"")
    };
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .ok_or_else(|| unauthorized("admin token required"))?;
    let actor: Actor = crate::admin::tokens::authenticate(
        &state.store,
        state.bootstrap_admin_hash.as_deref(),
        &token,
        state.now(),
    )
    .await?
    .ok_or_else(|| unauthorized("invalid admin token"))?;
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}

/// The admin services' errors as RFC 6749 §5.2 error bodies: a refused field is a 400 whose
/// description names it, `not_found` a 404, `conflict` a 409; store and internal failures keep
/// the answers every endpoint gives them.
impl From<AdminError> for OAuthError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::InvalidField {
                code,
                field,
                message,
            } => OAuthError::new(StatusCode::BAD_REQUEST, code, format!("{field}: {message}")),
            AdminError::InvalidRequest(message) => OAuthError::invalid_request(message),
            AdminError::NotFound(message) => OAuthError::not_found(message),
            AdminError::Conflict(message) => OAuthError::conflict(message),
            AdminError::Store(e) => e.into(),
            AdminError::Protocol(e) => e,
            AdminError::Internal(detail) => OAuthError::server_error().with_detail(detail),
        }
    }
}
