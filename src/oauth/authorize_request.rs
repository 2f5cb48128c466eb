//! RFC 6749 §4.1.1 / OIDC Core §3.1.2.1: the authorization request, parsed into a type and
//! checked. The client and redirect URI come first: until both are verified, an error is shown
//! to the user and never sent to the client (RFC 6749 §4.1.2.1).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::names::grant_type::{AUTHORIZATION_CODE, IMPLICIT};
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::id_token::{hint_audience, verify_hint};
use crate::oauth::params::Params;
use crate::oauth::pkce;
use crate::oauth::redirect_uri::verify_redirect_uri;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;

/// OIDC Core §5.4 / §11: the scopes any client of the code flow may ask for.
pub const OIDC_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// OAuth 2.0 Multiple Response Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode.
pub const RESPONSE_MODES: [&str; 3] = ["query", "fragment", "form_post"];

/// OIDC Core §3.1.2.1 `prompt` values served.
pub const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

/// OIDC Core §2 `acr`: the one authentication context class this server satisfies, a
/// password sign-in. `acr_values` naming it is echoed in the ID token; other values are
/// ignored, as §3.1.2.1 allows for a voluntary claim.
pub const ACR_PASSWORD: &str = "urn:portcullis:acr:password";
pub const ACR_VALUES: [&str; 1] = [ACR_PASSWORD];

/// OIDC Core §3.1.2.1 `display` values; all are served by the same responsive page.
pub const DISPLAY_VALUES: [&str; 4] = ["page", "popup", "touch", "wap"];

/// How the response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// Where a response (success or error) goes, once the client and redirect URI are verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

/// RFC 6749 §3.1.1 `response_type`: the code flow, or (when `legacy.implicit` is on) the
/// implicit flow's three (RFC 6749 §4.2, OIDC Core §3.2). The order of a space-separated
/// value does not matter (OAuth 2.0 Multiple Response Type Encoding Practices §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    #[default]
    Code,
    Token,
    IdToken,
    IdTokenToken,
}

impl ResponseType {
    /// The implicit flow's values, as discovery lists them.
    pub const IMPLICIT: [&str; 3] = ["token", "id_token", "id_token token"];

    /// The served response type `value` names; `None` when unknown, or implicit while off.
    pub fn parse(value: &str, implicit: bool) -> Option<ResponseType> {
        let mut parts: Vec<&str> = value.split(' ').collect();
        parts.sort_unstable();
        let parsed = match parts.as_slice() {
            ["code"] => ResponseType::Code,
            ["token"] => ResponseType::Token,
            ["id_token"] => ResponseType::IdToken,
            ["id_token", "token"] => ResponseType::IdTokenToken,
            _ => return None,
        };
        (parsed == ResponseType::Code || implicit).then_some(parsed)
    }

    pub fn is_implicit(self) -> bool {
        self != ResponseType::Code
    }

    pub fn returns_access_token(self) -> bool {
        matches!(self, ResponseType::Token | ResponseType::IdTokenToken)
    }

    pub fn returns_id_token(self) -> bool {
        matches!(self, ResponseType::IdToken | ResponseType::IdTokenToken)
    }
}

/// OIDC Core §3.1.2.1 `prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request, as stored between the pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// Absent from requests stored before the implicit flow existed: those were all `code`.
    #[serde(default)]
    pub response_type: ResponseType,
    pub to: Return,
    pub scope: String,
    /// RFC 8707 `resource` values, each allowed for the client.
    pub resources: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Prompt,
    /// OIDC Core §3.1.2.1: seconds since the last authentication the client accepts.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// OIDC Core §3.1.2.1: the `sub` of a valid `id_token_hint`; only that user may be signed
    /// in for this request.
    #[serde(default)]
    pub hinted_sub: Option<String>,
    /// The `acr` to put in the ID token: the first of `acr_values` this server satisfies.
    #[serde(default)]
    pub acr: Option<String>,
}

/// Why a request was refused, and how the refusal may be told.
#[derive(Debug)]
pub enum Refusal {
    /// The client or redirect URI is not verified: show the error page, never redirect.
    Page(OAuthError),
    /// Redirect the error to the client (RFC 6749 §4.1.2.1).
    Redirect(Box<Return>, OAuthError),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Self {
        Refusal::Page(e)
    }
}

