//! The token side of the authorization code flow (RFC 6749 §4.1.3) with PKCE (RFC 7636) and
//! OpenID Connect ID tokens (OIDC Core §3.1.3). The authorization endpoint is not built yet,
//! so codes come from `issue_code`, the function it will call.

use jsonwebtoken::Algorithm;
use portcullis::config::SigningAlg;
use portcullis::grants::authorization_code::issue_code;
use portcullis::secret::{random_token, sha256_hex};
use portcullis::store::CodeRow;
use serde_json::json;

use crate::both_stores;
use crate::fixtures::{
    NONCE, ORDERS, REPORTS, USER, confidential_client, public_spa_client, resources,
};
use crate::flows::{
    assert_error, code, code_flow_tokens, exchange, grant, is_active, pkce, redirect_uri, token,
    token_request, validate_id_token,
};
use crate::harness::{Client, TestDb, TestServer, assert_no_store, jwt_claims, send, send_full};

async fn web_app_exchanges_a_code_for_tokens(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;

    // OpenID sign-in with offline access: access, ID and refresh tokens, never cached.
    let p = pkce();
    let code = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let redirect = redirect_uri(&web);
    let (status, headers, body) = send_full(token_request(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &p.verifier),
        ],
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers, "code exchange");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid offline_access");
    assert!(body["refresh_token"].as_str().is_some(), "{body}");
    let id = validate_id_token(&server, &web, &body, Some(NONCE), Algorithm::RS256).await;
    // With no API named, the access token is for this server itself (userinfo).
    let access = body["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["aud"], server.base);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["client_id"], web.id);
    assert_eq!(claims["auth_time"], id["auth_time"]);
    assert!(claims["grant_id"].as_str().is_some(), "{claims}");
    let (status, info) = server.introspect(&web, access).await;
    assert_eq!((status, &info["active"]), (200, &json!(true)), "{info}");
    assert_eq!(info["sub"], USER);

    // An API named at authorization: the access token is for it.
    let body = code_flow_tokens(&server, &web, "openid offline_access read", &[ORDERS]).await;
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );
    // OIDC Core §11: without offline_access an OpenID sign-in gets no refresh token…
    let body = code_flow_tokens(&server, &web, "openid", &[]).await;
    assert!(body["id_token"].is_string() && body["refresh_token"].is_null());
    // …plain OAuth (no openid) gets one and no ID token…
    let body = code_flow_tokens(&server, &web, "read", &[ORDERS]).await;
    assert!(body["id_token"].is_null() && body["refresh_token"].is_string());
    // …and a client not registered for refresh_token never does.
    let no_refresh = confidential_client(
        &server,
        "no refresh",
        json!({ "grant_types": ["authorization_code"] }),
    )
    .await;
    let body = code_flow_tokens(&server, &no_refresh, "openid offline_access", &[]).await;
    assert!(body["id_token"].is_string() && body["refresh_token"].is_null());
    server.stop().await;
}

async fn public_client_exchanges_a_code_with_pkce(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let spa = public_spa_client(&server).await;
    assert!(spa.secret.is_none());
    let body = code_flow_tokens(&server, &spa, "openid offline_access report", &[REPORTS]).await;
    validate_id_token(&server, &spa, &body, Some(NONCE), Algorithm::RS256).await;
    assert!(body["refresh_token"].is_string(), "{body}");
    // An opaque API: only a random reference comes back.
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 1);
    server.stop().await;
}

async fn id_token_algorithm_follows_config(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.tokens.id_token_alg = SigningAlg::EdDSA).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let body = code_flow_tokens(&server, &web, "openid", &[]).await;
    // EdDSA (Ed25519): at_hash is the left half of SHA-512.
    validate_id_token(&server, &web, &body, Some(NONCE), Algorithm::EdDSA).await;
    server.stop().await;
}

