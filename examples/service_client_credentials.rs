//! A service calling an API on its own behalf, with no user: the client credentials grant
//! (RFC 6749 §4.4). The service authenticates with its secret and gets an access token for
//! the API (RFC 8707 `resource`); the token is an RFC 9068 JWT the API can verify against the
//! server's JWKS, or ask the server about (introspection, RFC 7662).
//!
//! No browser: it runs start to end on its own.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example service_client_credentials
//! ```

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context, ensure};
use common::{Portcullis, jwt_claims, show, step};
use openidconnect::core::CoreClient;
use openidconnect::{ClientId, ClientSecret, OAuth2TokenResponse, Scope};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let api = format!("https://billing-{}.example.com", server.run);

    step("Registering the API (a resource) and the service that may call it");
    server
        .admin(
            "/resources",
            json!({ "identifier": api, "scopes": ["invoices:read"] }),
        )
        .await?;
    let (client_id, secret) = server
        .register_client(json!({
            "client_name": "Example nightly report job",
            "profile": "service",
            "scope": "invoices:read",
            "allowed_resources": [api],
        }))
        .await?;
    let secret = secret.context("a service gets a secret")?;
    println!("    API: {api}");
    println!("    client_id: {client_id}");

    step("Asking for a token with the client credentials grant (client_secret_basic)");
    let service = CoreClient::from_provider_metadata(
        server.discover().await?,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    );
    let tokens = service
        .exchange_client_credentials()?
        .add_scope(Scope::new("invoices:read".into()))
        .add_extra_param("resource", &api)
        .request_async(&common::http_client(&server.http))
        .await
        .map_err(|e| anyhow::anyhow!("the token request failed: {e:?}"))?;
    let token = tokens.access_token().secret();
    println!(
        "    got a Bearer token, valid {} s",
        tokens.expires_in().map(|d| d.as_secs()).unwrap_or(0)
    );
    let claims = jwt_claims(token)?;
    ensure!(
        claims["aud"] == json!(api),
        "the token should be for the API"
    );

    step("Introspecting it, as the API could (RFC 7662)");
    let info: Value = server
        .http
        .post(server.url("/introspect"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        info["active"] == json!(true),
        "introspection says inactive: {info}"
    );
    println!("    active: true");

    show("Access token claims", &claims);
    println!(
        "\nThe service holds a token for {} with scope {}.",
        claims["aud"].as_str().unwrap_or("?"),
        claims["scope"].as_str().unwrap_or("?")
    );
    Ok(())
}
