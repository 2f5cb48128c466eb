//! The device authorization grant (RFC 8628) over HTTP: the device's side (authorization
//! request, polling) as a client makes it, the user's side (the `/device` pages) as a browser
//! without JavaScript sends it (cookies kept, hidden fields read out of the pages).

use serde_json::json;

use crate::both_stores;
use crate::browser::Browser;
use crate::fixtures::{DEVICE_GRANT, ORDERS, PASSWORD, alice, device_client, resources};
use crate::flows::{
    assert_error, assert_page_defences, browser, decide_device, field, poll, post_form,
    start_device, started, str_of, text, token,
};
use crate::harness::{TestDb, TestServer, assert_no_store, jwt_claims, send, send_full};

async fn device_server(db: &TestDb) -> TestServer {
    let server = TestServer::start(db).await;
    resources(&server).await;
    alice().create(&server).await;
    server
}

async fn authorization_response_and_discovery(db: TestDb) {
    let server = device_server(&db).await;
    let (status, meta) = send(server.get("/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(
        meta["device_authorization_endpoint"],
        json!(server.url("/device_authorization"))
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(DEVICE_GRANT)),
        "{meta}"
    );

    let tv = device_client(&server, "Living-room TV").await;
    let (status, headers, body) = send_full(
        server
            .post("/device_authorization")
            .form(&[("client_id", tv.id.as_str()), ("scope", "openid read")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers, "device authorization response");
    let user_code = str_of(&body, "user_code");
    // RFC 8628 §6.1: eight characters of the 20 consonants, shown with a dash.
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert!(str_of(&body, "device_code").len() >= 43);
    assert_eq!(body["verification_uri"], json!(server.url("/device")));
    assert_eq!(
        body["verification_uri_complete"],
        json!(format!("{}?user_code={user_code}", server.url("/device")))
    );
    assert_eq!(body["expires_in"], json!(600));
    assert_eq!(body["interval"], json!(5));
    let again = started(&server, &tv, "read").await;
    assert_ne!(again["device_code"], body["device_code"]);
    assert_ne!(again["user_code"], body["user_code"]);

    // The complete URI fills the code in; the user still presses Continue.
    let page = text(
        server
            .get(&format!(
                "/device?user_code={}",
                user_code.to_lowercase().replace('-', "")
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        field(&page, "user_code").as_deref(),
        Some(user_code),
        "{page}"
    );
    server.stop().await;
}

async fn device_authorization_refusals(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "TV").await;
    let web = crate::fixtures::confidential_client(&server, "web app", json!({})).await;

    let (status, body) = start_device(&server, &tv, &[("scope", "admin")]).await;
    assert_error(status, &body, "invalid_scope", "unregistered scope");
    let (status, body) = start_device(
        &server,
        &tv,
        &[("scope", "read"), ("resource", "https://nowhere.example")],
    )
    .await;
    assert_error(status, &body, "invalid_target", "unknown resource");
    // RFC 6749 §5.2: a client not registered for the grant.
    let (status, body) = server
        .post_as("/device_authorization", &web, &[("scope", "read")])
        .await;
    assert_error(status, &body, "unauthorized_client", "web client");
    // Authentication as at the token endpoint.
    let (status, body) = send(
        server
            .post("/device_authorization")
            .form(&[("client_id", "nobody")]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = send(
        server
            .post("/device_authorization")
            .basic_auth(&web.id, Some("wrong"))
            .form(&[("scope", "read")]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = send(
        server
            .post("/device_authorization")
            .json(&json!({"client_id": tv.id})),
    )
    .await;
    assert_error(status, &body, "invalid_request", "JSON body");
    // Without scope: the client's registered scope.
    let (status, body) = start_device(&server, &tv, &[]).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// `authorization_pending` until the user decides; `slow_down` for a poll sooner than the
/// interval, which then grows by 5 s and is the interval from then on.
async fn pending_and_slow_down(db: TestDb) {
    let server = device_server(&db).await;
    server.state.clock.freeze();
    let clock = &server.state.clock;
    let tv = device_client(&server, "TV").await;
    let flow = started(&server, &tv, "read").await;
    let code = str_of(&flow, "device_code");

    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "authorization_pending", "first poll");
    clock.advance(5);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "authorization_pending", "after the interval");
    clock.advance(4);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "slow_down", "4 s after the last poll");
    // The interval is now 10 s, and waiting it is honoured.
    clock.advance(10);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "10 s after the slow_down",
    );
    // 9 s is too soon now (it was not at 5 s): the interval stays grown; 15 s from here.
    clock.advance(9);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "slow_down", "9 s later");
    clock.advance(14);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "slow_down",
        "14 s after the second slow_down",
    );
    clock.advance(20);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "at the interval of 20 s",
    );
    let (status, body) = poll(&server, &tv, "unknown").await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "an unknown code is not pending",
    );
    server.stop().await;
}

