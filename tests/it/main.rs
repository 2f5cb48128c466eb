//! The one integration-test binary (DESIGN.md: each file in tests/ would be its own binary and
//! its own link). Every test runs a real server over real HTTP.

mod harness;

mod admin_api;
mod admin_users;
mod authorize;
mod authorize_params;
mod backchannel_logout;
mod bad_input;
mod browser;
mod client_auth;
mod code_flow;
mod cors;
mod device_flow;
mod discovery;
mod e2e_code_flow;
mod housekeeping;
mod id_token_alg;
mod introspection;
mod jwt_bearer;
mod keys;
mod legacy;
mod logout;
mod metrics;
mod openapi;
mod pages;
mod persistence;
mod refresh;
mod revocation;
mod saml_bearer;
mod throttle;
mod token_endpoint;
mod token_exchange;
mod token_validation;
mod userinfo;
