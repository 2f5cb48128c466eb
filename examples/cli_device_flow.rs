//! A command-line tool, TV or other device without a handy browser signs a user in: the device
//! authorization grant (RFC 8628). The tool asks for a user code, shows it with a short URL,
//! and polls the token endpoint while the user enters the code on another device (a phone, a
//! laptop) and approves.
//!
//! Open the printed URL, enter the code, sign in and allow; the tool then gets its tokens.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example cli_device_flow
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use anyhow::Context;
use common::{DEMO_PASSWORD, Portcullis, show, step};
use openidconnect::core::{
    CoreClient, CoreDeviceAuthorizationResponse, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    ClientId, DeviceAuthorizationUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let http = common::http_client(&server.http);

    step("Registering the CLI (profile \"device\": public, device_code + refresh) and a user");
    let (client_id, _) = server
        .register_client(json!({
            "client_name": "Example CLI",
            "profile": "device",
            "scope": "openid profile offline_access",
        }))
        .await?;
    let username = server.register_user().await?;

    step("Discovering the device authorization endpoint");
    let discovery: Value = server
        .http
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let endpoint = discovery["device_authorization_endpoint"]
        .as_str()
        .context("the server does not offer the device flow (device.enabled?)")?;
    let cli = CoreClient::from_provider_metadata(
        server.discover().await?,
        ClientId::new(client_id),
        None,
    )
    .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint.into())?);

    step("Asking for a user code (RFC 8628 §3.1)");
    let details: CoreDeviceAuthorizationResponse = cli
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("device authorization failed: {e:?}"))?;
    println!(
        "    On another device, open {}",
        details.verification_uri().as_str()
    );
    println!("    and enter the code: {}", details.user_code().secret());
    if let Some(complete) = details.verification_uri_complete() {
        println!("    (or open {} directly)", complete.secret());
    }
    println!("    Sign in as username \"{username}\", password \"{DEMO_PASSWORD}\".");

    step("Polling the token endpoint until the user approves (RFC 8628 §3.4)");
    let tokens: CoreTokenResponse = cli
        .exchange_device_access_token(&details)?
        .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(300)))
        .await
        .map_err(|e| anyhow::anyhow!("no tokens: {e:?}"))?;
    println!(
        "    approved: an access token{}{}",
        if tokens.id_token().is_some() {
            ", an ID token"
        } else {
            ""
        },
        if tokens.refresh_token().is_some() {
            " and a refresh token"
        } else {
            ""
        }
    );

    step("Verifying the ID token and calling userinfo");
    // The device flow carries no nonce: there was no authorization request to put it in.
    let no_nonce = |_: Option<&Nonce>| -> Result<(), String> { Ok(()) };
    let claims = tokens
        .id_token()
        .context("no ID token")?
        .claims(&cli.id_token_verifier(), no_nonce)
        .map_err(|e| anyhow::anyhow!("the ID token does not verify: {e}"))?;
    let info: CoreUserInfoClaims = cli
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )?
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("userinfo failed: {e:?}"))?;
    let info = serde_json::to_value(info)?;

    show("ID token claims", &serde_json::to_value(claims)?);
    show("Userinfo", &info);
    println!(
        "\nThe CLI is signed in as {}.",
        info["preferred_username"].as_str().unwrap_or("?")
    );
    Ok(())
}
