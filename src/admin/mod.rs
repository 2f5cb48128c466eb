//! The admin service layer: clients, resources, issuers, users, keys and admin tokens. The HTTP
//! admin API and the CLI both call these functions, so no rule is written twice. Every change is
//! written to the audit trail in the same transaction as the change.

pub mod client_metadata;
pub mod clients;
mod error;
pub mod events;
pub mod issuers;
pub mod keys;
pub mod legacy_usage;
pub mod resources;
pub mod tokens;
pub mod users;

pub use crate::audit::Actor;
pub use crate::store::Page;
pub use error::AdminError;
