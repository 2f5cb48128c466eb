//! RFC 8693 §2: token exchange for on-behalf-of. An API that received a user's access token
//! trades it for a token to call another API as that user, and Microsoft Entra's OBO form of
//! the same request (`jwt-bearer` with `requested_token_use=on_behalf_of`) is answered here too.
//!
//! The rules, for both forms: the subject token is an active access token this server issued
//! (`oauth::inspect`), one of its audiences is a resource whose acting API is the caller (one
//! cannot exchange a token minted for somebody else), the target is among the caller's
//! `token_exchange_audiences`, and the new token keeps `sub`, records the chain in `act`
//! (§4.1) and expires no later than the subject token.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::TOKEN_EXCHANGE;
use crate::names::token_type;
use crate::oauth::external_subject;
use crate::oauth::inspect::{Hint, TokenInfo, TokenKind, inspect};
use crate::oauth::issue::{AccessTokenSpec, TokenResponse, issue_access_token};
use crate::oauth::params::Params;
use crate::oauth::resource::{Resource, TokenFormat, resolve_targets_among};
use crate::oauth::scope::Scope;

pub struct TokenExchange;

/// The longest delegation chain (`act` nesting) a token may carry: enough for any real call
/// graph, and it stops two APIs allowed to call each other from growing one without end.
const MAX_ACTORS: usize = 8;

/// RFC 8693 §3: the token types taken and issued here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenType {
    AccessToken,
    Jwt,
}

impl TokenType {
    fn parse(value: &str, param: &str) -> Result<TokenType, OAuthError> {
        match value {
            token_type::ACCESS_TOKEN => Ok(TokenType::AccessToken),
            token_type::JWT => Ok(TokenType::Jwt),
            other => Err(OAuthError::invalid_request(format!(
                "unsupported {param}: only access_token and jwt token types are accepted"
            ))
            .with_detail(format!("{param} {other:?}"))),
        }
    }

    fn urn(self) -> &'static str {
        match self {
            TokenType::AccessToken => token_type::ACCESS_TOKEN,
            TokenType::Jwt => token_type::JWT,
        }
    }
}

/// An exchange request, whichever form it came in.
struct Exchange<'a> {
    subject_token: &'a str,
    subject_type: TokenType,
    actor: Option<(&'a str, TokenType)>,
    /// RFC 8707 `resource` and RFC 8693 `audience`, together.
    targets: Vec<String>,
    scope: Option<Scope>,
    issued_type: TokenType,
}

impl<'a> Exchange<'a> {
    /// RFC 8693 §2.1.
    fn parse(params: &'a Params) -> Result<Self, OAuthError> {
        let subject_token = params.require("subject_token")?;
        let subject_type =
            TokenType::parse(params.require("subject_token_type")?, "subject_token_type")?;
        // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and MUST NOT come without.
        let actor = match (params.get("actor_token"), params.get("actor_token_type")) {
            (None, None) => None,
            (Some(token), Some(kind)) => Some((token, TokenType::parse(kind, "actor_token_type")?)),
            _ => {
                return Err(OAuthError::invalid_request(
                    "actor_token and actor_token_type must be sent together",
                ));
            }
        };
        let issued_type = match params.get("requested_token_type") {
            None => TokenType::AccessToken,
            Some(t) => TokenType::parse(t, "requested_token_type")?,
        };
        let mut targets = params.get_all("resource").to_vec();
        targets.extend(params.get_all("audience").iter().cloned());
        Ok(Exchange {
            subject_token,
            subject_type,
            actor,
            targets,
            scope: params.scope()?,
            issued_type,
        })
    }

    /// Microsoft Entra's on-behalf-of request: the user's access token is the `assertion`, and
    /// the target may be named in the scope the Entra way (`<API identifier>/<scope>`, or
    /// `<API identifier>/.default` for whatever is allowed).
    fn parse_entra(params: &'a Params, audiences: &[String]) -> Result<Self, OAuthError> {
        let subject_token = params.require("assertion")?;
        let mut targets = params.get_all("resource").to_vec();
        targets.extend(params.get_all("audience").iter().cloned());
        let scope = match params.scope()? {
            None => None,
            Some(requested) => {
                let mut names: Vec<&str> = Vec::new();
                for token in requested.iter() {
                    match split_entra_scope(token, audiences) {
                        Some((_, "")) => {
                            return Err(OAuthError::invalid_scope("malformed scope")
                                .with_detail(format!("scope {token:?}")));
                        }
                        Some((api, name)) => {
                            if !targets.iter().any(|t| t == api) {
                                targets.push(api.to_string());
                            }
                            if name != ".default" {
                                names.push(name);
                            }
                        }
                        None => names.push(token),
                    }
                }
                // Only `.default`: the scope is what the rules allow, as if none were asked.
                (!names.is_empty()).then(|| Scope::from_tokens(names))
            }
        };
        Ok(Exchange {
            subject_token,
            subject_type: TokenType::AccessToken,
            actor: None,
            targets,
            scope,
            issued_type: TokenType::AccessToken,
        })
    }
}

