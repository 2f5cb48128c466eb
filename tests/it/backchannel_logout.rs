//! OpenID Connect Back-Channel Logout 1.0 as a relying party sees it: a real browser session
//! signs in to apps, and when the session ends (RP-initiated logout, or an admin disabling or
//! deleting the user) each app that registered a `backchannel_logout_uri` and holds tokens of
//! that session receives a Logout Token, checked here against the JWKS claim by claim. The
//! disabled or deleted user's tokens die too.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::json;

use crate::both_stores;
use crate::fixtures::{PASSWORD, WEB_CB, alice, alice_id, confidential_client, resources};
use crate::flows::{
    authorize_query, browser, code_flow_in_browser, exchange, get_authorize, is_active, location,
    param, pkce, submit_sign_in, token, validate_logout_token,
};
use crate::harness::{Client, TestDb, TestServer, jwt_claims, send};
use crate::parties::Receiver;

/// A confidential first-party web app (no consent page) that may register a logout URI.
async fn app(server: &TestServer, name: &str, logout_uri: Option<String>) -> Client {
    let mut extra = json!({ "first_party": true });
    if let Some(uri) = logout_uri {
        extra["backchannel_logout_uri"] = json!(uri);
        extra["backchannel_logout_session_required"] = json!(true);
    }
    confidential_client(server, name, extra).await
}

async fn logout_notifies_every_app_of_the_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice().create(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let mail = app(&server, "mail", Some(rp.uri("mail"))).await;
    let quiet = app(&server, "no logout uri", None).await;
    let elsewhere = app(&server, "never used", Some(rp.uri("elsewhere"))).await;
    let sub = alice_id(&server).await;

    let b = browser();
    let photo_tokens = code_flow_in_browser(&server, &b, &photos).await;
    let mail_tokens = code_flow_in_browser(&server, &b, &mail).await;
    code_flow_in_browser(&server, &b, &quiet).await;
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
    let other_tokens = code_flow_in_browser(&server, &other, &elsewhere).await;
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
    alice().create(&server).await;
    let slow = app(&server, "slow", Some(format!("{}/slow/x", rp.base))).await;
    let fast = app(&server, "fast", Some(rp.uri("fast"))).await;
    // A URI where nothing listens: the delivery fails, the logout does not.
    let gone = app(&server, "gone", Some("http://127.0.0.1:9/logout".into())).await;
    let b = browser();
    for a in [&slow, &fast, &gone] {
        code_flow_in_browser(&server, &b, a).await;
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
    alice().create(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let sub = alice_id(&server).await;
    let b = browser();
    let tokens = code_flow_in_browser(&server, &b, &photos).await;
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(is_active(&server, &photos, access).await);
    // An unused code of the same user, and a second browser mid-way through signing in.
    let p = pkce();
    let query = authorize_query(
        &[
            ("response_type", "code"),
            ("client_id", photos.id.as_str()),
            ("redirect_uri", WEB_CB),
            ("scope", "openid"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
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
    let refused = submit_sign_in(&server, &second, &pending_html, PASSWORD).await;
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
    let fresh = code_flow_in_browser(&server, &browser(), &photos).await;
    assert!(is_active(&server, &photos, fresh["access_token"].as_str().unwrap()).await);
    assert!(rp.drain().await.is_empty(), "re-enabling logs nobody out");
    server.stop().await;
}

async fn deleting_a_user_logs_out_and_revokes_everything(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice().create(&server).await;
    let photos = app(&server, "photos", Some(rp.uri("photos"))).await;
    let sub = alice_id(&server).await;
    let tokens = code_flow_in_browser(&server, &browser(), &photos).await;
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
