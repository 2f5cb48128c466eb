//! Keeping a user signed in without asking again: refresh tokens (RFC 6749 §6). The app asks
//! for `offline_access`, gets a refresh token with its first tokens, and trades it for new
//! ones when the access token runs out. Portcullis rotates the refresh token on every use, and
//! a refresh token used twice (stolen and replayed) revokes the whole family (RFC 9700
//! §4.14.2): this example shows both.
//!
//! Open the printed URL in a browser, sign in and allow; everything after that is automatic.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example refresh
//! ```

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context, bail};
use common::{Portcullis, RelyingParty, show, sign_in_with_browser, step};
use openidconnect::core::{CoreErrorResponseType, CoreTokenResponse, CoreUserInfoClaims};
use openidconnect::{OAuth2TokenResponse, RefreshToken, RequestTokenError};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;

    step("Registering a native app that may stay signed in (offline_access), and a user");
    let (client_id, _) = server
        .register_client(json!({
            "client_name": "Example app that stays signed in",
            "profile": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "scope": "openid profile offline_access",
        }))
        .await?;
    let username = server.register_user().await?;

    step("The user signs in once, in the browser");
    let scopes = ["openid", "profile", "offline_access"];
    let (app, first) = sign_in_with_browser(&server, &client_id, &username, &scopes, &[]).await?;
    let first_refresh = first
        .refresh_token()
        .context("no refresh token: was offline_access granted?")?;
    println!("    got an access token and a refresh token");

    step("Later: trading the refresh token for new tokens, without the user");
    let second = refresh(&server, &app, first_refresh).await?;
    let second_refresh = second.refresh_token().context("no new refresh token")?;
    anyhow::ensure!(
        second_refresh.secret() != first_refresh.secret(),
        "the refresh token should have been rotated"
    );
    println!("    new access token; the refresh token was rotated (the old one is spent)");

    step("Calling userinfo with the new access token");
    let info: CoreUserInfoClaims = app
        .user_info(second.access_token().clone(), None)?
        .request_async(&common::http_client(&server.http))
        .await
        .map_err(|e| anyhow::anyhow!("userinfo failed: {e:?}"))?;
    show("Userinfo", &serde_json::to_value(info)?);
    show(
        "Claims of the refreshed access token",
        &common::jwt_claims(second.access_token().secret())?,
    );

    step("An attacker replays the spent refresh token");
    match refresh(&server, &app, first_refresh).await {
        Err(e) if is_invalid_grant(&e) => println!("    refused: invalid_grant"),
        Err(e) => return Err(e),
        Ok(_) => bail!("a spent refresh token was accepted"),
    }

    step("The replay revoked the whole family: the app's current refresh token is dead too");
    match refresh(&server, &app, second_refresh).await {
        Err(e) if is_invalid_grant(&e) => println!("    refused: invalid_grant"),
        Err(e) => return Err(e),
        Ok(_) => bail!("the family survived a replay"),
    }
    println!("\nRefresh, rotation and replay detection all behaved.");
    Ok(())
}

/// RFC 6749 §6, by the `openidconnect` crate (client_id in the body: a public client).
async fn refresh(
    server: &Portcullis,
    app: &RelyingParty,
    token: &RefreshToken,
) -> anyhow::Result<CoreTokenResponse> {
    app.exchange_refresh_token(token)?
        .request_async(&common::http_client(&server.http))
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r)
                if *r.error() == CoreErrorResponseType::InvalidGrant =>
            {
                anyhow::anyhow!("invalid_grant")
            }
            other => anyhow::anyhow!("refresh failed: {other:?}"),
        })
}

fn is_invalid_grant(e: &anyhow::Error) -> bool {
    e.to_string() == "invalid_grant"
}
