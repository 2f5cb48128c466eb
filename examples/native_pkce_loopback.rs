//! A native (desktop or command-line) app, or a single-page app, signs a user in: the
//! authorization code flow as a *public* client, which has no secret, so PKCE (RFC 7636) is
//! what binds the code to this app. The redirect URI is on the loopback interface with a port
//! the app picks when it starts (RFC 8252 §7.3): the app registers `http://127.0.0.1/callback`
//! once, and Portcullis accepts any port on it for a `native` client.
//!
//! Open the printed URL in a browser, sign in and allow; the browser lands on the app's
//! listener, and the app exchanges the code with its `code_verifier` (no secret).
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example native_pkce_loopback
//! ```

#[path = "common/mod.rs"]
mod common;

use anyhow::Context;
use common::{Loopback, Portcullis, ask_to_sign_in, code_from, show, step};
use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope,
    TokenResponse,
};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let http = common::http_client(&server.http);

    step("Registering the app once (profile \"native\": public, PKCE) and a user");
    // Registered without a port: the app may listen on any port of 127.0.0.1 (RFC 8252 §7.3).
    let (client_id, secret) = server
        .register_client(json!({
            "client_name": "Example desktop app",
            "profile": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "scope": "openid profile email",
        }))
        .await?;
    anyhow::ensure!(secret.is_none(), "a public client has no secret");
    let username = server.register_user().await?;
    println!("    client_id: {client_id} (no secret)");

    step("Starting: listening on a free port of 127.0.0.1");
    let callback = Loopback::bind("/callback").await?;
    println!("    redirect URI for this run: {}", callback.redirect_uri);

    step("Building the authorization request with an S256 code challenge");
    let app = server
        .relying_party(&client_id, None, &callback.redirect_uri)
        .await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = app
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    step("The user signs in and consents in the system browser");
    ask_to_sign_in(url.as_str(), &username);
    let answer = callback.wait_for_redirect().await?;
    let code = code_from(&answer, state.secret(), &server.base)?;
    println!("    the browser came back to the loopback listener with a code");

    step("Exchanging the code with the code_verifier (client_id in the body, no secret)");
    let tokens = app
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("code exchange failed: {e:?}"))?;

    step("Verifying the ID token and calling userinfo");
    let claims = tokens
        .id_token()
        .context("no ID token")?
        .claims(&app.id_token_verifier(), &nonce)
        .map_err(|e| anyhow::anyhow!("the ID token does not verify: {e}"))?;
    let info: CoreUserInfoClaims = app
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
        "\nSigned in as {}.",
        info["preferred_username"].as_str().unwrap_or("?")
    );
    Ok(())
}
