//! OIDC Core §3.1.2.1 authorization request parameters beyond the core ones: `id_token_hint`,
//! `claims` (§5.5), `display`, `ui_locales` and `acr_values`, each as a browser meets it.

use reqwest::Response;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{PASSWORD, Registration, spa_with_alice};
use crate::flows::{
    Pkce, browser, exchange, get_authorize, location, param, pkce, spa_request, submit_consent,
    submit_sign_in,
};
use crate::harness::{Client, TestDb, TestServer, jwt_claims, send};

/// Signs `b` in as alice for `client` (sign-in and consent pages) and returns the token
/// response of the code.
async fn first_sign_in(
    server: &TestServer,
    b: &reqwest::Client,
    client: &Client,
    extra: &[(&str, &str)],
) -> Value {
    let p = pkce();
    let page = get_authorize(server, b, &spa_request(client, &p, extra)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let consent = submit_sign_in(server, b, &html, PASSWORD).await;
    let consent_html = consent.text().await.unwrap();
    let done = submit_consent(server, b, &consent_html, "allow").await;
    redeem(server, client, &done, &p).await
}

/// The code of a redirect, exchanged.
async fn redeem(server: &TestServer, client: &Client, done: &Response, p: &Pkce) -> Value {
    assert_eq!(done.status(), 302);
    let (_, q) = location(done);
    let code = param(&q, "code").unwrap_or_else(|| panic!("no code: {q:?}"));
    let (status, tokens) = exchange(server, client, code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// The `error` of a redirect to the client.
fn redirected_error(response: &Response) -> Option<String> {
    assert_eq!(response.status(), 302, "a redirect to the client");
    let (_, q) = location(response);
    param(&q, "error").map(str::to_string)
}

async fn id_token_hint_names_the_user(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let (status, bob) = server
        .admin_post("/users", json!({ "username": "bob", "password": PASSWORD }))
        .await;
    assert_eq!(status, 201, "{bob}");
    let b = browser();
    let tokens = first_sign_in(&server, &b, &client, &[]).await;
    let alice_hint = tokens["id_token"].as_str().unwrap().to_string();

    // The signed-in user is the hinted one: prompt=none answers with a code, even once the
    // hint has expired (OIDC Core §3.1.2.1: an expired hint is still a hint).
    server
        .state
        .clock
        .advance(server.state.config.tokens.id_token_lifetime as i64 + 60);
    let p = pkce();
    let silent = get_authorize(
        &server,
        &b,
        &spa_request(
            &client,
            &p,
            &[("prompt", "none"), ("id_token_hint", &alice_hint)],
        ),
    )
    .await;
    redeem(&server, &client, &silent, &p).await;

    // A hint naming someone else than the signed-in user: login_required with prompt=none,
    // the sign-in page without it.
    let bob_hint = server
        .state
        .keys
        .sign(
            server.state.config.tokens.id_token_alg,
            "JWT",
            &json!({
                "iss": server.base, "sub": bob["id"], "aud": client.id,
                "iat": server.state.now(), "exp": server.state.now() + 60,
            }),
            server.state.now(),
        )
        .expect("sign");
    let p = pkce();
    let refused = get_authorize(
        &server,
        &b,
        &spa_request(
            &client,
            &p,
            &[("prompt", "none"), ("id_token_hint", &bob_hint)],
        ),
    )
    .await;
    assert_eq!(
        redirected_error(&refused).as_deref(),
        Some("login_required")
    );
    let page = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p, &[("id_token_hint", &bob_hint)]),
    )
    .await;
    assert_eq!(page.status(), 200, "the sign-in page");
    // Signing in there as alice does not satisfy a request for bob.
    let html = page.text().await.unwrap();
    let wrong_user = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(
        redirected_error(&wrong_user).as_deref(),
        Some("login_required")
    );

    // Not an ID token of ours: invalid_request, sent back to the client with state.
    let access = tokens["access_token"].as_str().unwrap();
    let other_issuer = crate::harness::EcKey::generate("k").sign(&json!({
        "iss": server.base, "sub": "x", "aud": client.id, "exp": 9_999_999_999i64,
    }));
    let mut tampered = alice_hint.clone();
    tampered.pop();
    tampered.push(if alice_hint.ends_with('A') { 'B' } else { 'A' });
    for bad in ["garbage", "a.b.c", access, &other_issuer, &tampered] {
        let response = get_authorize(
            &server,
            &b,
            &spa_request(&client, &p, &[("id_token_hint", bad)]),
        )
        .await;
        assert_eq!(
            redirected_error(&response).as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        let (_, q) = location(&response);
        assert_eq!(param(&q, "state"), Some("xyz-state"));
    }
    // An ID token of ours issued to another client is not a hint for this one.
    let other = Registration::new("other", "spa")
        .redirect_uris(&["https://other.example.com/cb"])
        .scope("read")
        .register(&server)
        .await;
    let other_hint = server
        .state
        .keys
        .sign(
            server.state.config.tokens.id_token_alg,
            "JWT",
            &json!({
                "iss": server.base, "sub": jwt_claims(&alice_hint)["sub"], "aud": other.id,
                "iat": server.state.now(), "exp": server.state.now() + 60,
            }),
            server.state.now(),
        )
        .expect("sign");
    let response = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p, &[("id_token_hint", &other_hint)]),
    )
    .await;
    assert_eq!(
        redirected_error(&response).as_deref(),
        Some("invalid_request")
    );
    server.stop().await;
}

