//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2, OIDC Core §9), shared by every
//! endpoint that authenticates clients. Only the method a client registered is accepted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::Algorithm;

use crate::error::OAuthError;
use crate::names::CLIENT_ASSERTION_TYPE_JWT;
use crate::oauth::client::{AuthMethod, Client};
use crate::oauth::client_cache::CachedClient;
use crate::oauth::context::ProtocolContext;
use crate::oauth::jwt_assertion::{self, Expected, KeySource};
use crate::oauth::params::Params;
use crate::secret::{constant_time_eq, sha256_hex};

/// Clock skew tolerated on assertion times, in seconds.
const LEEWAY: i64 = 30;

/// The credentials a request presents, before any is checked. Its `Debug` names the method and
/// the client id only: a secret or an assertion must never reach a log line.
pub enum Presented {
    Basic {
        id: String,
        secret: String,
    },
    Post {
        id: String,
        secret: String,
    },
    Assertion {
        assertion: String,
        id: Option<String>,
    },
    Public {
        id: String,
    },
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = match self {
            Presented::Basic { id, .. } => ("Basic", Some(id.as_str())),
            Presented::Post { id, .. } => ("Post", Some(id.as_str())),
            Presented::Assertion { id, .. } => ("Assertion", id.as_deref()),
            Presented::Public { id } => ("Public", Some(id.as_str())),
        };
        f.debug_struct(kind)
            .field("id", &id)
            .finish_non_exhaustive()
    }
}

impl Presented {
    fn method(&self) -> AuthMethod {
        match self {
            Presented::Basic { .. } => AuthMethod::ClientSecretBasic,
            Presented::Post { .. } => AuthMethod::ClientSecretPost,
            Presented::Assertion { .. } => AuthMethod::PrivateKeyJwt,
            Presented::Public { .. } => AuthMethod::None,
        }
    }

    /// Errors for a failed authentication carry the challenge of the scheme that was tried.
    fn fail(&self, description: &'static str) -> OAuthError {
        let e = OAuthError::invalid_client(description);
        match self {
            Presented::Basic { .. } => e.with_www_authenticate("Basic realm=\"portcullis\""),
            _ => e,
        }
    }
}

/// Reads what the request presents. RFC 6749 §2.3: one method per request.
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, OAuthError> {
    let basic = authorization
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, value)| value.trim());
    let post = params.get("client_secret");
    let assertion =
        params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some();
    let methods =
        usize::from(basic.is_some()) + usize::from(post.is_some()) + usize::from(assertion);
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let client_id = params.get("client_id");
    if let Some(value) = basic {
        let bad = || {
            OAuthError::invalid_client("malformed Basic credentials")
                .with_www_authenticate("Basic realm=\"portcullis\"")
        };
        let decoded = STANDARD.decode(value).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
        let (id, secret) = (
            form_decode(id).ok_or_else(bad)?,
            form_decode(secret).ok_or_else(bad)?,
        );
        if client_id.is_some_and(|c| c != id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the credentials",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(secret) = post {
        let id = client_id.ok_or_else(|| OAuthError::invalid_request("missing client_id"))?;
        return Ok(Presented::Post {
            id: id.to_string(),
            secret: secret.to_string(),
        });
    }
    if assertion {
        // RFC 7523 §2.2: the type must be exactly the JWT bearer assertion type.
        if params.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE_JWT) {
            return Err(OAuthError::invalid_request(
                "unsupported client_assertion_type",
            ));
        }
        let assertion = params.require("client_assertion")?;
        return Ok(Presented::Assertion {
            assertion: assertion.to_string(),
            id: client_id.map(str::to_string),
        });
    }
    match client_id {
        Some(id) => Ok(Presented::Public { id: id.to_string() }),
        None => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    // RFC 6749 Appendix A: client ids and secrets are VSCHAR, never NUL.
    String::from_utf8(out).ok().filter(|s| !s.contains('\0'))
}

/// What an unknown client's secret is compared with: a SHA-256 hex digest no secret has
/// (not hex at all past its first character), so the compare runs over the full length.
const UNKNOWN_CLIENT_HASH: &str =
    "z000000000000000000000000000000000000000000000000000000000000000";

