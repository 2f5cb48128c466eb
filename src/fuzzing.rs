//! Entry points for the fuzz targets (`fuzz/`) and the property tests: the parsers that read
//! untrusted input, each callable with plain bytes and strings, no server, store or network.
//! Not an API: hidden from the docs and free to change with the fuzz targets.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use serde_json::Value;

use crate::oauth::client::{Client, ClientMetadata};
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::jwt_assertion::{self, ASYMMETRIC_ALGS, Expected, KeySource};
use crate::oauth::params::Params;
use crate::oauth::redirect_uri::verify_redirect_uri;
use crate::oauth::remote_jwks::RemoteJwks;
use crate::oauth::saml;

/// The issuer, audience and recipient the JWT and SAML entry points expect.
pub const ISSUER: &str = "https://as.example.test";
pub const TOKEN_ENDPOINT: &str = "https://as.example.test/token";

/// A form body (RFC 6749 §3.2) through `Params::parse`, reading every accessor.
pub fn form(body: &[u8]) -> Option<Params> {
    let params = Params::parse(body).ok()?;
    let _ = params.scope();
    let _ = params.get_all("resource");
    Some(params)
}

/// The client credentials a request with this `Authorization` header and body presents
/// (`client_auth::presented`): the client id, if the request is well-formed.
pub fn client_auth(authorization: Option<&str>, body: &[u8]) -> Option<String> {
    let params = Params::parse(body).ok()?;
    match client_auth::presented(authorization, &params).ok()? {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::Public { id } => {
            Some(id)
        }
        Presented::Assertion { id, .. } => id,
    }
}

/// An RFC 7523 assertion checked against an inline JWK Set, for issuer and subject `client`,
/// audience `ISSUER`, at `now`. `Ok` carries the `jti`.
pub fn jwt_assertion(
    assertion: &str,
    jwks: &Value,
    client: &str,
    now: i64,
) -> Result<String, String> {
    static REMOTE: OnceLock<RemoteJwks> = OnceLock::new();
    let remote = REMOTE.get_or_init(RemoteJwks::new);
    let expected = Expected {
        algorithms: &ASYMMETRIC_ALGS,
        issuer: client,
        subject: Some(client),
        audiences: &[ISSUER, TOKEN_ENDPOINT],
        leeway: 30,
        max_lifetime: 300,
    };
    let verify = jwt_assertion::verify(remote, assertion, KeySource::Inline(jwks), &expected, now);
    // Inline keys never wait on anything: the future completes on its first poll.
    match poll_once(verify) {
        Some(Ok(claims)) => Ok(claims.jti.unwrap_or_default()),
        Some(Err(refusal)) => Err(refusal.to_string()),
        None => Err("verification did not complete".into()),
    }
}

/// An RFC 7522 assertion parameter (base64url XML) through decode, parse, issuer and verify
/// against `certificates` (PEM), at `now`. `Ok` carries the `NameID`.
pub fn saml_assertion(
    assertion: &str,
    certificates: &[String],
    max_bytes: usize,
    now: i64,
) -> Result<String, String> {
    let xml = saml::decode(assertion, max_bytes).map_err(|r| r.to_string())?;
    saml_xml(&xml, certificates, now)
}

/// The XML of an assertion through parse, issuer and verify (no base64 step).
pub fn saml_xml(xml: &str, certificates: &[String], now: i64) -> Result<String, String> {
    let parsed = saml::ParsedAssertion::parse(xml).map_err(|r| r.to_string())?;
    parsed.issuer().map_err(|r| r.to_string())?;
    let expected = saml::Expected {
        audiences: &[ISSUER, TOKEN_ENDPOINT],
        recipient: TOKEN_ENDPOINT,
        leeway: 60,
        max_lifetime: 600,
    };
    parsed
        .verify(certificates, &expected, now)
        .map(|v| v.subject)
        .map_err(|r| r.to_string())
}

/// `verify_redirect_uri` for a client with these registered redirect URIs (a native app's
/// when `native`, whose loopback port may vary): the URI a response would go to.
pub fn redirect_uri(
    registered: &[String],
    native: bool,
    requested: Option<&str>,
) -> Option<String> {
    let meta: ClientMetadata = serde_json::from_value(serde_json::json!({
        "client_name": "fuzz",
        "profile": if native { "native" } else { "web" },
        "redirect_uris": registered,
        "post_logout_redirect_uris": [],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": if native { "none" } else { "client_secret_basic" },
        "scope": "",
        "contacts": [],
        "allowed_resources": [],
        "require_pkce": true,
        "first_party": false,
    }))
    .ok()?;
    let client = Client {
        id: "fuzz".into(),
        meta,
        created_at: 0,
        updated_at: 0,
    };
    verify_redirect_uri(&client, requested).ok()
}

/// Polls a future once with a waker that does nothing: enough for one that never waits.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}