/// Approval gives tokens exactly once: access, ID (openid) and refresh (offline_access) tokens;
/// a second poll is `invalid_grant` and revokes what the first got.
async fn approval_gives_tokens_once(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "Living-room TV").await;
    let flow = started(&server, &tv, "openid profile offline_access").await;
    let code = str_of(&flow, "device_code");
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "authorization_pending", "before approval");

    let (status, page) = decide_device(&server, str_of(&flow, "user_code"), "allow").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Device connected"), "{page}");

    // The device waits its interval, then polls.
    server.state.clock.advance(5);
    let (status, headers, tokens) = send_full(crate::flows::token_request(
        &server,
        &tv,
        &[("grant_type", DEVICE_GRANT), ("device_code", code)],
    ))
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_no_store(&headers, "device token response");
    assert_eq!(tokens["token_type"], json!("Bearer"));
    assert_eq!(tokens["scope"], json!("openid profile offline_access"));
    let claims = jwt_claims(str_of(&tokens, "id_token"));
    assert_eq!(claims["iss"], json!(server.base));
    assert_eq!(claims["aud"], json!(tv.id));
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(claims["at_hash"].is_string(), "{claims}");
    let access = str_of(&tokens, "access_token");
    let at = jwt_claims(access);
    assert_eq!(at["sub"], claims["sub"]);
    assert_eq!(at["client_id"], json!(tv.id));
    assert!(at["auth_time"].as_i64().is_some(), "{at}");
    let (status, info) = send(server.get("/userinfo").bearer_auth(access)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["preferred_username"], json!("alice"));
    let refresh = str_of(&tokens, "refresh_token").to_string();

    // RFC 8628 §3.5: once. The replay revokes the grant.
    server.state.clock.advance(5);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "invalid_grant", "second redemption");
    let (status, _) = send(server.get("/userinfo").bearer_auth(access)).await;
    assert_eq!(status, 401, "the first access token is revoked");
    let (status, body) = token(
        &server,
        &tv,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_error(status, &body, "invalid_grant", "refresh after the replay");
    server.stop().await;
}

/// Without `openid`: a plain OAuth grant for the client's API, with a refresh token.
async fn approval_for_an_api(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "TV").await;
    let flow = started(&server, &tv, "read write").await;
    decide_device(&server, str_of(&flow, "user_code"), "allow").await;
    let (status, tokens) = poll(&server, &tv, str_of(&flow, "device_code")).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("id_token").is_none(), "{tokens}");
    let at = jwt_claims(str_of(&tokens, "access_token"));
    assert_eq!(at["aud"], json!(ORDERS));
    assert_eq!(at["scope"], json!("read write"));
    let (status, refreshed) = token(
        &server,
        &tv,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&tokens, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    server.stop().await;
}