/// Checks the presented credentials against the client's registration. `endpoint_url` is the
/// URL being called, an acceptable assertion audience besides the issuer and token endpoint.
pub async fn authenticate(
    state: &ProtocolContext,
    presented: &Presented,
    endpoint_url: &str,
    now: i64,
) -> Result<Client, OAuthError> {
    let id = match presented {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::Public { id } => {
            id.clone()
        }
        Presented::Assertion { assertion, id } => match id {
            Some(id) => id.clone(),
            None => unverified_subject(assertion)
                .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?,
        },
    };
    let presented_hash = match presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => {
            Some(sha256_hex(secret))
        }
        _ => None,
    };
    let unknown = || {
        // The same work as a wrong secret (one SHA-256, done above, and a constant-time
        // compare), so the time taken does not tell whether the client exists.
        if let Some(hash) = &presented_hash {
            std::hint::black_box(constant_time_eq(UNKNOWN_CLIENT_HASH, hash));
            // Counted per server (`ProtocolContext::unknown_client_checks`), for tests.
            state.count_unknown_client_check();
        }
        presented
            .fail("client authentication failed")
            .with_detail(format!("unknown client {id:?}"))
    };
    // Read through the node's short-lived copy (`oauth/client_cache.rs`).
    let mut found = state
        .clients
        .get(&state.store, &id, now)
        .await?
        .ok_or_else(unknown)?;
    // A copy read before another node changed the registration or rotated the secret may
    // refuse what the store now accepts (a new secret): read the store once more before
    // refusing. What the copy accepts stays accepted until it expires (the bound).
    if !matches(&found, presented, presented_hash.as_deref(), now) {
        found = state
            .clients
            .reload(&state.store, &id, now)
            .await?
            .ok_or_else(unknown)?;
    }
    let client = &found.client;
    if client.auth_method() != presented.method() {
        return Err(presented
            .fail("client authentication failed")
            .with_detail(format!(
                "client {id} registered {} but used {}",
                client.auth_method().as_str(),
                presented.method().as_str()
            )));
    }
    match presented {
        Presented::Basic { .. } | Presented::Post { .. } => {
            if !matches(&found, presented, presented_hash.as_deref(), now) {
                return Err(presented
                    .fail("client authentication failed")
                    .with_detail(format!("client {id}: wrong secret")));
            }
        }
        Presented::Assertion { assertion, .. } => {
            verify_assertion(state, client, assertion, endpoint_url, now).await?;
        }
        Presented::Public { .. } => {}
    }
    Ok(client.clone())
}

/// The side-effect-free part of the check: the registered method, and for a secret, that it
/// is one of the client's live secrets (compared against every one, without stopping early).
fn matches(
    found: &CachedClient,
    presented: &Presented,
    presented_hash: Option<&str>,
    now: i64,
) -> bool {
    if found.client.auth_method() != presented.method() {
        return false;
    }
    match presented_hash {
        Some(hash) => found
            .live_secret_hashes(now)
            .fold(false, |acc, h| constant_time_eq(h, hash) | acc),
        None => true,
    }
}

fn unverified_subject(assertion: &str) -> Option<String> {
    jwt_assertion::unverified_claim(assertion, "sub")
}

