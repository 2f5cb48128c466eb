//! Client registration: RFC 7591 metadata in, profile defaults filled in, every field checked
//! (errors per RFC 7591 §3.2.2, naming the field), and a lint against current best practice
//! (RFC 9700, RFC 8252) returned as warnings.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::AdminError;
use crate::config::SigningAlg;
use crate::error::ErrorCode;
use crate::names::grant_type;
use crate::oauth::client::{AuthMethod, ClientMetadata, Profile};
use crate::oauth::scope::Scope;
use crate::oauth::uri::{is_loopback_host, parse_absolute};

/// A registration or replacement request: RFC 7591 §2 names plus Portcullis' own. Absent
/// fields take the `profile`'s defaults; `client_name` is required.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ClientRegistration {
    pub client_name: Option<String>,
    pub profile: Option<Profile>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub token_endpoint_auth_signing_alg: Option<String>,
    pub scope: Option<String>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub allowed_resources: Option<Vec<String>>,
    pub token_exchange_audiences: Option<Vec<String>>,
    pub require_pkce: Option<bool>,
    pub first_party: Option<bool>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    pub id_token_signed_response_alg: Option<String>,
    pub token_requests_per_minute: Option<u64>,
    /// RFC 7591 §2: metadata the server does not understand is ignored (and we say so).
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: Map<String, Value>,
}

impl ClientRegistration {
    /// RFC 7591 §3.2.2: metadata of the wrong shape is `invalid_client_metadata`, naming the field.
    pub fn from_json(value: Value) -> Result<Self, AdminError> {
        serde_path_to_error::deserialize(value)
            .map_err(|e| bad(&e.path().to_string(), &e.inner().to_string()))
    }
}

const RESPONSE_TYPES: [&str; 5] = [
    "code",
    "token",
    "id_token",
    "id_token token",
    "code id_token",
];
const ASSERTION_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn bad(field: &str, message: &str) -> AdminError {
    AdminError::invalid_as(ErrorCode::InvalidClientMetadata, field, message)
}

/// RFC 7591 §3.2.2 `invalid_redirect_uri`, naming the field.
fn bad_redirect(field: &str, message: &str) -> AdminError {
    AdminError::invalid_as(ErrorCode::InvalidRedirectUri, field, message)
}

/// The recommended set-up for each kind of app.
fn profile_defaults(profile: Profile) -> (Vec<&'static str>, Vec<&'static str>, AuthMethod) {
    use grant_type::*;
    match profile {
        Profile::Web => (
            vec![AUTHORIZATION_CODE, REFRESH_TOKEN],
            vec!["code"],
            AuthMethod::ClientSecretBasic,
        ),
        Profile::Spa | Profile::Native => (
            vec![AUTHORIZATION_CODE, REFRESH_TOKEN],
            vec!["code"],
            AuthMethod::None,
        ),
        Profile::Service => (
            vec![CLIENT_CREDENTIALS],
            vec![],
            AuthMethod::ClientSecretBasic,
        ),
        Profile::Device => (vec![DEVICE_CODE, REFRESH_TOKEN], vec![], AuthMethod::None),
        Profile::Api => (vec![], vec![], AuthMethod::ClientSecretBasic),
    }
}

fn strings(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_string).collect()
}

