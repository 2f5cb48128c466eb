//! The admin API under `/admin`: JSON, authenticated with `Authorization: Bearer <admin token>`.
//! Handlers are thin: they call the `admin` service layer, which the CLI calls too.

mod clients;
mod events;
mod issuers;
mod keys;
mod legacy_usage;
mod resources;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};

use crate::admin::Actor;
use crate::error::OAuthError;
use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/clients", post(clients::create).get(clients::list))
        .route(
            "/clients/{id}",
            get(clients::show)
                .put(clients::update)
                .delete(clients::delete),
        )
        .route("/clients/{id}/secret", post(clients::rotate_secret))
        .route("/resources", post(resources::create).get(resources::list))
        .route(
            "/resources/{id}",
            get(resources::show)
                .put(resources::update)
                .delete(resources::delete),
        )
        .route("/issuers", post(issuers::create).get(issuers::list))
        .route(
            "/issuers/{id}",
            get(issuers::show)
                .put(issuers::update)
                .delete(issuers::delete),
        )
        .route("/users", post(users::create).get(users::list))
        .route(
            "/users/{id}",
            get(users::show).put(users::update).delete(users::delete),
        )
        .route("/users/{id}/lockout", delete(users::clear_lockout))
        .route("/keys", get(keys::list))
        .route("/keys/rotate", post(keys::rotate))
        .route("/audit", get(keys::audit))
        .route("/events", get(events::list))
        .route("/legacy-usage", get(legacy_usage::list))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
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
