//! The ceiling for client credentials on this machine: an axum server that does only what an
//! RFC 6749 §4.4 token request must cost, and nothing a real server adds (no store, no
//! middleware, no logging, no metrics). `bench/run.sh` runs it next to Portcullis with the same
//! load generator and reports Portcullis as a ratio of it.
//!
//! Per request it parses the form body (`grant_type=client_credentials` required), checks the
//! Basic header (RFC 6749 §2.3.1: base64, form-decoding, then the SHA-256 of the secret
//! compared in constant time with the one registered digest), signs an RFC 9068-shaped ES256
//! JWT with an aws-lc-rs key parsed once (the same signing call as `src/keys/signer.rs`) and
//! answers the §5.1 JSON with `Cache-Control: no-store`.
//!
//! Built by `cargo bench --bench ceiling --no-run` (release profile); run it as
//!   CEILING_BIND=127.0.0.1:PORT CEILING_CLIENT_ID=id CEILING_CLIENT_SECRET=secret <binary>
//! It prints `ready` on stdout once it listens, and serves until SIGTERM/SIGINT.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};

const ISSUER: &str = "http://ceiling.portcullis.test";
const AUDIENCE: &str = "https://bench.portcullis.test/api";
const SCOPE: &str = "bench.read";
const LIFETIME: i64 = 300;

struct Ceiling {
    client_id: String,
    secret_sha256: [u8; 32],
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// `base64url({"alg":"ES256","typ":"at+jwt","kid":…})`, made once: it never changes.
    header_b64: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

fn error(status: StatusCode, code: &'static str) -> Response {
    let mut r = (status, format!("{{\"error\":\"{code}\"}}")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn form_decode(value: &str) -> Option<String> {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// RFC 6749 §2.3.1 Basic credentials: `base64(urlencode(id) ":" urlencode(secret))`.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn token(State(c): State<Arc<Ceiling>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let mut grant_type = None;
    for (k, v) in form_urlencoded::parse(&body) {
        if k == "grant_type" {
            grant_type = Some(v);
        }
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some((id, secret)) = basic(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let digest = Sha256::digest(secret.as_bytes());
    if id != c.client_id || !constant_time_eq(&digest, &c.secret_sha256) {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let claims = Claims {
        iss: ISSUER,
        sub: &id,
        aud: AUDIENCE,
        exp: now + LIFETIME,
        iat: now,
        jti: &jti,
        client_id: &id,
        scope: SCOPE,
    };
    let Ok(payload) = serde_json::to_vec(&claims) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    let mut jws = c.header_b64.clone();
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
    let Ok(sig) = c.key.sign(&c.rng, jws.as_bytes()) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut jws);
    let Ok(body) = serde_json::to_vec(&TokenResponse {
        access_token: &jws,
        token_type: "Bearer",
        expires_in: LIFETIME,
        scope: SCOPE,
    }) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("ceiling: set {name}");
        std::process::exit(2)
    })
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let bind = env("CEILING_BIND");
    let client_id = env("CEILING_CLIENT_ID");
    let secret = env("CEILING_CLIENT_SECRET");
    let pkcs8 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .and_then(|k| k.to_pkcs8v1())
        .expect("generate an ES256 key");
    // Parsed from PKCS#8 like Portcullis' key ring does at load.
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .expect("parse the ES256 key");
    let header = serde_json::json!({ "alg": "ES256", "typ": "at+jwt", "kid": "ceiling-es256" });
    let state = Arc::new(Ceiling {
        client_id,
        secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        key,
        rng: SystemRandom::new(),
        header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
    });
    let app = Router::new().route("/token", post(token)).with_state(state);
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .unwrap_or_else(|e| panic!("bind {bind}: {e}"));
    println!("ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        })
        .await
        .expect("serve");
}
