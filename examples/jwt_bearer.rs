//! Trading a JWT from another issuer you trust for a Portcullis access token: the JWT bearer
//! authorization grant (RFC 7523 §2.1). Typical use: a partner's identity provider, or your
//! own job runner, signs a short-lived JWT about a user; a service presents it and gets a
//! token for your API without the user being there.
//!
//! This example plays the other issuer too: it makes an ES256 key, registers the issuer with
//! its public JWK at `/admin/issuers` (mapping its `sub` to a local user by username), signs an
//! assertion (RFC 7523 §3: `iss`, `sub`, `aud` = the token endpoint, `exp`, `jti`) and
//! presents it. No browser.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example jwt_bearer
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Portcullis, jwt_claims, show, step};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let api = format!("https://reports-{}.example.com", server.run);
    let idp = format!("https://idp-{}.example.com", server.run);

    step("The other issuer makes its ES256 signing key");
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| anyhow::anyhow!("key generation failed"))?;
    let point = pair.public_key().as_ref(); // 0x04 || X || Y
    let kid = "idp-key-1";
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let signing_key = EncodingKey::from_ec_der(
        pair.to_pkcs8v1()
            .map_err(|_| anyhow::anyhow!("key export failed"))?
            .as_ref(),
    );

    step("Registering the API, the service that presents assertions, and a user");
    server
        .admin(
            "/resources",
            json!({ "identifier": api, "scopes": ["reports:read"] }),
        )
        .await?;
    let (client_id, secret) = server
        .register_client(json!({
            "client_name": "Example report exporter",
            "profile": "service",
            "grant_types": [JWT_BEARER],
            "scope": "reports:read",
            "allowed_resources": [api],
        }))
        .await?;
    let secret = secret.context("a service gets a secret")?;
    let username = server.register_user().await?;

    step("Trusting the issuer: its JWK, the client it talks to, and how `sub` maps to a user");
    server
        .admin(
            "/issuers",
            json!({
                "kind": "jwt",
                "name": "Example partner IdP",
                "issuer": idp,
                "jwks": { "keys": [jwk] },
                "algorithms": ["ES256"],
                "allowed_clients": [client_id],
                "scopes": ["reports:read"],
                "subject": "username",
            }),
        )
        .await?;
    println!("    issuer: {idp}");

    step("The issuer signs an assertion about the user, for our token endpoint");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let assertion_claims = json!({
        "iss": idp,
        "sub": username,
        "aud": server.url("/token"),
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    let assertion = jsonwebtoken::encode(&header, &assertion_claims, &signing_key)?;
    show("Assertion claims", &assertion_claims);

    step("The service presents it at the token endpoint (RFC 7523 §2.1)");
    let answer = server
        .token(
            &client_id,
            Some(&secret),
            &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
        )
        .await?;
    let token = answer["access_token"].as_str().context("no access_token")?;
    let claims = jwt_claims(token)?;
    ensure!(
        claims["aud"] == json!(api),
        "the token should be for the API"
    );

    show("Access token claims", &claims);
    println!(
        "\nThe service holds a token for {} about user {} (sub).",
        claims["aud"].as_str().unwrap_or("?"),
        claims["sub"].as_str().unwrap_or("?")
    );
    Ok(())
}