async fn denial(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "TV").await;
    let flow = started(&server, &tv, "read").await;
    let code = str_of(&flow, "device_code");
    let (status, page) = decide_device(&server, str_of(&flow, "user_code"), "deny").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Device not connected"), "{page}");
    for _ in 0..2 {
        let (status, body) = poll(&server, &tv, code).await;
        assert_error(status, &body, "access_denied", "after denial");
        server.state.clock.advance(5);
    }
    // A denied code cannot be approved afterwards.
    let b = browser();
    let page = text(b.get(server.url("/device")).send().await.unwrap()).await;
    let csrf = field(&page, "csrf_token").unwrap();
    let response = post_form(
        &server,
        &b,
        "/device",
        &[
            ("csrf_token", &csrf),
            ("user_code", str_of(&flow, "user_code")),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(text(response).await.contains("not valid or has expired"));
    server.stop().await;
}

async fn expiry(db: TestDb) {
    let server = device_server(&db).await;
    server.state.clock.freeze();
    let tv = device_client(&server, "TV").await;
    let flow = started(&server, &tv, "read").await;
    let code = str_of(&flow, "device_code");
    server.state.clock.advance(599);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "a second before expiry",
    );
    server.state.clock.advance(1);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "expired_token", "at expiry");
    // The user is too late as well.
    let b = browser();
    let page = text(b.get(server.url("/device")).send().await.unwrap()).await;
    let csrf = field(&page, "csrf_token").unwrap();
    let response = post_form(
        &server,
        &b,
        "/device",
        &[
            ("csrf_token", &csrf),
            ("user_code", str_of(&flow, "user_code")),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(text(response).await.contains("not valid or has expired"));

    // Approved but redeemed too late: expired_token too.
    let flow = started(&server, &tv, "read").await;
    decide_device(&server, str_of(&flow, "user_code"), "allow").await;
    server.state.clock.advance(600);
    let (status, body) = poll(&server, &tv, str_of(&flow, "device_code")).await;
    assert_error(status, &body, "expired_token", "approved, then expired");
    server.stop().await;
}

/// RFC 6749 §5.2: a device code issued to another client is `invalid_grant`, and that poll
/// does not touch the owner's polling state.
async fn wrong_client(db: TestDb) {
    let server = device_server(&db).await;
    server.state.clock.freeze();
    let tv = device_client(&server, "TV").await;
    let thief = device_client(&server, "Other device").await;
    let flow = started(&server, &tv, "read").await;
    let code = str_of(&flow, "device_code");
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(status, &body, "authorization_pending", "owner");
    server.state.clock.advance(1);
    let (status, body) = poll(&server, &thief, code).await;
    assert_error(status, &body, "invalid_grant", "another client");
    server.state.clock.advance(4);
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "owner, not slowed by the thief",
    );

    decide_device(&server, str_of(&flow, "user_code"), "allow").await;
    server.state.clock.advance(5);
    let (status, body) = poll(&server, &thief, code).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "another client after approval",
    );
    let (status, body) = poll(&server, &tv, code).await;
    assert_eq!(status, 200, "the owner still gets the tokens: {body}");
    // A client not registered for the grant is refused before the code is looked at.
    let web = crate::fixtures::confidential_client(&server, "web", json!({})).await;
    let (status, body) = server
        .post_as(
            "/token",
            &web,
            &[("grant_type", DEVICE_GRANT), ("device_code", code)],
        )
        .await;
    assert_error(status, &body, "unauthorized_client", "web client");
    server.stop().await;
}

