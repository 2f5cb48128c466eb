//! RFC 6749 §4.1.1 / OIDC Core §3.1.2.1: the authorization request, parsed into a type and
//! checked. The client and redirect URI come first: until both are verified, an error is shown
//! to the user and never sent to the client (RFC 6749 §4.1.2.1).

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::grants::pkce;
use crate::names::grant_type::{AUTHORIZATION_CODE, IMPLICIT};
use crate::oauth::client::{Client, Profile};
use crate::oauth::id_token::{hint_audience, verify_hint};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;
use crate::state::AppState;

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
pub async fn parse(app: &AppState, params: &Params) -> Result<(Client, AuthorizeRequest), Refusal> {
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

/// RFC 6749 §3.1.2.3 / RFC 9700 §2.1: the redirect URI equals a registered one exactly, but
/// for a native app's loopback URI, whose port may differ (RFC 8252 §7.3). Absent, it is the
/// client's only registered one.
pub fn verify_redirect_uri(
    client: &Client,
    requested: Option<&str>,
) -> Result<String, &'static str> {
    let registered = &client.meta.redirect_uris;
    let Some(requested) = requested else {
        return match registered.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err("redirect_uri is required"),
        };
    };
    if registered.iter().any(|r| r == requested) {
        return Ok(requested.to_string());
    }
    if client.meta.profile == Profile::Native
        && registered
            .iter()
            .any(|r| same_loopback_but_port(r, requested))
    {
        return Ok(requested.to_string());
    }
    Err("redirect_uri is not registered for the client")
}

/// RFC 8252 §7.3: `http` on the IP literal loopback, same host, path and query; any port.
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        u.scheme() == "http"
            && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
            && u.username().is_empty()
            && u.password().is_none()
            && u.fragment().is_none()
    };
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
}

/// Everything after the client and redirect URI; each error is redirected to the client.
async fn check(
    state: &AppState,
    client: &Client,
    params: &Params,
    response_type: Option<ResponseType>,
    to: Return,
) -> Result<AuthorizeRequest, OAuthError> {
    let bad = OAuthError::invalid_request;
    // OIDC Core §6: request objects are not served.
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
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
fn hinted_subject(state: &AppState, client: &Client, hint: &str) -> Result<String, OAuthError> {
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
        axum::http::StatusCode::BAD_REQUEST,
        ErrorCode::UnsupportedResponseType,
        "the response type is not supported",
    )
}

/// OIDC Core §3.1.2.6 errors for `prompt=none`.
pub fn login_required() -> OAuthError {
    OAuthError::new(
        axum::http::StatusCode::BAD_REQUEST,
        ErrorCode::LoginRequired,
        "the user must sign in",
    )
}

pub fn consent_required() -> OAuthError {
    OAuthError::new(
        axum::http::StatusCode::BAD_REQUEST,
        ErrorCode::ConsentRequired,
        "the user must consent",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports_may_differ_but_nothing_else() {
        let r = "http://127.0.0.1/callback";
        assert!(same_loopback_but_port(r, "http://127.0.0.1:51234/callback"));
        assert!(same_loopback_but_port(
            "http://[::1]:1/cb",
            "http://[::1]:8080/cb"
        ));
        assert!(!same_loopback_but_port(r, "http://127.0.0.1:51234/other"));
        assert!(!same_loopback_but_port(
            r,
            "http://localhost:51234/callback"
        ));
        assert!(!same_loopback_but_port(
            r,
            "https://127.0.0.1:51234/callback"
        ));
        assert!(!same_loopback_but_port(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
    }

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

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use crate::fuzzing::redirect_uri;

    const GOOD: &str = "https://good.example/cb";

    fn registered() -> Vec<String> {
        vec![GOOD.to_string(), "https://good.example/cb?x=1".to_string()]
    }

    /// Open-redirect tricks against a registered URI (RFC 9700 §4.1): none is "the same".
    #[test]
    fn near_misses_of_a_registered_uri_are_refused() {
        for trick in [
            "https://good.example@evil.example/cb",
            "https://good.example/cb@evil.example",
            "https://evil.example/cb",
            "https://good.example.evil.example/cb",
            "https://GOOD.example/cb",
            "HTTPS://good.example/cb",
            "https://good.example./cb",
            "https://good.example/cb/",
            "https://good.example/cb/..",
            "https://good.example/cb/../evil",
            "https://good.example/x/../cb",
            "https://good.example/cb%2f..%2fevil",
            "https://good.example/cb%2F..%2Fevil",
            "https://good.example%2fcb",
            "https://good.example/cb#evil",
            "https://good.example/cb?x=2",
            "https://good.example/cb?x=1&y=2",
            "https://good.example:443/cb",
            "https://good.example:8443/cb",
            "https://user:pass@good.example/cb",
            "http://good.example/cb",
            "https://good.example/cb\r\nLocation: https://evil.example",
            "https://good.example/cb%0d%0aLocation:%20https://evil.example",
            "https://good.example/CB",
            " https://good.example/cb",
            "https://good.example/cb ",
            "https://good.example\\@evil.example/cb",
            "//evil.example/cb",
            "https:/good.example/cb",
        ] {
            assert_eq!(
                redirect_uri(&registered(), false, Some(trick)),
                None,
                "{trick}"
            );
            assert_eq!(
                redirect_uri(&registered(), true, Some(trick)),
                None,
                "{trick}"
            );
        }
        assert_eq!(
            redirect_uri(&registered(), false, Some(GOOD)).as_deref(),
            Some(GOOD)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A web client's response goes to a registered URI, character for character, or
        /// nowhere.
        #[test]
        fn only_registered_uris_are_accepted(
            requested in prop_oneof![
                "\\PC{0,60}",
                "https://good\\.example[/:@.?#%a-zA-Z0-9]{0,20}",
                "[hH][tT][tT][pP][sS]?://[gG][oO][oO][dD]\\.example\\.?(:[0-9]{1,5})?/cb[/?#.]{0,3}",
            ],
            native in any::<bool>(),
        ) {
            let got = redirect_uri(&registered(), native, Some(&requested));
            if let Some(got) = got {
                prop_assert_eq!(&got, &requested);
                prop_assert!(registered().contains(&got), "{}", got);
            }
        }

        /// A native app's loopback URI matches on any port, and on nothing else.
        #[test]
        fn native_loopback_varies_only_by_port(port in 1u16.., path in "/[a-z]{0,6}", other in "/[a-z]{0,6}") {
            let registered = vec![format!("http://127.0.0.1{path}")];
            let same = format!("http://127.0.0.1:{port}{path}");
            prop_assert_eq!(redirect_uri(&registered, true, Some(&same)), Some(same.clone()));
            prop_assert_eq!(redirect_uri(&registered, false, Some(&same)).is_some(), registered[0] == same);
            let elsewhere = format!("http://127.0.0.1:{port}{other}");
            let url_of = |s: &str| url::Url::parse(s).unwrap().path().to_string();
            prop_assert_eq!(
                redirect_uri(&registered, true, Some(&elsewhere)).is_some(),
                url_of(&elsewhere) == url_of(&registered[0])
            );
            for host in ["localhost", "127.0.0.2", "evil.example"] {
                let moved = format!("http://{host}:{port}{path}");
                prop_assert_eq!(redirect_uri(&registered, true, Some(&moved)), None);
            }
        }
    }
}
