//! OpenID Connect Back-Channel Logout 1.0 as a relying party sees it: a real browser session
//! signs in to apps, and when the session ends (RP-initiated logout, or an admin disabling or
//! deleting the user) each app that registered a `backchannel_logout_uri` and holds tokens of
//! that session receives a Logout Token, checked here against the JWKS claim by claim. The
//! disabled or deleted user's tokens die too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, State};
use axum::routing::post;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::authorize::{PASSWORD, alice, browser, field, get_authorize, location, param, sign_in};
use crate::both_stores;
use crate::code_flow::{exchange, is_active, pkce, resources, token, web_client};
use crate::harness::{Client, TestDb, TestServer, jwt_claims, jwt_header, send};

const WEB_CB: &str = "https://web.example.com/cb";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A relying party's back-channel logout endpoint, inside the test: every POST to
/// `/logout/{app}` is recorded as (app, logout_token). `/slow/{app}` never answers in time.
pub struct Receiver {
    base: String,
    received: Mutex<UnboundedReceiver<(String, String)>>,
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    logout_token: String,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (tx, rx) = unbounded_channel::<(String, String)>();
        let app = axum::Router::new()
            .route(
                "/logout/{app}",
                post(
                    |State(tx): State<Arc<UnboundedSender<(String, String)>>>,
                     Path(app): Path<String>,
                     Form(form): Form<LogoutForm>| async move {
                        let _ = tx.send((app, form.logout_token));
                        axum::http::StatusCode::OK
                    },
                ),
            )
            .route(
                "/slow/{app}",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    axum::http::StatusCode::OK
                }),
            )
            .with_state(Arc::new(tx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            base: format!("http://{addr}"),
            received: Mutex::new(rx),
        }
    }

    pub fn uri(&self, app: &str) -> String {
        format!("{}/logout/{app}", self.base)
    }

    /// Everything received within a short while, sorted by app.
    pub async fn drain(&self) -> Vec<(String, String)> {
        let mut rx = self.received.lock().await;
        let mut got = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
        {
            got.push(item);
        }
        got.sort();
        got
    }
}

/// A confidential first-party web app (no consent page) that may register a logout URI.
async fn app(server: &TestServer, name: &str, logout_uri: Option<String>) -> Client {
    let mut extra = json!({ "first_party": true });
    if let Some(uri) = logout_uri {
        extra["backchannel_logout_uri"] = json!(uri);
        extra["backchannel_logout_session_required"] = json!(true);
    }
    web_client(server, name, extra).await
}

/// Signs `app` in through the browser `b` (signing in with the password when asked) and
/// returns the token response.
pub async fn browser_sign_in(server: &TestServer, b: &reqwest::Client, app: &Client) -> Value {
    let p = pkce();
    let query: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", app.id.as_str()),
        ("redirect_uri", WEB_CB),
        ("scope", "openid offline_access read"),
        ("state", "s"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut response = get_authorize(server, b, &query).await;
    if response.status() == 200 {
        let html = response.text().await.unwrap();
        assert!(field(&html, "password").is_some() || html.contains("password"));
        response = sign_in(server, b, &html, PASSWORD).await;
    }
    assert_eq!(response.status(), 302);
    let (_, q) = location(&response);
    let code = param(&q, "code").expect("a code").to_string();
    let (status, tokens) = exchange(server, app, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

pub async fn alice_id(server: &TestServer) -> String {
    let (status, users) = server.admin_get("/users").await;
    assert_eq!(status, 200, "{users}");
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A relying party's Logout Token validation (§2.6): signature against the published JWKS
/// with the algorithm of the client's ID tokens, `typ`, and every claim. Returns the claims.
pub async fn validate_logout_token(
    server: &TestServer,
    client: &Client,
    token: &str,
    sub: &str,
    sid: &str,
    alg: Algorithm,
) -> Value {
    let header = jwt_header(token);
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    let kid = header["kid"].as_str().expect("kid");
    let jwks = server.jwks().await;
    let published = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"))
        .clone();
    let jwk: Jwk = serde_json::from_value(published).expect("a JWK");
    let key = DecodingKey::from_jwk(&jwk).expect("a public key");
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&server.base]);
    validation.set_audience(&[&client.id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("Logout Token does not validate: {e}"))
        .claims;
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], client.id);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    // §2.4: a Logout Token never carries a nonce.
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "{claims}"
    );
    let now = server.state.now();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((now - 5..=now).contains(&iat), "iat {iat} now {now}");
    assert!(
        exp > iat && exp - iat <= 120,
        "short-lived: iat {iat} exp {exp}"
    );
    claims
}