/// Fills in defaults and checks every field. Returns the metadata to store and the warnings.
/// `resource_exists` answers whether an `allowed_resources` or `token_exchange_audiences`
/// entry is registered.
pub fn validate(
    req: ClientRegistration,
    resource_exists: &dyn Fn(&str) -> bool,
) -> Result<(ClientMetadata, Vec<String>), AdminError> {
    let mut warnings: Vec<String> = req
        .unknown
        .keys()
        .map(|k| format!("{k}: unknown metadata, ignored"))
        .collect();
    let profile = req
        .profile
        .unwrap_or_else(|| match req.grant_types.as_deref() {
            Some([g]) if g == grant_type::CLIENT_CREDENTIALS => Profile::Service,
            _ => Profile::Web,
        });
    let (default_grants, default_responses, default_method) = profile_defaults(profile);
    let client_name = req.client_name.unwrap_or_default().trim().to_string();
    if client_name.is_empty() || client_name.len() > 200 {
        return Err(bad("client_name", "required, at most 200 characters"));
    }
    let grant_types = req.grant_types.unwrap_or_else(|| strings(default_grants));
    for g in &grant_types {
        if !grant_type::ALL.contains(&g.as_str()) {
            return Err(bad("grant_types", &format!("unknown grant type {g:?}")));
        }
    }
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    let response_types = req.response_types.unwrap_or_else(|| {
        let mut r = strings(default_responses);
        if !has(grant_type::AUTHORIZATION_CODE) {
            r.clear();
        }
        r
    });
    for r in &response_types {
        if !RESPONSE_TYPES.contains(&r.as_str()) {
            return Err(bad(
                "response_types",
                &format!("unsupported response type {r:?}"),
            ));
        }
        // RFC 7591 §2.1: response types and grant types must agree.
        let needs_code = r.split(' ').any(|p| p == "code");
        let needs_implicit = r.split(' ').any(|p| p == "token" || p == "id_token");
        if (needs_code && !has(grant_type::AUTHORIZATION_CODE))
            || (needs_implicit && !needs_code && !has(grant_type::IMPLICIT))
        {
            return Err(bad(
                "response_types",
                &format!("{r:?} does not match grant_types"),
            ));
        }
    }
    let method = req.token_endpoint_auth_method.unwrap_or(default_method);

    let redirect_uris = req.redirect_uris.unwrap_or_default();
    for (i, uri) in redirect_uris.iter().enumerate() {
        check_redirect_uri(profile, uri, &mut warnings)
            .map_err(|m| bad_redirect(&format!("redirect_uris[{i}]"), m))?;
    }
    let redirecting = has(grant_type::AUTHORIZATION_CODE) || has(grant_type::IMPLICIT);
    if redirecting && redirect_uris.is_empty() {
        return Err(bad_redirect(
            "redirect_uris",
            "required for the authorization_code and implicit grants",
        ));
    }
    if !redirecting && !redirect_uris.is_empty() {
        warnings.push("redirect_uris: unused, no grant type redirects".into());
    }
    let post_logout_redirect_uris = req.post_logout_redirect_uris.unwrap_or_default();
    for (i, uri) in post_logout_redirect_uris.iter().enumerate() {
        check_redirect_uri(profile, uri, &mut warnings)
            .map_err(|m| bad_redirect(&format!("post_logout_redirect_uris[{i}]"), m))?;
    }

    // Keys for private_key_jwt: RFC 7591 §2 forbids both jwks and jwks_uri.
    if req.jwks.is_some() && req.jwks_uri.is_some() {
        return Err(bad("jwks", "jwks and jwks_uri must not both be present"));
    }
    if let Some(jwks) = &req.jwks {
        check_jwks(jwks)?;
    }
    if let Some(uri) = &req.jwks_uri {
        let url = parse_absolute(uri).map_err(|m| bad("jwks_uri", m))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback_host(url.host_str()))
        {
            return Err(bad("jwks_uri", "must be https"));
        }
    }
    if method == AuthMethod::PrivateKeyJwt && req.jwks.is_none() && req.jwks_uri.is_none() {
        return Err(bad("jwks", "private_key_jwt needs jwks or jwks_uri"));
    }
    if let Some(alg) = &req.token_endpoint_auth_signing_alg
        && !ASSERTION_ALGS.contains(&alg.as_str())
    {
        return Err(bad(
            "token_endpoint_auth_signing_alg",
            "unsupported algorithm",
        ));
    }

    let scope = req.scope.unwrap_or_default();
    let scope = Scope::parse(&scope)
        .ok_or_else(|| bad("scope", "not a space-separated list of scope tokens"))?
        .to_string();
    let allowed_resources = req.allowed_resources.unwrap_or_default();
    for r in &allowed_resources {
        if !resource_exists(r) {
            return Err(bad(
                "allowed_resources",
                &format!("{r:?} is not a registered resource"),
            ));
        }
    }
    let token_exchange_audiences = req.token_exchange_audiences.unwrap_or_default();
    for r in &token_exchange_audiences {
        if !resource_exists(r) {
            return Err(bad(
                "token_exchange_audiences",
                &format!("{r:?} is not a registered resource"),
            ));
        }
    }
    for (field, value) in [
        ("logo_uri", &req.logo_uri),
        ("client_uri", &req.client_uri),
        ("policy_uri", &req.policy_uri),
        ("tos_uri", &req.tos_uri),
    ] {
        if let Some(v) = value {
            let url = parse_absolute(v).map_err(|m| bad(field, m))?;
            if url.scheme() != "https" && url.scheme() != "http" {
                return Err(bad(field, "must be an http(s) URL"));
            }
        }
    }
    let id_token_signed_response_alg = req
        .id_token_signed_response_alg
        .as_deref()
        .map(check_id_token_alg)
        .transpose()
        .map_err(|m| bad("id_token_signed_response_alg", m))?;
    if req
        .token_requests_per_minute
        .is_some_and(|n| n > crate::config::MAX_TOKEN_REQUESTS_PER_MINUTE)
    {
        return Err(bad(
            "token_requests_per_minute",
            "must be at most 10000000 (0: no limit)",
        ));
    }
    let require_pkce = req.require_pkce.unwrap_or(true);
    if let Some(uri) = &req.backchannel_logout_uri {
        check_backchannel_logout_uri(uri).map_err(|m| bad("backchannel_logout_uri", m))?;
    }
    if req.backchannel_logout_session_required == Some(true) && req.backchannel_logout_uri.is_none()
    {
        warnings.push(
            "backchannel_logout_session_required: unused without a backchannel_logout_uri".into(),
        );
    }

    // The lint: legal, but against current best practice.
    let public_profile = matches!(profile, Profile::Spa | Profile::Native | Profile::Device);
    if public_profile && method != AuthMethod::None {
        warnings.push(format!(
            "token_endpoint_auth_method: a {} app cannot keep a secret; use none with PKCE \
             (RFC 8252 §8.5, RFC 9700 §2.1.1)",
            profile.as_str()
        ));
    }
    if has(grant_type::IMPLICIT) {
        warnings.push(
            "grant_types: implicit is deprecated (RFC 9700 §2.1.2) and served only \
                       when legacy.implicit is on; use authorization_code with PKCE"
                .into(),
        );
    }
    let first_party = req.first_party.unwrap_or(false);
    if has(grant_type::PASSWORD) {
        warnings.push(
            "grant_types: password is deprecated (RFC 9700 §2.4) and served only \
                       when legacy.password is on"
                .into(),
        );
        if method.is_public() && !first_party {
            warnings.push(
                "grant_types: password needs a confidential or first-party client; this \
                 client will be refused (RFC 6749 §4.3)"
                    .into(),
            );
        }
    }
    if method.is_public() && has(grant_type::AUTHORIZATION_CODE) && !require_pkce {
        warnings.push(
            "require_pkce: a public client without PKCE is open to code \
                       interception (RFC 9700 §2.1.1); PKCE is enforced for it anyway"
                .into(),
        );
    }
    if has(grant_type::TOKEN_EXCHANGE) && token_exchange_audiences.is_empty() {
        warnings.push(
            "token_exchange_audiences: empty, so every token exchange by this client is \
             refused; list the APIs it may call on a user's behalf"
                .into(),
        );
    }
    if !has(grant_type::TOKEN_EXCHANGE) && !token_exchange_audiences.is_empty() {
        warnings
            .push("token_exchange_audiences: unused without the token-exchange grant type".into());
    }
    if method.is_public() && has(grant_type::TOKEN_EXCHANGE) {
        warnings.push(
            "grant_types: token exchange needs a confidential client; this client will be \
             refused"
                .into(),
        );
    }
    if method.is_public() && has(grant_type::CLIENT_CREDENTIALS) {
        warnings.push(
            "grant_types: client_credentials needs a confidential client; this \
                       client will be refused (RFC 6749 §4.4)"
                .into(),
        );
    }

    Ok((
        ClientMetadata {
            client_name,
            profile,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            token_endpoint_auth_method: method,
            token_endpoint_auth_signing_alg: req.token_endpoint_auth_signing_alg,
            scope,
            jwks: req.jwks,
            jwks_uri: req.jwks_uri,
            contacts: req.contacts.unwrap_or_default(),
            logo_uri: req.logo_uri,
            client_uri: req.client_uri,
            policy_uri: req.policy_uri,
            tos_uri: req.tos_uri,
            allowed_resources,
            token_exchange_audiences,
            require_pkce,
            first_party,
            backchannel_logout_uri: req.backchannel_logout_uri,
            backchannel_logout_session_required: req
                .backchannel_logout_session_required
                .unwrap_or(false),
            id_token_signed_response_alg,
            token_requests_per_minute: req.token_requests_per_minute,
        },
        warnings,
    ))
}

