//! OpenID Connect Core §5.3: the UserInfo endpoint. A bearer access token (RFC 6750 §2.1
//! header, or §2.2 form body on POST) for this server with `openid` in its scope returns the
//! user's claims that its scope allows (§5.4).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::no_store;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::claims::by_scope;
use crate::oauth::inspect::{Hint, TokenKind, inspect};
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::state::AppState;
use crate::users::User;

/// Why a request gets no claims, as RFC 6750 §3 tells the client.
#[derive(Debug)]
enum Refusal {
    /// §3.1: no credentials at all: a challenge with no error code.
    NoToken,
    /// §3.1 `invalid_request` (400): malformed, or a token sent more than one way.
    InvalidRequest(&'static str),
    /// §3.1 `invalid_token` (401): expired, revoked, not ours, not for us, or its user is gone.
    InvalidToken(String),
    /// §3.1 `insufficient_scope` (403): no `openid`.
    InsufficientScope,
}

/// `GET|POST /userinfo`.
pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match claims(&state, &method, &headers, &body).await {
        Ok(Ok(claims)) => no_store(Json(Value::Object(claims)).into_response()),
        Ok(Err(refusal)) => refuse(&state, refusal),
        Err(e) => e.into_response(),
    }
}

async fn claims(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<Map<String, Value>, Refusal>, OAuthError> {
    let token = match presented_token(method, headers, body) {
        Ok(Some(token)) => token,
        Ok(None) => return Ok(Err(Refusal::NoToken)),
        Err(refusal) => return Ok(Err(refusal)),
    };
    let now = state.now();
    let info = match inspect(state, &token, Hint::AccessToken, now).await? {
        // A refresh token is not a bearer credential (RFC 6749 §1.5).
        Some(info) if info.kind != TokenKind::Refresh => info,
        _ => {
            return Ok(Err(Refusal::InvalidToken(
                "not an active access token".into(),
            )));
        }
    };
    // RFC 6750 §3.1 / RFC 9068 §4: a token for another API is not good here.
    if !info.aud.contains(&state.issuer) {
        return Ok(Err(Refusal::InvalidToken(format!(
            "token {:?} is not for this server",
            info.jti
        ))));
    }
    let scope = Scope::parse(&info.scope).unwrap_or_default();
    // OIDC Core §5.3: the token must have been granted in an OpenID Connect request.
    if !scope.contains("openid") {
        return Ok(Err(Refusal::InsufficientScope));
    }
    let user = match state.store.get_user(&info.sub).await? {
        Some(row) => User::from_row(row)?,
        None => {
            return Ok(Err(Refusal::InvalidToken(format!(
                "user {} no longer exists",
                info.sub
            ))));
        }
    };
    if user.disabled {
        return Ok(Err(Refusal::InvalidToken(format!(
            "user {} is disabled",
            user.id
        ))));
    }
    Ok(Ok(by_scope(user.oidc_claims(), &scope)))
}

/// The access token of the request: the `Authorization: Bearer` header (RFC 6750 §2.1) or,
/// on a form POST, the `access_token` field (§2.2). The query form (§2.3) is not accepted: a
/// token in a URL ends up in logs and histories.
fn presented_token(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, Refusal> {
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    let from_header = match (authorizations.next(), authorizations.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(Refusal::InvalidRequest("repeated Authorization")),
        (Some(value), None) => bearer(value)?,
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let from_body = if *method == Method::POST && is_form {
        let params = Params::parse(body)
            .map_err(|_| Refusal::InvalidRequest("malformed or repeated form parameters"))?;
        params.get("access_token").map(str::to_string)
    } else {
        None
    };
    match (from_header, from_body) {
        // RFC 6750 §2: clients MUST NOT use more than one method per request.
        (Some(_), Some(_)) => Err(Refusal::InvalidRequest("token sent more than one way")),
        (token, None) | (None, token) => Ok(token),
    }
}

/// `Bearer <b64token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
/// Another scheme is no bearer token at all.
fn bearer(value: &HeaderValue) -> Result<Option<String>, Refusal> {
    let malformed = Refusal::InvalidRequest("malformed Authorization header");
    let Ok(text) = value.to_str() else {
        return Err(malformed);
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !b64token {
        return Err(malformed);
    }
    Ok(Some(token.to_string()))
}

/// RFC 6750 §3: the error (a JSON body, as everywhere else) with its `WWW-Authenticate`
/// challenge.
fn refuse(state: &AppState, refusal: Refusal) -> Response {
    let realm = format!("Bearer realm=\"{}\"", state.issuer);
    let (challenge, mut response) = match refusal {
        // §3.1: a request with no authentication information gets no error code.
        Refusal::NoToken => (
            realm,
            (
                StatusCode::UNAUTHORIZED,
                [(header::CACHE_CONTROL, "no-store")],
            )
                .into_response(),
        ),
        Refusal::InvalidRequest(why) => (
            format!("{realm}, error=\"invalid_request\""),
            OAuthError::invalid_request("the request does not carry one well-formed bearer token")
                .with_detail(why)
                .into_response(),
        ),
        Refusal::InvalidToken(why) => (
            format!("{realm}, error=\"invalid_token\""),
            OAuthError::invalid_token("the access token is not valid here")
                .with_detail(why)
                .into_response(),
        ),
        Refusal::InsufficientScope => (
            format!("{realm}, error=\"insufficient_scope\", scope=\"openid\""),
            OAuthError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InsufficientScope,
                "the access token was not granted the openid scope",
            )
            .into_response(),
        ),
    };
    // The issuer is a validated URL: no quote or control character can end the parameter.
    let value = HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer"));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        h
    }

    #[test]
    fn reads_a_bearer_token_from_the_header_or_the_form() {
        let get = |h: &HeaderMap| presented_token(&Method::GET, h, b"");
        assert_eq!(
            get(&headers("Bearer abc.def-_~+/==")).unwrap().as_deref(),
            Some("abc.def-_~+/==")
        );
        assert_eq!(get(&headers("bearer abc")).unwrap().as_deref(), Some("abc"));
        assert_eq!(get(&HeaderMap::new()).unwrap(), None);
        assert_eq!(get(&headers("Basic YTpi")).unwrap(), None);
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b", "Bearer ="] {
            assert!(
                matches!(get(&headers(bad)), Err(Refusal::InvalidRequest(_))),
                "{bad}"
            );
        }
        let mut form = HeaderMap::new();
        form.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let post = |h: &HeaderMap, body: &[u8]| presented_token(&Method::POST, h, body);
        assert_eq!(
            post(&form, b"access_token=xyz").unwrap().as_deref(),
            Some("xyz")
        );
        // Not a form: the body is not read.
        assert_eq!(post(&HeaderMap::new(), b"access_token=xyz").unwrap(), None);
        assert!(matches!(
            post(&form, b"access_token=a&access_token=b"),
            Err(Refusal::InvalidRequest(_))
        ));
        let mut both = form.clone();
        both.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(matches!(
            post(&both, b"access_token=xyz"),
            Err(Refusal::InvalidRequest(_))
        ));
    }
}
