//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, OIDC Core §3.1.2) driven like a browser:
//! cookies kept, redirects not followed, hidden fields read out of the pages.

use serde_json::json;

use crate::both_stores;
use crate::fixtures::{
    NONCE, PASSWORD, Registration, SPA_CB, alice, confidential_client, resources, spa_with_alice,
};
use crate::flows::{
    assert_page_defences, authorize_query, browser, exchange, field, get_authorize, location,
    param, pkce, post_form, spa_request, submit_consent, submit_sign_in,
};
use crate::harness::{TestDb, TestServer, count, jwt_claims};

async fn full_flow_with_sign_in_and_consent(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    let page = get_authorize(&server, &b, &spa_request(&client, &p, &[])).await;
    assert_eq!(page.status(), 200);
    assert_page_defences(&page, "sign-in");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("browser app"), "{html}");

    // A wrong password: the same page, a generic message.
    let wrong = submit_sign_in(&server, &b, &html, "not the password").await;
    assert_eq!(wrong.status(), 200);
    let wrong_html = wrong.text().await.unwrap();
    assert!(wrong_html.contains("The username or password is not correct."));

    let consent = submit_sign_in(&server, &b, &wrong_html, PASSWORD).await;
    assert_eq!(consent.status(), 200);
    assert_page_defences(&consent, "consent");
    let consent_html = consent.text().await.unwrap();
    assert!(
        consent_html.contains("See your basic profile"),
        "{consent_html}"
    );

    let done = submit_consent(&server, &b, &consent_html, "allow").await;
    assert_eq!(done.status(), 302);
    let (base, q) = location(&done);
    assert_eq!(base, SPA_CB);
    assert_eq!(param(&q, "state"), Some("xyz-state"));
    assert_eq!(param(&q, "iss"), Some(server.base.as_str()));
    let code = param(&q, "code").expect("code").to_string();
    // The request is finished: its forms cannot be sent again.
    let replay = submit_consent(&server, &b, &consent_html, "allow").await;
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());

    let (status, tokens) = exchange(&server, &client, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    let id = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["nonce"], NONCE);
    assert_eq!(id["aud"], client.id);

    // Again for a subset of the scopes: the session and the remembered consent skip both pages,
    // and the request is answered without being stored (nothing to resume).
    let pending = "SELECT COUNT(*) FROM authorization_requests";
    let stored_before = count(&server.state.store, pending).await;
    let p2 = pkce();
    let again = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p2, &[("scope", "openid read")]),
    )
    .await;
    assert_eq!(again.status(), 302);
    let (_, q) = location(&again);
    assert!(param(&q, "code").is_some(), "{q:?}");
    assert_eq!(count(&server.state.store, pending).await, stored_before);

    // prompt=consent asks again; Deny answers access_denied.
    let asked = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p2, &[("prompt", "consent")]),
    )
    .await;
    assert_eq!(asked.status(), 200);
    let asked_html = asked.text().await.unwrap();
    assert!(asked_html.contains("decision"), "{asked_html}");
    let denied = submit_consent(&server, &b, &asked_html, "deny").await;
    assert_eq!(denied.status(), 302);
    let (_, q) = location(&denied);
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("xyz-state"));
    assert_eq!(param(&q, "iss"), Some(server.base.as_str()));

    // prompt=login shows the sign-in page even with a session.
    let login = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p2, &[("prompt", "login")]),
    )
    .await;
    assert_eq!(login.status(), 200);
    let login_html = login.text().await.unwrap();
    assert!(login_html.contains("password"), "{login_html}");
    let after = submit_sign_in(&server, &b, &login_html, PASSWORD).await;
    assert_eq!(after.status(), 302, "consent is remembered");
    let (_, q) = location(&after);
    assert!(param(&q, "code").is_some(), "{q:?}");

    // prompt=none when a scope was never granted: consent_required, no page.
    let silent = get_authorize(
        &server,
        &b,
        &spa_request(
            &client,
            &p2,
            &[("prompt", "none"), ("scope", "openid offline_access")],
        ),
    )
    .await;
    assert_eq!(silent.status(), 302);
    let (_, q) = location(&silent);
    assert_eq!(param(&q, "error"), Some("consent_required"));
    server.stop().await;
}