/// RFC 6749 §3.1.2 and RFC 9700 §4.1: absolute, no fragment, no wildcard, matched exactly.
fn check_redirect_uri(
    profile: Profile,
    uri: &str,
    warnings: &mut Vec<String>,
) -> Result<(), &'static str> {
    let url = parse_absolute(uri)?;
    if uri.contains('*') {
        return Err("wildcards are not allowed: redirect URIs are matched exactly");
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(url.host_str()) => {
            if url.host_str() == Some("localhost") {
                warnings.push(format!(
                    "redirect_uris: {uri} uses localhost; prefer 127.0.0.1 or [::1] (RFC 8252 §8.3)"
                ));
            }
        }
        "http" => warnings.push(format!(
            "redirect_uris: {uri} is http on a non-loopback host; codes and tokens would cross \
             the network in clear (RFC 9700 §4.1.1)"
        )),
        "javascript" | "data" | "file" | "vbscript" => return Err("scheme not allowed"),
        scheme => {
            // RFC 8252 §7.1: private-use schemes, in reverse domain form, for native apps.
            if profile != Profile::Native {
                warnings.push(format!(
                    "redirect_uris: {uri} uses a private-use scheme; only native apps should"
                ));
            } else if !scheme.contains('.') {
                warnings.push(format!(
                    "redirect_uris: {uri}: use a reverse-domain scheme like com.example.app (RFC 8252 §7.1)"
                ));
            }
        }
    }
    Ok(())
}