async fn claims_display_and_ui_locales(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    // Accepted: a well-formed claims request, any display, locales we do not have.
    for extra in [
        (
            "claims",
            r#"{"userinfo":{"email":{"essential":true}},"id_token":{"auth_time":null}}"#,
        ),
        ("claims", "{}"),
        ("display", "popup"),
        ("display", "touch"),
        ("ui_locales", "tlh-Latn fr-CA"),
    ] {
        let page = get_authorize(&server, &b, &spa_request(&client, &p, &[extra])).await;
        assert_eq!(page.status(), 200, "{extra:?}");
    }
    // §5.5: a claims value that is not a claims request object is invalid_request.
    for bad in [
        r#"{"userinfo":"#,
        "[]",
        r#"{"id_token":5}"#,
        r#"{"userinfo":[]}"#,
        "null",
    ] {
        let response =
            get_authorize(&server, &b, &spa_request(&client, &p, &[("claims", bad)])).await;
        assert_eq!(
            redirected_error(&response).as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
    }
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    assert_eq!(doc["claims_parameter_supported"], false);
    assert_eq!(
        doc["display_values_supported"],
        json!(["page", "popup", "touch", "wap"])
    );
    server.stop().await;
}

async fn acr_values_reach_the_id_token_when_served(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let offline = ("scope", "openid profile read offline_access");
    let tokens = first_sign_in(&server, &b, &client, &[offline]).await;
    assert!(
        jwt_claims(tokens["id_token"].as_str().unwrap())
            .get("acr")
            .is_none()
    );
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let served = doc["acr_values_supported"][0]
        .as_str()
        .expect("an acr")
        .to_string();
    for (requested, expected) in [
        (served.clone(), Some(served.as_str())),
        (format!("urn:example:mfa {served}"), Some(served.as_str())),
        ("urn:example:mfa".to_string(), None),
    ] {
        let p = pkce();
        let done = get_authorize(
            &server,
            &b,
            &spa_request(&client, &p, &[offline, ("acr_values", &requested)]),
        )
        .await;
        let tokens = redeem(&server, &client, &done, &p).await;
        let id = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"].as_str(), expected, "{requested}");
        // A refreshed ID token keeps it.
        let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
        let (status, again) = crate::flows::token(
            &server,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(status, 200, "{again}");
        let id = jwt_claims(again["id_token"].as_str().unwrap());
        assert_eq!(id["acr"].as_str(), expected, "refreshed: {requested}");
    }
    server.stop().await;
}

both_stores!(
    id_token_hint_names_the_user,
    claims_display_and_ui_locales,
    acr_values_reach_the_id_token_when_served,
);
