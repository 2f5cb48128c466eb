//! The admin service layer: clients, resources, issuers, users, keys and admin tokens. The HTTP
//! admin API and the CLI both call these functions, so no rule is written twice. Every change is
//! written to the audit trail in the same transaction as the change.

pub mod client_metadata;
pub mod clients;
mod error;
pub mod issuers;
pub mod keys;
pub mod legacy_usage;
pub mod resources;
pub mod tokens;
pub mod users;

pub use error::AdminError;

/// Who made an admin change, as recorded in the audit trail.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn cli() -> Self {
        Actor("cli".into())
    }
}

/// `?limit=&after=` keyset pagination shared by the list endpoints.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page: 1 to 200 (values outside are clamped), 50 when absent.
    pub limit: Option<i64>,
    /// The `next` of the previous page; absent for the first page.
    pub after: Option<String>,
}

impl Page {
    pub const MAX: i64 = 200;

    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, Self::MAX)
    }
}
