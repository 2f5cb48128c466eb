//! A server-side web app signs a user in: the OpenID Connect authorization code flow
//! (OIDC Core §3.1, RFC 6749 §4.1) with PKCE (RFC 7636), as a confidential client that
//! authenticates with its secret at the token endpoint.
//!
//! The app's callback is played by a listener on 127.0.0.1; open the printed URL in a browser,
//! sign in and allow. The app then exchanges the code, verifies the ID token (signature,
//! issuer, audience, nonce: the `openidconnect` crate does it) and calls userinfo.
//!
//! Run it against a local Portcullis (started with the same admin token):
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example web_app_code_flow
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

    step("Listening for the browser's return (the web app's callback)");
    let callback = Loopback::bind("/callback").await?;
    println!("    redirect URI: {}", callback.redirect_uri);

    step("Registering the web app (profile \"web\": code flow, client_secret_basic) and a user");
    let (client_id, secret) = server
        .register_client(json!({
            "client_name": "Example web app",
            "profile": "web",
            "redirect_uris": [callback.redirect_uri],
            "scope": "openid profile email",
        }))
        .await?;
    let secret = secret.context("a web app gets a secret")?;
    let username = server.register_user().await?;
    println!("    client_id: {client_id}");

    step("Discovering the server and building the authorization request");
    let app = server
        .relying_party(&client_id, Some(&secret), &callback.redirect_uri)
        .await?;
    // PKCE protects the code even for a confidential client (RFC 9700 §2.1.1).
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

    step("The user signs in and consents in the browser");
    ask_to_sign_in(url.as_str(), &username);
    let answer = callback.wait_for_redirect().await?;
    let code = code_from(&answer, state.secret(), &server.base)?;
    println!("    the browser came back with a code");

    step("Exchanging the code (client_secret_basic + code_verifier)");
    let tokens = app
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("code exchange failed: {e:?}"))?;
    println!(
        "    got an access token, an ID token, scopes {:?}",
        tokens
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );

    step("Verifying the ID token against the published keys (OIDC Core §3.1.3.7)");
    let id_token = tokens.id_token().context("no ID token")?;
    let claims = id_token
        .claims(&app.id_token_verifier(), &nonce)
        .map_err(|e| anyhow::anyhow!("the ID token does not verify: {e}"))?;
    println!("    verified: signed by the server, for this app, with our nonce");

    step("Calling userinfo with the access token");
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