async fn code_exchange_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let other = confidential_client(&server, "other web app", json!({})).await;
    let spa = public_spa_client(&server).await;
    let lax = confidential_client(&server, "no pkce", json!({ "require_pkce": false })).await;
    let redirect = redirect_uri(&web);

    let p = pkce();
    let fresh = |client: &Client, with_pkce: bool| {
        let g = grant(&server, client, "openid", with_pkce.then_some(&p));
        code(&server, g)
    };

    // RFC 7636 §4.6: the verifier must match the challenge, and must be there.
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, Some(&pkce().verifier)).await;
    assert_error(s, &b, "invalid_grant", "wrong verifier");
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, None).await;
    assert_error(s, &b, "invalid_grant", "missing verifier");
    // RFC 7636 §4.1: a verifier too short to be one.
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, Some("short")).await;
    assert_error(s, &b, "invalid_grant", "malformed verifier");

    // RFC 9700 §4.8.2: a verifier for a code issued without a challenge (PKCE downgrade).
    let c = fresh(&lax, false).await;
    let (s, b) = exchange(&server, &lax, &c, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "verifier without challenge");
    // The same client may redeem such a code without one: it opted out of PKCE…
    let c = fresh(&lax, false).await;
    let (s, b) = exchange(&server, &lax, &c, None).await;
    assert_eq!(s, 200, "{b}");
    // …but clients that require PKCE, and public clients, may not.
    for client in [&web, &spa] {
        let c = fresh(client, false).await;
        let (s, b) = exchange(&server, client, &c, None).await;
        assert_error(s, &b, "invalid_grant", "code without PKCE");
    }

    // RFC 9700 §2.1.1: plain is refused when the code is issued…
    for method in [Some("plain"), None] {
        let mut g = grant(&server, &web, "openid", Some(&p));
        g.code_challenge_method = method.map(str::to_string);
        let e = issue_code(&server.state, g, server.state.now())
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_request", "{method:?}");
    }
    // …and when a plain code reaches the token endpoint all the same.
    let plain = random_token();
    let now = server.state.now();
    server
        .state
        .store
        .insert_code(&CodeRow {
            code_hash: sha256_hex(&plain),
            grant_id: uuid::Uuid::new_v4().to_string(),
            client_id: web.id.clone(),
            user_id: USER.into(),
            redirect_uri: redirect.clone(),
            scope: "openid".into(),
            audience: "[]".into(),
            nonce: None,
            code_challenge: Some(p.verifier.clone()),
            code_challenge_method: Some("plain".into()),
            auth_time: now,
            sid: None,
            acr: None,
            issued_at: now,
            expires_at: now + 60,
            consumed_at: None,
        })
        .await
        .unwrap();
    let (s, b) = exchange(&server, &web, &plain, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "plain method");

    // RFC 6749 §4.1.3: redirect_uri identical to the authorization request's.
    let c = fresh(&web, true).await;
    let wrong = format!("{redirect}/other");
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", &wrong),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_grant", "wrong redirect_uri");
    // RFC 6749 §4.1.3: the code belongs to the client it was issued to.
    let c = fresh(&web, true).await;
    let (s, b) = token(
        &server,
        &other,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", &redirect),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_grant", "another client's code");
    let (s, b) = exchange(&server, &web, "never-issued", Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "unknown code");
    // RFC 6749 §4.1.3: code and redirect_uri are required.
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_request", "missing code");
    let c = fresh(&web, true).await;
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_request", "missing redirect_uri");

    // RFC 6749 §4.1.2: the code expires shortly after it is issued.
    let c = fresh(&web, true).await;
    server
        .state
        .clock
        .advance(server.state.config.tokens.authorization_code_lifetime as i64 + 1);
    let (s, b) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "expired code");
    server.stop().await;
}

async fn replayed_code_revokes_its_grant(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    // One grant with a JWT access token, one with an opaque access token.
    for (scope, audience) in [("openid offline_access", None), ("report", Some(REPORTS))] {
        let p = pkce();
        let mut g = grant(&server, &web, scope, Some(&p));
        g.audience = audience.into_iter().map(str::to_string).collect();
        let code = code(&server, g).await;
        let (status, first) = exchange(&server, &web, &code, Some(&p.verifier)).await;
        assert_eq!(status, 200, "{first}");
        let access = first["access_token"].as_str().unwrap();
        let refresh = first["refresh_token"].as_str().unwrap();
        assert!(is_active(&server, &web, access).await);

        // RFC 6749 §4.1.2 / RFC 9700 §4.5: the replay fails and takes the grant with it.
        let (status, body) = exchange(&server, &web, &code, Some(&p.verifier)).await;
        assert_error(status, &body, "invalid_grant", scope);
        assert!(!is_active(&server, &web, access).await, "{scope}");
        assert!(!is_active(&server, &web, refresh).await, "{scope}");
        let (status, body) = token(
            &server,
            &web,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_error(status, &body, "invalid_grant", scope);
    }
    server.stop().await;
}

async fn concurrent_redemptions_have_one_winner(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let p = pkce();
    let code = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let redirect = redirect_uri(&web);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", p.verifier.as_str()),
    ];
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(send(token_request(&server, &web, &form))))
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status != 200 {
            assert_error(status, &body, "invalid_grant", "a losing redemption");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    server.stop().await;
}

both_stores!(
    web_app_exchanges_a_code_for_tokens,
    public_client_exchanges_a_code_with_pkce,
    id_token_algorithm_follows_config,
    code_exchange_errors,
    replayed_code_revokes_its_grant,
    concurrent_redemptions_have_one_winner,
);