/// RFC 7523 §3 and OIDC Core §9 rules for a `private_key_jwt` assertion.
async fn verify_assertion(
    state: &ProtocolContext,
    client: &Client,
    assertion: &str,
    endpoint_url: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let fail = |detail: String| {
        OAuthError::invalid_client("client assertion is not valid")
            .with_detail(format!("client {}: {detail}", client.id))
    };
    // A client that registered its signing algorithm may use only that one.
    let registered: Vec<Algorithm>;
    let algorithms: &[Algorithm] = match &client.meta.token_endpoint_auth_signing_alg {
        Some(name) => {
            registered = jwt_assertion::asymmetric_alg(name).into_iter().collect();
            &registered
        }
        None => &jwt_assertion::ASYMMETRIC_ALGS,
    };
    let keys = match (&client.meta.jwks, &client.meta.jwks_uri) {
        (Some(jwks), _) => KeySource::Inline(jwks),
        (None, Some(uri)) => KeySource::Remote(uri),
        (None, None) => return Err(fail("no jwks registered".into())),
    };
    // RFC 7523 §3 item 3: the audience identifies this server.
    let token_endpoint = format!("{}{}", state.issuer, crate::names::path::TOKEN);
    let expected = Expected {
        algorithms,
        issuer: &client.id,
        subject: Some(&client.id),
        audiences: &[state.issuer.as_str(), token_endpoint.as_str(), endpoint_url],
        leeway: LEEWAY,
        max_lifetime: state.config.tokens.client_assertion_max_lifetime as i64,
    };
    let claims = jwt_assertion::verify(&state.remote_jwks, assertion, keys, &expected, now)
        .await
        .map_err(|r| fail(r.detail()))?;
    // RFC 7523 §3 item 7: a jti is used once; kept until the assertion would expire anyway.
    let jti = claims.jti.unwrap_or_default();
    let fresh = state
        .store
        .record_jti(&format!("client:{}", client.id), &jti, claims.exp + LEEWAY)
        .await?;
    if !fresh {
        crate::audit::record(
            &state.store,
            now,
            crate::audit::action::ASSERTION_REPLAY,
            &crate::audit::client_actor(&client.id),
            &client.id,
            serde_json::json!({ "kind": "client_assertion" }),
        )
        .await;
        return Err(fail("assertion jti replayed".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let p = Params::default();
        let got = presented(Some(&basic("my%20client", "a%2Bb+c")), &p).unwrap();
        match got {
            Presented::Basic { id, secret } => {
                assert_eq!(id, "my client");
                assert_eq!(secret, "a+b c");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_a_secret_or_an_assertion() {
        let p = Params::parse(b"client_id=c&client_secret=hunter2-secret").unwrap();
        let got = presented(None, &p).unwrap();
        let shown = format!("{got:?}");
        assert!(
            shown.contains("\"c\"") && !shown.contains("hunter2"),
            "{shown}"
        );
        let got = presented(Some(&basic("c", "hunter2-basic")), &Params::default()).unwrap();
        assert!(!format!("{got:?}").contains("hunter2"));
    }

    #[test]
    fn two_methods_are_refused() {
        let p = Params::parse(b"client_id=c&client_secret=s").unwrap();
        let e = presented(Some(&basic("c", "s")), &p).unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }

    #[test]
    fn nothing_presented_is_invalid_client() {
        let e = presented(None, &Params::default()).unwrap_err();
        assert_eq!(e.code, "invalid_client");
        assert_eq!(e.status, 401);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn form_encoded(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any header and body: credentials, or a 400/401 error; never a panic, never a
        /// client id with NUL (it would reach the store).
        #[test]
        fn any_header_and_body_is_read_or_refused(
            header in proptest::option::of(any::<String>()),
            basic in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
            body in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let header = match basic {
                Some(raw) => Some(format!("Basic {}", STANDARD.encode(raw))),
                None => header,
            };
            let Ok(params) = Params::parse(&body) else { return Ok(()); };
            match presented(header.as_deref(), &params) {
                Ok(Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::Public { id }) => {
                    prop_assert!(!id.contains('\0'));
                }
                Ok(Presented::Assertion { .. }) => {}
                Err(e) => prop_assert!(e.status == 400 || e.status == 401, "{}", e.status),
            }
        }

        /// RFC 6749 §2.3.1: an id and secret form-encoded into Basic come back as they were,
        /// unicode, colons, `+` and `%` included.
        #[test]
        fn basic_credentials_round_trip(id in "[^\\x00]{1,24}", secret in "[^\\x00]{1,32}") {
            let header = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", form_encoded(&id), form_encoded(&secret)))
            );
            match presented(Some(&header), &Params::default()) {
                Ok(Presented::Basic { id: got_id, secret: got_secret }) => {
                    prop_assert_eq!(got_id, id);
                    prop_assert_eq!(got_secret, secret);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