async fn malformed_codes(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "TV").await;
    let (status, body) = token(&server, &tv, &[("grant_type", DEVICE_GRANT)]).await;
    assert_error(status, &body, "invalid_request", "no device_code");
    let long = "x".repeat(5000);
    for bad in ["nonsense", "WDJB-MJHT", "%00", long.as_str(), "é"] {
        let (status, body) = poll(&server, &tv, bad).await;
        assert!(matches!(status, 400), "{bad}: {status} {body}");
    }
    let (status, body) = poll(&server, &tv, "nonsense").await;
    assert_error(status, &body, "invalid_grant", "garbage device code");
    let (status, body) = token(
        &server,
        &tv,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", "a"),
            ("device_code", "b"),
        ],
    )
    .await;
    assert_error(status, &body, "invalid_request", "repeated device_code");

    // The pages: malformed and wrong user codes get a clear 400 page, never a 500.
    let flow = started(&server, &tv, "read").await;
    let b = browser();
    let page = text(
        b.get(server.url("/device?user_code=%3Cscript%3E"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        field(&page, "user_code").as_deref(),
        Some(""),
        "junk is not filled in"
    );
    let csrf = field(&page, "csrf_token").unwrap();
    for (typed, words) in [
        ("", "eight letters"),
        ("ABCD", "eight letters"),
        ("WDJB-MJHA", "eight letters"),
        ("<script>alert(1)</script>", "eight letters"),
        ("BBBB-BBBB", "not valid or has expired"),
    ] {
        let response = post_form(
            &server,
            &b,
            "/device",
            &[("csrf_token", &csrf), ("user_code", typed)],
        )
        .await;
        assert_eq!(response.status(), 400, "{typed}");
        let html = text(response).await;
        assert!(html.contains(words), "{typed}: {html}");
        assert!(!html.contains("<script>"), "{html}");
    }
    // Any case, with or without the dash.
    let typed = str_of(&flow, "user_code").to_lowercase().replace('-', "");
    let response = post_form(
        &server,
        &b,
        "/device",
        &[("csrf_token", &csrf), ("user_code", &typed)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        text(response)
            .await
            .contains("action=\"&#x2f;device&#x2f;signin\"")
    );
    // No CSRF token: refused.
    let response = post_form(
        &server,
        &b,
        "/device",
        &[("user_code", str_of(&flow, "user_code"))],
    )
    .await;
    assert_eq!(response.status(), 403);
    let response = post_form(
        &server,
        &browser(),
        "/device/approve",
        &[
            ("csrf_token", &csrf),
            ("user_code", str_of(&flow, "user_code")),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(response.status(), 403, "a form from elsewhere (no cookie)");
    let (status, body) = poll(&server, &tv, str_of(&flow, "device_code")).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "nothing was decided",
    );
    server.stop().await;
}

/// RFC 8628 §5.1: wrong user codes are counted per address and per browser in the store;
/// past the free attempts even the right code waits.
async fn user_code_guessing_is_throttled(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.throttle.account_free_attempts = 2;
        c.throttle.ip_free_attempts = 3;
        c.throttle.base_delay = 30;
    })
    .await;
    server.state.clock.freeze();
    resources(&server).await;
    let tv = device_client(&server, "TV").await;
    let flow = started(&server, &tv, "read").await;
    let right = str_of(&flow, "user_code");

    let guesser = browser();
    for _ in 0..3 {
        let (status, _) = try_code(&server, &guesser, "BBBB-BBBB").await;
        assert_eq!(status, 400);
    }
    // The browser's next try waits, whatever the code.
    let (status, page) = try_code(&server, &guesser, right).await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("Too many attempts"), "{page}");
    // Another browser at the same address: the address's last free miss, then it waits too.
    let (status, _) = try_code(&server, &browser(), "CCCC-CCCC").await;
    assert_eq!(status, 400);
    let (status, page) = try_code(&server, &browser(), right).await;
    assert_eq!(status, 429, "{page}");
    // Each block lasts 2 · 30 s; then the right code works.
    server.state.clock.advance(59);
    let (status, _) = try_code(&server, &browser(), right).await;
    assert_eq!(status, 429);
    server.state.clock.advance(1);
    let (status, page) = try_code(&server, &browser(), right).await;
    assert_eq!(status, 200, "{page}");
    server.stop().await;
}

/// A fresh visit to the code page, then `code` submitted; the status and page.
async fn try_code(server: &TestServer, b: &reqwest::Client, code: &str) -> (u16, String) {
    let page = text(b.get(server.url("/device")).send().await.unwrap()).await;
    let csrf = field(&page, "csrf_token").unwrap();
    let response = post_form(
        server,
        b,
        "/device",
        &[("csrf_token", &csrf), ("user_code", code)],
    )
    .await;
    let status = response.status().as_u16();
    (status, text(response).await)
}

/// Two nodes on one database: polls on either are judged against each other, and an approval
/// on one is redeemed on the other, once.
async fn two_nodes_share_the_flow(db: TestDb) {
    let a = device_server(&db).await;
    let b = TestServer::start(&db).await;
    a.state.clock.freeze();
    b.state.clock.freeze();
    b.state.clock.advance(a.state.now() - b.state.now());
    let tv = device_client(&a, "TV").await;
    let flow = started(&b, &tv, "openid offline_access").await;
    let code = str_of(&flow, "device_code");

    let (status, body) = poll(&a, &tv, code).await;
    assert_error(status, &body, "authorization_pending", "node a");
    a.state.clock.advance(2);
    b.state.clock.advance(2);
    let (status, body) = poll(&b, &tv, code).await;
    assert_error(
        status,
        &body,
        "slow_down",
        "node b, 2 s after node a's poll",
    );
    a.state.clock.advance(10);
    b.state.clock.advance(10);
    let (status, body) = poll(&a, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "node a at the grown interval",
    );

    decide_device(&b, str_of(&flow, "user_code"), "allow").await;
    a.state.clock.advance(10);
    b.state.clock.advance(10);
    let (polled_a, polled_b) = tokio::join!(poll(&a, &tv, code), poll(&b, &tv, code));
    let statuses = [polled_a.0, polled_b.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "one node issues tokens: {polled_a:?} {polled_b:?}"
    );
    b.stop().await;
    a.stop().await;
}

