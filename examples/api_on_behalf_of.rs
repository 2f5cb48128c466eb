//! An API calling another API as the user: token exchange (RFC 8693), also called
//! on-behalf-of. The user signs in to an app and gets an access token for the Orders API.
//! The Orders API, to serve the request, must call the Inventory API *as that user*: it trades
//! the user's token for one minted for Inventory, which keeps the user as `sub` and records
//! the Orders API as the actor (`act`, RFC 8693 §4.1).
//!
//! Open the printed URL in a browser, sign in and allow; the exchange is automatic.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example api_on_behalf_of
//! ```

#[path = "common/mod.rs"]
mod common;

use anyhow::Context;
use common::{Portcullis, jwt_claims, show, sign_in_with_browser, step};
use openidconnect::OAuth2TokenResponse;
use serde_json::json;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let orders_api = format!("https://orders-{}.example.com", server.run);
    let inventory_api = format!("https://inventory-{}.example.com", server.run);

    step("Registering the Inventory API, and the Orders API with the client it acts as");
    server
        .admin(
            "/resources",
            json!({ "identifier": inventory_api, "scopes": ["inventory:read"] }),
        )
        .await?;
    // The Orders API's own client: it may exchange users' tokens towards Inventory only.
    let (orders_client, orders_secret) = server
        .register_client(json!({
            "client_name": "Orders API",
            "profile": "api",
            "grant_types": [TOKEN_EXCHANGE],
            "scope": "inventory:read",
            "token_exchange_audiences": [inventory_api],
        }))
        .await?;
    let orders_secret = orders_secret.context("an API client gets a secret")?;
    server
        .admin(
            "/resources",
            json!({ "identifier": orders_api, "scopes": ["orders:read"], "client_id": orders_client }),
        )
        .await?;

    step("Registering the user's app (a native app), and a user");
    let (app_id, _) = server
        .register_client(json!({
            "client_name": "Example shop app",
            "profile": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "scope": "openid orders:read inventory:read",
            "allowed_resources": [orders_api],
        }))
        .await?;
    let username = server.register_user().await?;

    step("The user signs in to the app, which gets a token for the Orders API (RFC 8707)");
    let scopes = ["openid", "orders:read", "inventory:read"];
    let resource = [("resource", orders_api.as_str())];
    let (_, tokens) = sign_in_with_browser(&server, &app_id, &username, &scopes, &resource).await?;
    let user_token = tokens.access_token().secret().clone();
    show(
        "The user's token, as the Orders API receives it",
        &jwt_claims(&user_token)?,
    );

    step("The Orders API exchanges it for a token to call Inventory as the user (RFC 8693 §2.1)");
    let exchanged = server
        .token(
            &orders_client,
            Some(&orders_secret),
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &user_token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", &inventory_api),
            ],
        )
        .await?;
    let token = exchanged["access_token"]
        .as_str()
        .context("no access_token")?;
    println!(
        "    issued_token_type: {}",
        exchanged["issued_token_type"].as_str().unwrap_or("?")
    );
    let claims = jwt_claims(token)?;
    show(
        "The exchanged token, as the Inventory API receives it",
        &claims,
    );
    anyhow::ensure!(
        claims["aud"] == json!(inventory_api),
        "aud should be Inventory"
    );
    anyhow::ensure!(
        claims["act"]["sub"] == json!(orders_client),
        "act should name the Orders API"
    );
    println!(
        "\nInventory sees user {} (sub), acted for by the Orders API (act.sub).",
        claims["sub"].as_str().unwrap_or("?")
    );
    Ok(())
}