/// `https://api.example.com/read` → (`https://api.example.com`, `read`) when the identifier is
/// one of `audiences`; the longest identifier that prefixes the token wins.
fn split_entra_scope<'t>(token: &'t str, audiences: &'t [String]) -> Option<(&'t str, &'t str)> {
    audiences
        .iter()
        .filter_map(|api| {
            let name = token
                .strip_prefix(api.trim_end_matches('/'))?
                .strip_prefix('/')?;
            Some((api.as_str(), name))
        })
        .max_by_key(|(api, _)| api.len())
}

#[async_trait]
impl GrantHandler for TokenExchange {
    fn grant_type(&self) -> &'static str {
        TOKEN_EXCHANGE
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        exchange(cx, Exchange::parse(params)?).await
    }
}

/// Microsoft Entra's on-behalf-of form, answered with the same rules and result as RFC 8693.
/// The jwt-bearer grant calls this when `requested_token_use=on_behalf_of`.
pub async fn entra_on_behalf_of(
    cx: &TokenContext<'_>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if !cx.protocol.config.grants.token_exchange {
        return Err(OAuthError::invalid_request(
            "on-behalf-of token exchange is disabled",
        ));
    }
    // The same permission as the RFC 8693 form: the token endpoint checked jwt-bearer only.
    if !cx.client.has_grant_type(TOKEN_EXCHANGE) {
        return Err(OAuthError::unauthorized_client(
            "the client is not registered for token exchange",
        )
        .with_detail(format!("client {} on-behalf-of", cx.client.id)));
    }
    let request = Exchange::parse_entra(params, &cx.client.meta.token_exchange_audiences)?;
    exchange(cx, request).await
}

async fn exchange(
    cx: &TokenContext<'_>,
    request: Exchange<'_>,
) -> Result<TokenResponse, OAuthError> {
    let caller = cx.client;
    let subject = read_token(cx, request.subject_token, request.subject_type, "subject").await?;
    // Policy: only the API a token was minted for (its resource's client_id) may exchange it.
    let audiences = cx
        .protocol
        .resources
        .by_identifiers(&cx.protocol.store, &subject.aud, cx.now)
        .await?;
    if !audiences
        .iter()
        .any(|r| r.client_id.as_deref() == Some(caller.id.as_str()))
    {
        return Err(OAuthError::invalid_grant(
            "the subject token was not issued for an API this client acts as",
        )
        .with_detail(format!(
            "client {} subject aud {:?}",
            caller.id, subject.aud
        )));
    }
    let actor = match request.actor {
        None => None,
        Some((token, kind)) => {
            let actor = read_token(cx, token, kind, "actor").await?;
            // The caller proves who acts with a token issued to itself, never another's.
            if actor.client_id != caller.id {
                return Err(OAuthError::invalid_grant(
                    "the actor token was not issued to this client",
                )
                .with_detail(format!(
                    "client {} actor token of {}",
                    caller.id, actor.client_id
                )));
            }
            Some(actor)
        }
    };
    let targets = resolve_targets_among(
        cx.protocol,
        &caller.id,
        &caller.meta.token_exchange_audiences,
        &request.targets,
    )
    .await?;
    if request.issued_type == TokenType::Jwt
        && targets
            .iter()
            .any(|t| t.access_token_format == TokenFormat::Opaque)
    {
        return Err(OAuthError::invalid_request(
            "the target API takes opaque access tokens; request an access_token",
        ));
    }
    let scope = exchanged_scope(cx, &subject, &targets, request.scope)?;

    if actors(subject.extra.get("act")) >= MAX_ACTORS {
        return Err(
            OAuthError::invalid_grant("the subject token's delegation chain is too long")
                .with_detail(format!("client {}", caller.id)),
        );
    }
    // RFC 8693 §4.1: the current actor outermost, earlier actors nested inside.
    let mut act = Map::new();
    let actor_sub = actor
        .as_ref()
        .map_or(caller.id.as_str(), |a| a.sub.as_str());
    act.insert("sub".into(), actor_sub.into());
    if let Some(prior) = subject.extra.get("act") {
        act.insert("act".into(), prior.clone());
    }
    let mut extra = Map::new();
    extra.insert("act".into(), Value::Object(act));
    if let Some(auth_time) = subject.extra.get("auth_time") {
        extra.insert("auth_time".into(), auth_time.clone());
    }
    // Policy: never longer-lived than the token(s) it was exchanged for.
    let not_after = actor
        .as_ref()
        .map_or(subject.exp, |a| a.exp.min(subject.exp));
    let token = issue_access_token(
        cx.protocol,
        AccessTokenSpec {
            client_id: &caller.id,
            subject: &subject.sub,
            scope: &scope,
            targets: &targets,
            // Revoking the user's grant revokes what was derived from it.
            grant_id: subject.grant_id.as_deref(),
            extra,
            not_after: Some(not_after),
        },
        cx.now,
    )
    .await?;
    tracing::info!(
        client_id = %caller.id,
        subject_jti = subject.jti.as_deref().unwrap_or(""),
        "token exchanged"
    );
    let mut response = TokenResponse::bearer(token, &scope);
    // RFC 8693 §2.2.1: REQUIRED.
    response.issued_token_type = Some(request.issued_type.urn());
    // RFC 8693 §2.1: a refresh token is not issued; the caller exchanges again when needed.
    Ok(response)
}