/// A server with the device grant off serves none of it and advertises none of it.
async fn disabled_by_config(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.device.enabled = false).await;
    resources(&server).await;
    let (_, meta) = send(server.get("/.well-known/openid-configuration")).await;
    assert!(
        meta.get("device_authorization_endpoint").is_none(),
        "{meta}"
    );
    assert!(
        !meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(DEVICE_GRANT))
    );
    let (status, _) = send(
        server
            .post("/device_authorization")
            .form(&[("client_id", "x")]),
    )
    .await;
    assert_eq!(status, 404);
    let response = server.get("/device").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let tv = device_client(&server, "TV").await;
    let (status, body) = poll(&server, &tv, "whatever").await;
    assert_error(status, &body, "unsupported_grant_type", "disabled grant");
    server.stop().await;
}

both_stores!(
    authorization_response_and_discovery,
    device_authorization_refusals,
    pending_and_slow_down,
    approval_gives_tokens_once,
    approval_for_an_api,
    denial,
    expiry,
    wrong_client,
    malformed_codes,
    user_code_guessing_is_throttled,
    two_nodes_share_the_flow,
    disabled_by_config,
);

/// RFC 8628 §3.3 in headless Chromium, a device starts the flow, the user opens
/// `verification_uri`, types the code, signs in and approves, and the polling device gets
/// tokens; then, signed in already, the user arrives by `verification_uri_complete` and denies.
async fn chromium_approves_and_denies(db: TestDb) {
    let Some(chromium) = Browser::start("chromium_approves_and_denies").await else {
        return;
    };
    let server = device_server(&db).await;
    let tv = device_client(&server, "Living-room TV").await;

    let flow = started(&server, &tv, "openid profile read").await;
    let code = str_of(&flow, "device_code");
    let (status, body) = poll(&server, &tv, code).await;
    assert_error(
        status,
        &body,
        "authorization_pending",
        "before the user acts",
    );

    chromium.goto(str_of(&flow, "verification_uri")).await;
    assert_eq!(chromium.text("h1").await, "Connect a device");
    // Typed as people type it: lower case, no dash.
    let typed = str_of(&flow, "user_code").to_lowercase().replace('-', "");
    chromium.fill("#user_code", &typed).await;
    chromium.click("button[type=submit]").await;
    chromium.wait_for_text("h1", "Sign in").await;
    assert!(chromium.source().await.contains("Living-room TV"));
    chromium.fill("#username", "alice").await;
    chromium.fill("#password", PASSWORD).await;
    chromium.click("button[type=submit]").await;
    chromium.wait_for_text("h1", "on your device").await;
    let main = chromium.text("main").await;
    assert!(main.contains("Living-room TV"), "{main}");
    assert!(
        main.contains(str_of(&flow, "user_code")),
        "the code to compare: {main}"
    );
    assert!(
        main.contains("See your basic profile"),
        "scopes in words: {main}"
    );
    assert!(
        chromium
            .text("#device-warning")
            .await
            .contains("started it yourself")
    );
    chromium.click("button[value=allow]").await;
    chromium.wait_for_text("h1", "Device connected").await;

    server.state.clock.advance(5);
    let (status, tokens) = poll(&server, &tv, code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let (status, info) = send(
        server
            .get("/userinfo")
            .bearer_auth(str_of(&tokens, "access_token")),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["preferred_username"], json!("alice"));

    // The deny path, by the complete URI: the code is filled in, the session is still there.
    let flow = started(&server, &tv, "read").await;
    chromium
        .goto(str_of(&flow, "verification_uri_complete"))
        .await;
    assert_eq!(
        chromium.attr("#user_code", "value").await.as_deref(),
        Some(str_of(&flow, "user_code"))
    );
    chromium.click("button[type=submit]").await;
    chromium.wait_for_text("h1", "on your device").await;
    chromium.click("button[value=deny]").await;
    chromium.wait_for_text("h1", "Device not connected").await;
    let (status, body) = poll(&server, &tv, str_of(&flow, "device_code")).await;
    assert_error(status, &body, "access_denied", "denied in the browser");

    chromium.close().await;
    server.stop().await;
}

both_stores!(chromium_approves_and_denies);

/// The pages carry the defences of every page, the shared sign-in form refuses a wrong
/// password without spending the code, and nothing active gets in.
async fn pages_are_pages(db: TestDb) {
    let server = device_server(&db).await;
    let tv = device_client(&server, "<b>TV</b>").await;
    let flow = started(&server, &tv, "openid read").await;
    let b = browser();
    let response = b.get(server.url("/device")).send().await.unwrap();
    assert_page_defences(&response, "code page");
    let page = text(response).await;
    assert!(!page.contains("<script"), "{page}");
    let csrf = field(&page, "csrf_token").unwrap();
    let shown = str_of(&flow, "user_code");

    let response = post_form(
        &server,
        &b,
        "/device",
        &[("csrf_token", &csrf), ("user_code", shown)],
    )
    .await;
    assert_page_defences(&response, "sign-in page");
    let page = text(response).await;
    assert!(
        page.contains("&lt;b&gt;TV&lt;&#x2f;b&gt;"),
        "the client name is escaped: {page}"
    );
    let wrong = post_form(
        &server,
        &b,
        "/device/signin",
        &[
            ("csrf_token", &csrf),
            ("user_code", shown),
            ("username", "alice"),
            ("password", "wrong password"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 200);
    let page = text(wrong).await;
    assert!(
        page.contains("The username or password is not correct."),
        "{page}"
    );
    assert_eq!(
        field(&page, "user_code").as_deref(),
        Some(shown),
        "the code is kept"
    );

    let response = post_form(
        &server,
        &b,
        "/device/signin",
        &[
            ("csrf_token", &csrf),
            ("user_code", shown),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_page_defences(&response, "approval page");
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("portcullis_session=")),
        "a session starts"
    );
    let page = text(response).await;
    for words in [
        "Only allow this if you started it yourself",
        "Sign you in",
        shown,
        "alice",
    ] {
        assert!(
            page.contains(words),
            "approval page lacks {words:?}: {page}"
        );
    }
    // Signed in now: entering a code leads straight to the approval page.
    let flow2 = started(&server, &tv, "read").await;
    let response = post_form(
        &server,
        &b,
        "/device",
        &[
            ("csrf_token", &csrf),
            ("user_code", str_of(&flow2, "user_code")),
        ],
    )
    .await;
    assert!(
        text(response)
            .await
            .contains("action=\"&#x2f;device&#x2f;approve\"")
    );
    server.stop().await;
}

/// A user code is unique among live codes: an expired row with the same code is replaced, a
/// live one is not.
async fn user_codes_are_unique_among_live_codes(db: TestDb) {
    use portcullis::store::{DeviceCodeRow, DeviceCodeStatus};
    let server = device_server(&db).await;
    let tv = device_client(&server, "TV").await;
    let store = &server.state.store;
    let now = server.state.now();
    let row = |device: &str| DeviceCodeRow {
        device_code_hash: portcullis::secret::sha256_hex(device),
        user_code_hash: portcullis::oauth::user_code::digest("WDJBMJHT"),
        grant_id: device.into(),
        client_id: tv.id.clone(),
        scope: "read".into(),
        audience: "[]".into(),
        status: DeviceCodeStatus::Pending.as_str().into(),
        user_id: None,
        auth_time: None,
        poll_interval: 5,
        last_polled_at: None,
        slow_down: 0,
        issued_at: now,
        expires_at: now + 60,
        consumed_at: None,
    };
    assert!(store.insert_device_code(&row("first"), now).await.unwrap());
    assert!(
        !store
            .insert_device_code(&row("second"), now + 59)
            .await
            .unwrap(),
        "live"
    );
    let mut third = row("third");
    third.expires_at = now + 200;
    assert!(
        store.insert_device_code(&third, now + 60).await.unwrap(),
        "the first expired"
    );
    let found = store
        .pending_device_code(&portcullis::oauth::user_code::digest("WDJBMJHT"), now + 61)
        .await
        .unwrap()
        .expect("the third");
    assert_eq!(found.grant_id, "third");
    server.stop().await;
}

both_stores!(pages_are_pages, user_codes_are_unique_among_live_codes);