async fn sign_in_is_throttled(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.throttle.account_free_attempts = 1).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    // The request may also come as a form (OIDC Core §3.1.2.1).
    let page = b
        .post(server.url("/authorize"))
        .form(&spa_request(&client, &p, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let mut html = page.text().await.unwrap();
    for _ in 0..2 {
        let wrong = submit_sign_in(&server, &b, &html, "not the password").await;
        assert_eq!(wrong.status(), 200);
        html = wrong.text().await.unwrap();
    }
    let blocked = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    assert_page_defences(&blocked, "throttled sign-in");
    let text = blocked.text().await.unwrap();
    assert!(text.contains("Too many attempts; try again in"), "{text}");
    server.stop().await;
}

async fn client_and_redirect_errors_never_redirect(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "unknown client",
            spa_request(&client, &p, &[("client_id", "no-such-client")]),
        ),
        (
            "mismatched redirect_uri",
            spa_request(&client, &p, &[("redirect_uri", "https://evil.example/cb")]),
        ),
        (
            "a port on a non-loopback URI",
            spa_request(
                &client,
                &p,
                &[("redirect_uri", "https://app.example.com:8443/cb")],
            ),
        ),
        (
            "repeated parameter",
            [
                spa_request(&client, &p, &[]),
                vec![("state".into(), "two".into())],
            ]
            .concat(),
        ),
    ];
    for (what, query) in cases {
        let response = get_authorize(&server, &b, &query).await;
        assert_eq!(response.status(), 400, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
        assert_page_defences(&response, what);
        let html = response.text().await.unwrap();
        assert!(html.contains("This request is not valid"), "{what}: {html}");
    }
    server.stop().await;
}

/// Parameters a case adds to (or, with "", removes from) the request.
type Extra = &'static [(&'static str, &'static str)];

