//! Protocol logic with no axum types: clients, client authentication, scopes, token minting.

pub mod authorize_request;
pub mod backchannel_logout;
pub mod claims;
pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod context;
pub mod deny_list;
pub mod id_token;
pub mod inspect;
pub mod issue;
pub mod jwt_assertion;
pub mod legacy_usage;
pub mod logout_token;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod remote_jwks;
pub mod resource;
pub mod resource_cache;
pub mod saml;
pub mod scope;
pub mod trusted_issuer;
pub mod uri;
pub mod user_code;