/// How many actors an `act` claim records (RFC 8693 §4.1 nesting).
fn actors(act: Option<&Value>) -> usize {
    let mut depth = 0;
    let mut current = act;
    while let Some(Value::Object(actor)) = current {
        depth += 1;
        current = actor.get("act");
    }
    depth
}

/// An active access token of ours, of the kind its type parameter claims; anything else is
/// `invalid_grant` (RFC 8693 §2.2.2).
async fn read_token(
    cx: &TokenContext<'_>,
    token: &str,
    kind: TokenType,
    role: &str,
) -> Result<TokenInfo, OAuthError> {
    let invalid = || OAuthError::invalid_grant(format!("the {role} token is invalid"));
    // RFC 8693 §2.1: a subject JWT may come from a trusted issuer instead of from us. Actor
    // tokens are always ours: the caller proves itself with a token we issued to it.
    if role == "subject"
        && kind == TokenType::Jwt
        && let Some(issuer) = external_subject::trusted_issuer_of(cx.protocol, token).await?
    {
        return external_subject::read(cx.protocol, cx.client, &issuer, token, cx.now).await;
    }
    let Some(info) = inspect(cx.protocol, token, Hint::AccessToken, cx.now).await? else {
        return Err(invalid().with_detail(format!(
            "{role} token unknown, expired or revoked (client {})",
            cx.client.id
        )));
    };
    let accepted = match kind {
        TokenType::AccessToken => info.kind != TokenKind::Refresh,
        TokenType::Jwt => info.kind == TokenKind::JwtAccess,
    };
    if !accepted {
        return Err(invalid().with_detail(format!(
            "{role} token is a {:?}, presented as {}",
            info.kind,
            kind.urn()
        )));
    }
    Ok(info)
}

/// Policy: the scope is within the subject token's, within what the caller may ask,
/// and defined by the target APIs; with none asked, all of that.
fn exchanged_scope(
    cx: &TokenContext<'_>,
    subject: &TokenInfo,
    targets: &[Resource],
    requested: Option<Scope>,
) -> Result<Scope, OAuthError> {
    let client_scopes: Vec<&str> = cx.client.allowed_scopes().collect();
    let allowed = Scope::from_tokens(
        subject
            .scope
            .split_ascii_whitespace()
            .filter(|s| client_scopes.contains(s) && targets.iter().any(|t| t.defines_scope(s))),
    );
    let scope = requested.unwrap_or_else(|| allowed.clone());
    let beyond = scope.not_in(&allowed);
    if !beyond.is_empty() {
        return Err(OAuthError::invalid_scope(
            "the scope exceeds the subject token's, the client's or the target API's",
        )
        .with_detail(format!("client {} asked for {beyond:?}", cx.client.id)));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_scopes_name_their_api() {
        let apis = vec![
            "https://b.example.com".to_string(),
            "https://b.example.com/v2/".to_string(),
        ];
        assert_eq!(
            split_entra_scope("https://b.example.com/read", &apis),
            Some(("https://b.example.com", "read"))
        );
        assert_eq!(
            split_entra_scope("https://b.example.com/v2/.default", &apis),
            Some(("https://b.example.com/v2/", ".default"))
        );
        assert_eq!(split_entra_scope("read", &apis), None);
        assert_eq!(
            split_entra_scope("https://b.example.comx/read", &apis),
            None
        );
    }

    #[test]
    fn actors_counts_the_nesting() {
        assert_eq!(actors(None), 0);
        let chain = serde_json::json!({ "sub": "b", "act": { "sub": "a" } });
        assert_eq!(actors(Some(&chain)), 2);
        assert_eq!(actors(Some(&Value::from("not an object"))), 0);
    }

    #[test]
    fn actor_token_needs_its_type() {
        let p = Params::parse(
            b"subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&actor_token=a",
        )
        .unwrap();
        assert_eq!(Exchange::parse(&p).err().unwrap().code, "invalid_request");
    }
}
