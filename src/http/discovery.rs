//! RFC 8414 / OpenID Connect Discovery 1.0 §3 metadata, and the JWKS (RFC 7517).
//! Built from the grant registry and config, so only what is served is advertised.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::SigningAlg;
use crate::names::grant_type::DEVICE_CODE;
use crate::names::path;
use crate::oauth::authorize_request;
use crate::oauth::client::AuthMethod;
use crate::state::AppState;

/// The metadata document; computed from config and registry, which do not change while running.
pub fn document(state: &AppState) -> Value {
    let url = |p: &str| state.endpoint(p);
    let all_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let confidential: Vec<&str> = AuthMethod::ALL
        .iter()
        .filter(|m| !m.is_public())
        .map(|m| m.as_str())
        .collect();
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let assertion_algs = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ];
    // RFC 8414 §2: `implicit` is a grant type too, though not a token-endpoint one.
    let mut grant_types: Vec<&str> = state.grants.grant_types().collect();
    let mut response_types = vec!["code"];
    if state.config.legacy.implicit {
        grant_types.push(crate::names::grant_type::IMPLICIT);
        response_types.extend(authorize_request::ResponseType::IMPLICIT);
    }
    let mut document = json!({
        "issuer": state.issuer,
        "authorization_endpoint": url(path::AUTHORIZE),
        "token_endpoint": url(path::TOKEN),
        "jwks_uri": url(path::JWKS),
        "introspection_endpoint": url(path::INTROSPECT),
        "revocation_endpoint": url(path::REVOKE),
        "userinfo_endpoint": url(path::USERINFO),
        // OIDC RP-Initiated Logout 1.0 §2.1.
        "end_session_endpoint": url(path::LOGOUT),
        "grant_types_supported": grant_types,
        // RFC 7636 §4.2 / RFC 8414 §2: S256 only; plain is refused (RFC 9700 §2.1.1).
        "code_challenge_methods_supported": [crate::oauth::pkce::S256],
        // RFC 6749 §3.1.1: the code flow, and the implicit flow when on; never hybrid.
        "response_types_supported": response_types,
        "response_modes_supported": authorize_request::RESPONSE_MODES,
        "scopes_supported": authorize_request::OIDC_SCOPES,
        "prompt_values_supported": authorize_request::PROMPT_VALUES,
        "token_endpoint_auth_methods_supported": all_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": confidential,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": all_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        // OIDC Discovery §3: the claims userinfo can return (OIDC Core §5.4).
        "claims_supported": crate::oauth::claims::claims_supported(),
        // OIDC Back-Channel Logout 1.0 §2.1: Logout Tokens, carrying `sid` (ID tokens do too).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        // OIDC Core §5.5: a `claims` request is checked and accepted, but the scope decides
        // which claims are returned.
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": authorize_request::ACR_VALUES,
        "display_values_supported": authorize_request::DISPLAY_VALUES,
        // RFC 9207: responses from this server say who sent them.
        "authorization_response_iss_parameter_supported": true,
    });
    // RFC 8628 §4: only while the device grant is served.
    if state.grants.get(DEVICE_CODE).is_some() {
        document["device_authorization_endpoint"] = url(path::DEVICE_AUTHORIZATION).into();
    }
    document
}

fn json_bytes(body: Vec<u8>, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    json_bytes(state.discovery.clone().to_vec(), "public, max-age=300")
}

/// Public keys only. A short max-age: relying parties should learn a rotation quickly.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json_bytes(state.keys.jwks().to_vec(), "public, max-age=60")
}