/// Parses and checks an authorization request: the client and redirect URI, then everything
/// else. `legacy.implicit` off: the implicit flow's response types are refused exactly as
/// unknown ones. Store failures are `Page` refusals with a 5xx status.
pub async fn parse(
    app: &ProtocolContext,
    params: &Params,
) -> Result<(Client, AuthorizeRequest), Refusal> {
    let store = &app.store;
    let implicit = app.config.legacy.implicit;
    let client_id = params.require("client_id")?;
    // The node's short-lived copy (`oauth/client_cache.rs`), as at the token endpoint.
    let client = app
        .clients
        .get(store, client_id, app.now())
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_request("unknown client")
                .with_detail(format!("client_id {client_id:?}"))
        })?
        .client
        .clone();
    let redirect_uri = verify_redirect_uri(&client, params.get("redirect_uri")).map_err(|why| {
        OAuthError::invalid_request(why).with_detail(format!("client {client_id}"))
    })?;
    let state = params.get("state").map(str::to_string);
    let response_type = params
        .get("response_type")
        .and_then(|v| ResponseType::parse(v, implicit));
    let tokens = response_type.is_some_and(ResponseType::is_implicit);
    let response_mode = match params.get("response_mode") {
        Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        // RFC 6749 §4.2.2, Multiple Response Types §2.1: tokens default to the fragment.
        _ if tokens => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let to = Return {
        redirect_uri,
        response_mode,
        state,
    };
    // RFC 6749 §4.2.2.1: an implicit request's error goes where its tokens would, and never
    // in the query, which `check` refuses for tokens.
    let mut error_to = to.clone();
    if tokens && error_to.response_mode == ResponseMode::Query {
        error_to.response_mode = ResponseMode::Fragment;
    }
    match check(app, &client, params, response_type, to).await {
        Ok(request) => Ok((client, request)),
        Err(e) if e.status.is_server_error() => Err(Refusal::Page(e)),
        Err(e) => Err(Refusal::Redirect(Box::new(error_to), e)),
    }
}

/// Everything after the client and redirect URI; each error is redirected to the client.
async fn check(
    state: &ProtocolContext,
    client: &Client,
    params: &Params,
    response_type: Option<ResponseType>,
    to: Return,
) -> Result<AuthorizeRequest, OAuthError> {
    let bad = OAuthError::invalid_request;
    // OIDC Core §6: request objects are not served.
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if let Some(mode) = params.get("response_mode")
        && !RESPONSE_MODES.contains(&mode)
    {
        return Err(bad("unsupported response_mode"));
    }
    // RFC 6749 §3.1.1: `code`, and the implicit flow's types only when it is on.
    let response_type = match (params.get("response_type"), response_type) {
        (None, _) => return Err(bad("missing parameter response_type")),
        (_, Some(t)) => t,
        (Some(other), None) => {
            return Err(unsupported_response_type().with_detail(format!("response_type {other:?}")));
        }
    };
    // RFC 6749 §4.1.2.1 / §4.2.2.1: the client is registered for this grant and response type.
    let registered = |t: ResponseType| {
        client
            .meta
            .response_types
            .iter()
            .any(|r| ResponseType::parse(r, true) == Some(t))
    };
    if response_type == ResponseType::Code {
        if !client.has_grant_type(AUTHORIZATION_CODE) || !registered(response_type) {
            return Err(OAuthError::unauthorized_client(
                "the client may not use the authorization code flow",
            ));
        }
    } else {
        if !client.has_grant_type(IMPLICIT) || !registered(response_type) {
            return Err(OAuthError::unauthorized_client(
                "the client may not use this response type",
            )
            .with_detail(format!("client {} implicit", client.id)));
        }
        // Multiple Response Types §2.1 / RFC 9700 §2.1.2: tokens never travel in the query.
        if to.response_mode == ResponseMode::Query {
            return Err(bad("response_mode query cannot carry tokens"));
        }
    }
    let scope = params
        .get("scope")
        .and_then(Scope::parse)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::invalid_scope("scope is missing or malformed"))?;
    // RFC 6749 §3.3: OIDC scopes for any client of this flow, others only when registered.
    let allowed = Scope::from_tokens(client.allowed_scopes().chain(OIDC_SCOPES));
    let beyond = scope.not_in(&allowed);
    if !beyond.is_empty() {
        return Err(
            OAuthError::invalid_scope("the client may not request this scope")
                .with_detail(format!("client {} scope {beyond:?}", client.id)),
        );
    }
    let resources = params.get_all("resource").to_vec();
    if !resources.is_empty() {
        // RFC 8707 §2: each resource registered and allowed for the client.
        resolve_targets(state, client, &resources).await?;
    } else if response_type.returns_access_token() && !scope.contains("openid") {
        // The token is issued right after consent: its default audience must exist now.
        resolve_targets(state, client, &[]).await?;
    }
    let nonce = params.get("nonce").map(str::to_string);
    if response_type.returns_id_token() {
        // OIDC Core §3.2.2.1: an ID token answers an OpenID request, with a nonce (REQUIRED
        // in the implicit flow, against replayed ID tokens).
        if !scope.contains("openid") {
            return Err(OAuthError::invalid_scope(
                "an ID token needs the openid scope",
            ));
        }
        if nonce.is_none() {
            return Err(bad("nonce is required when an ID token is returned"));
        }
    }
    // RFC 7636 §4.4.1 / RFC 9700 §2.1.1: S256 only; required of public clients and of those
    // registered with require_pkce. PKCE protects a code; the implicit flow has none.
    let challenge = if response_type == ResponseType::Code {
        let challenge = pkce::parse_challenge(
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )?;
        if challenge.is_none() && (client.is_public() || client.meta.require_pkce) {
            return Err(bad("code_challenge is required (PKCE, S256)"));
        }
        challenge
    } else {
        None
    };
    let prompt = parse_prompt(params.get("prompt"))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad("max_age must be a non-negative integer"))?,
        ),
    };
    let hinted_sub = match params.get("id_token_hint") {
        Some(hint) => Some(hinted_subject(state, client, hint)?),
        None => None,
    };
    check_claims(params.get("claims"))?;
    // OIDC Core §3.1.2.1: `display` and `ui_locales` are accepted and need nothing: one
    // responsive page serves every display, and an unsupported locale is not an error.
    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        response_type,
        to,
        scope: scope.to_string(),
        resources,
        nonce,
        code_challenge: challenge.as_ref().map(|c| c.challenge.clone()),
        code_challenge_method: challenge.map(|c| c.method.to_string()),
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_string),
        hinted_sub,
        acr: params
            .get("acr_values")
            .and_then(|v| v.split(' ').find(|a| ACR_VALUES.contains(a)))
            .map(str::to_string),
    })
}