async fn logout_notifies_every_app_of_the_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let mail = app(&server, "mail", Some(rp.uri("mail"))).await;
    let quiet = app(&server, "no logout uri", None).await;
    let elsewhere = app(&server, "never used", Some(rp.uri("elsewhere"))).await;
    let sub = alice_id(&server).await;

    let b = browser();
    let photo_tokens = browser_sign_in(&server, &b, &photos).await;
    let mail_tokens = browser_sign_in(&server, &b, &mail).await;
    browser_sign_in(&server, &b, &quiet).await;
    // The ID token names the session; every app of this browser sees the same sid.
    let sid = jwt_claims(photo_tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .expect("sid in the ID token")
        .to_string();
    assert_eq!(
        jwt_claims(mail_tokens["id_token"].as_str().unwrap())["sid"],
        sid
    );
    // A refreshed ID token keeps it.
    let (status, refreshed) = token(
        &server,
        &photos,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                photo_tokens["refresh_token"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        jwt_claims(refreshed["id_token"].as_str().unwrap())["sid"],
        sid
    );

    // Another browser's session is another sid, and is not logged out.
    let other = browser();
    let other_tokens = browser_sign_in(&server, &other, &elsewhere).await;
    let other_sid = jwt_claims(other_tokens["id_token"].as_str().unwrap())["sid"].clone();
    assert_ne!(other_sid, json!(sid));

    let page = b.get(server.url("/logout")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let got = rp.drain().await;
    let apps: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(apps, ["mail", "photos"], "only the apps of the session");
    validate_logout_token(&server, &mail, &got[0].1, &sub, &sid, Algorithm::RS256).await;
    let photo_claims =
        validate_logout_token(&server, &photos, &got[1].1, &sub, &sid, Algorithm::RS256).await;
    let mail_claims = jwt_claims(&got[0].1);
    assert_ne!(photo_claims["jti"], mail_claims["jti"], "one jti per token");

    // The session is over: a second logout tells nobody anything.
    let again = b.get(server.url("/logout")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(rp.drain().await.is_empty());
    server.stop().await;
}

async fn a_slow_app_does_not_hold_up_the_logout_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice(&server).await;
    let slow = app(&server, "slow", Some(format!("{}/slow/x", rp.base))).await;
    let fast = app(&server, "fast", Some(rp.uri("fast"))).await;
    // A URI where nothing listens: the delivery fails, the logout does not.
    let gone = app(&server, "gone", Some("http://127.0.0.1:9/logout".into())).await;
    let b = browser();
    for a in [&slow, &fast, &gone] {
        browser_sign_in(&server, &b, a).await;
    }
    let started = Instant::now();
    let page = b.get(server.url("/logout")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(page.status(), 200);
    assert!(took < Duration::from_secs(6), "logout took {took:?}");
    let got = rp.drain().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "fast");
    server.stop().await;
}

async fn disabling_a_user_logs_out_and_revokes_everything(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let sub = alice_id(&server).await;
    let b = browser();
    let tokens = browser_sign_in(&server, &b, &photos).await;
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(is_active(&server, &photos, access).await);
    // An unused code of the same user, and a second browser mid-way through signing in.
    let p = pkce();
    let query: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", photos.id.as_str()),
        ("redirect_uri", WEB_CB),
        ("scope", "openid"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let silent = get_authorize(&server, &b, &query).await;
    let (_, q) = location(&silent);
    let unused_code = param(&q, "code").expect("code").to_string();
    let second = browser();
    let pending = get_authorize(&server, &second, &query).await;
    let pending_html = pending.text().await.unwrap();
    assert!(rp.drain().await.is_empty());

    let (status, user) = send(
        server
            .admin(Method::PUT, &format!("/users/{sub}"))
            .json(&json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, 200, "{user}");

    let got = rp.drain().await;
    assert_eq!(got.len(), 1, "{got:?}");
    validate_logout_token(&server, &photos, &got[0].1, &sub, &sid, Algorithm::RS256).await;
    // RFC 7662 §2.2: the access token is no longer active, nor the refresh token.
    assert!(!is_active(&server, &photos, access).await);
    assert!(!is_active(&server, &photos, refresh).await);
    let (status, body) = token(
        &server,
        &photos,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = exchange(&server, &photos, &unused_code, Some(&p.verifier)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let userinfo = server
        .get("/userinfo")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    // The browser's session is gone, and the pending sign-in cannot finish for this user.
    let again = get_authorize(&server, &b, &query).await;
    assert_eq!(again.status(), 200, "the sign-in page again");
    let refused = sign_in(&server, &second, &pending_html, PASSWORD).await;
    assert_eq!(refused.status(), 200);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("The username or password is not correct.")
    );

    // Enabled again: old tokens stay dead, new sign-ins work.
    let (status, _) = send(
        server
            .admin(Method::PUT, &format!("/users/{sub}"))
            .json(&json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!is_active(&server, &photos, access).await);
    let fresh = browser_sign_in(&server, &browser(), &photos).await;
    assert!(is_active(&server, &photos, fresh["access_token"].as_str().unwrap()).await);
    assert!(rp.drain().await.is_empty(), "re-enabling logs nobody out");
    server.stop().await;
}

async fn deleting_a_user_logs_out_and_revokes_everything(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let sub = alice_id(&server).await;
    let tokens = browser_sign_in(&server, &browser(), &photos).await;
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let response = server
        .admin(Method::DELETE, &format!("/users/{sub}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let got = rp.drain().await;
    assert_eq!(got.len(), 1, "{got:?}");
    validate_logout_token(&server, &photos, &got[0].1, &sub, &sid, Algorithm::RS256).await;
    assert!(!is_active(&server, &photos, access).await);
    let (status, body) = token(
        &server,
        &photos,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    server.stop().await;
}

async fn logout_uri_is_checked_at_registration(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    for bad in [
        "http://rp.example.com/logout",
        "not a uri",
        "/relative",
        "https://rp.example.com/logout#frag",
        "ftp://rp.example.com/logout",
    ] {
        let (status, body) = server
            .admin_post(
                "/clients",
                json!({
                    "client_name": "rp", "profile": "web", "redirect_uris": [WEB_CB],
                    "backchannel_logout_uri": bad,
                }),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{bad}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("backchannel_logout_uri"),
            "{bad}: {body}"
        );
    }
    for good in [
        "https://rp.example.com/logout?x=1",
        "http://127.0.0.1:8080/logout",
    ] {
        let client = app(&server, "rp", Some(good.into())).await;
        assert_eq!(client.registration["backchannel_logout_uri"], good);
        assert_eq!(
            client.registration["backchannel_logout_session_required"],
            true
        );
    }
    let (status, body) = server
        .admin_post(
            "/clients",
            json!({
                "client_name": "rp", "profile": "web", "redirect_uris": [WEB_CB],
                "backchannel_logout_session_required": "yes",
            }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("backchannel_logout_session_required"),
        "{body}"
    );

    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
    server.stop().await;
}

both_stores!(
    logout_notifies_every_app_of_the_session,
    a_slow_app_does_not_hold_up_the_logout_page,
    disabling_a_user_logs_out_and_revokes_everything,
    deleting_a_user_logs_out_and_revokes_everything,
    logout_uri_is_checked_at_registration,
);
