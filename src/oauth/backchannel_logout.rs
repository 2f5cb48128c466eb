//! OpenID Connect Back-Channel Logout 1.0 §2.5: when a browser session ends (RP-initiated
//! logout) or its user is disabled or deleted, each client that was issued tokens in it and
//! registered a `backchannel_logout_uri` is sent a Logout Token.
//!
//! Delivery is concurrent and bounded by `DELIVERY_TIMEOUT`, so the user's sign-out page
//! waits at most that long however many clients there are or however slow they are. A failed
//! delivery is logged with the client id (never the token) and not retried: the token is
//! short-lived, and the session it names is already gone here.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::logout_token::{LogoutTokenSpec, issue_logout_token};
use crate::store::SessionClientRow;

/// The longest one delivery (connect, send, answer) may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client that delivers Logout Tokens: bounded, and never following a redirect
/// (§2.5: the token goes to the registered URI, nowhere else).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Sends a Logout Token to every client in `ended` that registered a back-channel logout
/// URI, all at once, and waits for them (at most `DELIVERY_TIMEOUT`). Never fails: each
/// failure is logged.
pub async fn notify(state: &ProtocolContext, ended: Vec<SessionClientRow>, now: i64) {
    let mut deliveries = JoinSet::new();
    for row in ended {
        // A session past its absolute end holds nothing to log out.
        if row.expires_at <= now {
            continue;
        }
        let client = match state.store.get_client(&row.client_id).await {
            Ok(Some(found)) => match Client::from_row(found) {
                Ok(client) => client,
                Err(e) => {
                    tracing::error!(client_id = %row.client_id, "back-channel logout: stored client metadata unreadable: {e}");
                    continue;
                }
            },
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(client_id = %row.client_id, "back-channel logout: cannot read the client: {e}");
                continue;
            }
        };
        let Some(uri) = client.meta.backchannel_logout_uri.clone() else {
            continue;
        };
        let spec = LogoutTokenSpec {
            client: &client,
            subject: &row.user_id,
            sid: &row.sid,
        };
        let token = match issue_logout_token(state, spec, now) {
            Ok(token) => token,
            Err(e) => {
                tracing::error!(client_id = %client.id, "back-channel logout: cannot sign the Logout Token: {e}");
                continue;
            }
        };
        let http = state.backchannel_http.clone();
        deliveries.spawn(deliver(http, client.id, uri, token));
    }
    while deliveries.join_next().await.is_some() {}
}

/// §2.5: `POST` with the token as the `logout_token` form field; §2.8: 200 (or 204) is
/// success.
async fn deliver(http: reqwest::Client, client_id: String, uri: String, token: String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &token)
        .finish();
    let sent = http
        .post(&uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            tracing::info!(client_id, "back-channel logout delivered");
        }
        Ok(response) => {
            tracing::warn!(client_id, status = %response.status(), "back-channel logout refused by the client");
        }
        Err(e) => {
            // reqwest's error names the URL, never the body: the token stays out of the log.
            tracing::warn!(client_id, "back-channel logout not delivered: {e}");
        }
    }
}