/// OIDC Core §3.1.2.1 `id_token_hint`: an ID token this server issued to this client (an
/// expired one is still a hint). Anything else is `invalid_request`. Returns its `sub`.
fn hinted_subject(
    state: &ProtocolContext,
    client: &Client,
    hint: &str,
) -> Result<String, OAuthError> {
    let claims = verify_hint(state, hint).ok_or_else(|| {
        OAuthError::invalid_request("id_token_hint is not an ID token issued here")
    })?;
    if hint_audience(&claims).as_deref() != Some(client.id.as_str()) {
        return Err(
            OAuthError::invalid_request("id_token_hint was issued to another client")
                .with_detail(format!("client {}", client.id)),
        );
    }
    claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_request("id_token_hint has no subject"))
}

/// OIDC Core §5.5 `claims`: a JSON object whose `userinfo` and `id_token` members, when
/// present, are objects. Individual claim requests are not honoured (discovery says
/// `claims_parameter_supported: false`); the scope decides the claims, as §5.4 describes.
fn check_claims(value: Option<&str>) -> Result<(), OAuthError> {
    let Some(value) = value else {
        return Ok(());
    };
    let bad =
        || OAuthError::invalid_request("claims is not a valid claims request (OIDC Core §5.5)");
    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|_| bad())?;
    let object = parsed.as_object().ok_or_else(bad)?;
    for member in ["userinfo", "id_token"] {
        if let Some(m) = object.get(member)
            && !m.is_object()
        {
            return Err(bad());
        }
    }
    Ok(())
}

/// OIDC Core §3.1.2.1: `none` stands alone; `select_account` is served as `login` (one
/// account per browser).
fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    let Some(value) = value else {
        return Ok(prompt);
    };
    let values: Vec<&str> = value.split(' ').filter(|v| !v.is_empty()).collect();
    for v in &values {
        match *v {
            "none" => prompt.none = true,
            "login" | "select_account" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err(OAuthError::invalid_request("unsupported prompt value")),
        }
    }
    if prompt.none && values.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// RFC 6749 §4.1.2.1.
pub fn unsupported_response_type() -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::UnsupportedResponseType,
        "the response type is not supported",
    )
}

/// OIDC Core §3.1.2.6 errors for `prompt=none`.
pub fn login_required() -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::LoginRequired,
        "the user must sign in",
    )
}

pub fn consent_required() -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::ConsentRequired,
        "the user must consent",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_types_in_any_order_and_implicit_only_when_on() {
        assert_eq!(ResponseType::parse("code", false), Some(ResponseType::Code));
        assert_eq!(ResponseType::parse("token", false), None);
        assert_eq!(
            ResponseType::parse("token", true),
            Some(ResponseType::Token)
        );
        assert_eq!(
            ResponseType::parse("token id_token", true),
            Some(ResponseType::IdTokenToken)
        );
        assert_eq!(ResponseType::parse("id_token  token", true), None);
        assert_eq!(ResponseType::parse("code id_token", true), None);
        assert_eq!(ResponseType::parse("token token", true), None);
    }

    #[test]
    fn prompt_none_stands_alone() {
        assert!(parse_prompt(Some("none")).unwrap().none);
        assert!(parse_prompt(Some("none login")).is_err());
        let p = parse_prompt(Some("login consent")).unwrap();
        assert!(p.login && p.consent);
        assert!(parse_prompt(Some("bogus")).is_err());
    }
}
