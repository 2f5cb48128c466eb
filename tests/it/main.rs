//! The one integration-test binary (DESIGN.md: each file in tests/ would be its own binary and
//! its own link). Every test runs a real server over real HTTP.

mod admin_api;
mod admin_users;
mod audit;
mod authorize;
mod authorize_params;
mod backchannel_logout;
mod bad_input;
mod browser;
mod cli;
mod client_auth;
mod code_flow;
mod cors;
mod db_proxy;
mod device_flow;
mod discovery;
mod doctor;
mod e2e_code_flow;
mod faults;
mod harness;
mod hostile_inputs;
mod housekeeping;
mod id_token_alg;
mod introspection;
mod jwt_bearer;
mod kek_rotation;
mod keys;
mod legacy;
mod logout;
mod metrics;
mod multi_node;
mod node;
mod pages;
mod persistence;
mod races;
mod rate_limit;
mod refresh;
mod revocation;
mod saml_bearer;
mod secrets_at_rest;
mod throttle;
mod token_endpoint;
mod token_exchange;
mod token_validation;
mod userinfo;

