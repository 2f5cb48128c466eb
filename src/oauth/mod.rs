//! Protocol logic with no axum types: clients, client authentication, scopes, token minting.

pub mod authorize_request;
pub mod backchannel_logout;
pub mod client;
pub mod client_auth;
pub mod id_token;
pub mod inspect;
pub mod issue;
pub mod logout_token;
pub mod params;
pub mod remote_jwks;
pub mod resource;
pub mod scope;
pub mod uri;
pub mod user_code;