async fn errors_after_verification_redirect_with_state_and_iss(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    let cases: Vec<(&str, Extra, &str)> = vec![
        (
            "no PKCE",
            &[("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            "plain PKCE",
            &[("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "implicit",
            &[("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "id_token",
            &[("response_type", "id_token")],
            "unsupported_response_type",
        ),
        (
            "unknown scope",
            &[("scope", "openid admin")],
            "invalid_scope",
        ),
        (
            "foreign resource",
            &[("resource", "https://other.example.com")],
            "invalid_target",
        ),
        (
            "prompt=none without a session",
            &[("prompt", "none")],
            "login_required",
        ),
        (
            "bad response_mode",
            &[("response_mode", "jwt")],
            "invalid_request",
        ),
    ];
    for (what, extra, error) in cases {
        let response = get_authorize(&server, &b, &spa_request(&client, &p, extra)).await;
        assert_eq!(response.status(), 302, "{what}");
        let (base, q) = location(&response);
        assert_eq!(base, SPA_CB, "{what}");
        assert_eq!(param(&q, "error"), Some(error), "{what}: {q:?}");
        assert!(param(&q, "error_description").is_some(), "{what}");
        assert_eq!(param(&q, "state"), Some("xyz-state"), "{what}");
        assert_eq!(param(&q, "iss"), Some(server.base.as_str()), "{what}");
    }

    // A service client has no code grant: unauthorized_client, at its only redirect URI.
    let service = Registration::new("cron", "service")
        .redirect_uris(&["https://svc.example.com/cb"])
        .register(&server)
        .await;
    let response = get_authorize(
        &server,
        &b,
        &[
            ("response_type".into(), "code".into()),
            ("client_id".into(), service.id.clone()),
            ("scope".into(), "openid".into()),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
    let (base, q) = location(&response);
    assert_eq!(base, "https://svc.example.com/cb");
    assert_eq!(param(&q, "error"), Some("unauthorized_client"));
    server.stop().await;
}

async fn native_loopback_port_may_differ(db: TestDb) {
    let server = TestServer::start(&db).await;
    alice().create(&server).await;
    let native = Registration::new("desktop app", "native")
        .redirect_uris(&["http://127.0.0.1/callback"])
        .scope("openid")
        .register(&server)
        .await;
    let b = browser();
    let p = pkce();
    let request = |redirect: &str| -> Vec<(String, String)> {
        authorize_query(
            &[
                ("response_type", "code"),
                ("client_id", native.id.as_str()),
                ("redirect_uri", redirect),
                ("scope", "openid"),
                ("code_challenge", p.challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
            &[],
        )
    };
    let ok = get_authorize(&server, &b, &request("http://127.0.0.1:51234/callback")).await;
    assert_eq!(ok.status(), 200, "sign-in page");
    let csp = ok.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("http://127.0.0.1:51234"), "{csp}");
    for bad in [
        "http://127.0.0.1:51234/other",
        "http://localhost:51234/callback",
        "https://127.0.0.1:51234/callback",
    ] {
        let r = get_authorize(&server, &b, &request(bad)).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none(), "{bad}");
    }
    server.stop().await;
}

async fn form_post_and_csrf(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    let page = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p, &[("response_mode", "form_post")]),
    )
    .await;
    let html = page.text().await.unwrap();

    // Without the CSRF token the form is refused.
    let id = field(&html, "request_id").unwrap();
    let refused = post_form(
        &server,
        &b,
        "/authorize/signin",
        &[
            ("request_id", &id),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_page_defences(&refused, "csrf refusal");

    let consent = submit_sign_in(&server, &b, &html, PASSWORD).await;
    let consent_html = consent.text().await.unwrap();
    let done = submit_consent(&server, &b, &consent_html, "allow").await;
    assert_eq!(done.status(), 200);
    assert_page_defences(&done, "form_post");
    let csp = done.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    let body = done.text().await.unwrap();
    assert!(body.contains(&format!("action=\"{SPA_CB}\"")), "{body}");
    assert!(field(&body, "code").is_some(), "{body}");
    assert_eq!(field(&body, "state").as_deref(), Some("xyz-state"));
    assert!(body.contains("Continue"));
    server.stop().await;
}

async fn first_party_skips_consent_and_prompt_none_works(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    alice().create(&server).await;
    let web = confidential_client(&server, "intranet", json!({ "first_party": true })).await;
    let b = browser();
    let redirect = web.registration["redirect_uris"][0]
        .as_str()
        .unwrap()
        .to_string();
    let p = pkce();
    let query = authorize_query(
        &[
            ("response_type", "code"),
            ("client_id", web.id.as_str()),
            ("scope", "openid read"),
            ("state", "s1"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
    let page = get_authorize(&server, &b, &query).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let done = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(done.status(), 302, "first-party: no consent page");
    let (base, q) = location(&done);
    assert_eq!(base, redirect);
    let code = param(&q, "code").unwrap().to_string();
    let (status, tokens) = exchange(&server, &web, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");

    // prompt=none with a session: a code without any page.
    let mut silent = query.clone();
    silent.push(("prompt".into(), "none".into()));
    let r = get_authorize(&server, &b, &silent).await;
    assert_eq!(r.status(), 302);
    let (_, q) = location(&r);
    assert!(param(&q, "code").is_some(), "{q:?}");
    server.stop().await;
}

async fn max_age_and_request_expiry(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    // A pending request lives ten minutes.
    let page = get_authorize(&server, &b, &spa_request(&client, &p, &[])).await;
    let html = page.text().await.unwrap();
    server.state.clock.advance(601);
    let late = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(late.status(), 400);
    assert!(late.headers().get("location").is_none());

    let page = get_authorize(&server, &b, &spa_request(&client, &p, &[])).await;
    let html = page.text().await.unwrap();
    let consent = submit_sign_in(&server, &b, &html, PASSWORD).await;
    let consent_html = consent.text().await.unwrap();
    assert_eq!(
        submit_consent(&server, &b, &consent_html, "allow")
            .await
            .status(),
        302
    );

    // OIDC Core §3.1.2.1: max_age older than the last sign-in asks again.
    server.state.clock.advance(120);
    let stale = get_authorize(&server, &b, &spa_request(&client, &p, &[("max_age", "60")])).await;
    assert_eq!(stale.status(), 200);
    assert!(stale.text().await.unwrap().contains("name=\"password\""));
    let fresh_enough = get_authorize(
        &server,
        &b,
        &spa_request(&client, &p, &[("max_age", "3600")]),
    )
    .await;
    assert_eq!(fresh_enough.status(), 302);
    let (_, q) = location(&fresh_enough);
    let code = param(&q, "code").expect("code").to_string();
    let (status, tokens) = exchange(&server, &client, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert!(id["auth_time"].as_i64().unwrap() <= server.state.now() - 120);
    server.stop().await;
}

both_stores!(
    max_age_and_request_expiry,
    full_flow_with_sign_in_and_consent,
    client_and_redirect_errors_never_redirect,
    errors_after_verification_redirect_with_state_and_iss,
    native_loopback_port_may_differ,
    form_post_and_csrf,
    first_party_skips_consent_and_prompt_none_works,
    sign_in_is_throttled,
);