/// OIDC Back-Channel Logout 1.0 §2.2: an absolute URI, https (http only on a loopback host,
/// for development), with no fragment. The token it receives ends sessions, so it must not
/// cross the network in clear.
fn check_backchannel_logout_uri(uri: &str) -> Result<(), &'static str> {
    let url = parse_absolute(uri)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url.host_str()) => Ok(()),
        _ => Err("must be https (http only on a loopback host)"),
    }
}

/// OIDC Dynamic Client Registration 1.0 §2 `id_token_signed_response_alg`: one of the
/// algorithms this server signs with (discovery's `id_token_signing_alg_values_supported`).
/// `none` is refused: an unsigned ID token is only allowed when no token endpoint is involved
/// (OIDC Core §2), and every flow here may use one.
fn check_id_token_alg(alg: &str) -> Result<SigningAlg, &'static str> {
    if alg == "none" {
        return Err("none is not allowed: ID tokens are always signed");
    }
    SigningAlg::parse(alg).ok_or("unsupported algorithm; use ES256, RS256 or EdDSA")
}

/// A client's public keys: a JWK set with at least one asymmetric public key, and no private
/// or symmetric key material (which would be a leak or a forgery risk).
fn check_jwks(jwks: &Value) -> Result<(), AdminError> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|e| bad("jwks", &format!("not a JWK set: {e}")))?;
    if set.keys.is_empty() {
        return Err(bad("jwks", "has no keys"));
    }
    if crate::oauth::jwt_assertion::has_duplicate_kid(&set) {
        return Err(bad("jwks", "two keys share a kid"));
    }
    for key in jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if key.get("d").is_some() || key.get("kty").and_then(Value::as_str) == Some("oct") {
            return Err(bad("jwks", "must hold public keys only"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(v: Value) -> ClientRegistration {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn profiles_fill_in_defaults() {
        let (m, w) = validate(
            reg(serde_json::json!({"client_name": "SPA", "profile": "spa",
                 "redirect_uris": ["https://app.example.com/cb"]})),
            &|_| true,
        )
        .unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(m.grant_types, ["authorization_code", "refresh_token"]);
        assert!(m.require_pkce);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn fragment_in_redirect_uri_is_refused() {
        let e = validate(
            reg(serde_json::json!({"client_name": "x", "redirect_uris": ["https://a.example/cb#f"]})),
            &|_| true,
        )
        .unwrap_err();
        let AdminError::InvalidField { code, field, .. } = e else {
            panic!("{e}");
        };
        assert_eq!(code, "invalid_redirect_uri");
        assert!(field.contains("redirect_uris[0]"));
    }
}
