//! Two server processes on one Postgres database, as behind a load balancer: every flow starts
//! on one node and finishes on the other. Nodes share nothing but the database (and the
//! configuration), so whatever one node issues, remembers or revokes, the other must see.
//!
//! Postgres only (SQLite is one node's file); skipped loudly without
//! `PORTCULLIS_TEST_POSTGRES_URL`, like every Postgres test.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

use crate::fixtures::{ACCESS_TOKEN_TYPE, DEVICE_GRANT, PASSWORD, TOKEN_EXCHANGE};
use crate::flows::{decide_device, pkce, refresh, str_of, submit_consent, submit_sign_in};
use crate::harness::client_form;
use crate::harness::{Backend, jwks_kids, jwt_claims, jwt_header, send};
use crate::node::{
    API_A, API_B, Browser, ISSUER, LEDGER, Node, authorize_url, code_of, node_env, redeem, set,
    world,
};

/// `keys.reload_interval` in these tests: the longest a node may take to see a rotation.
const RELOAD_INTERVAL: u64 = 1;

async fn two_nodes(test: &str) -> Option<(crate::harness::TestDb, Node, Node)> {
    let db = Backend::Postgres.db(test).await?;
    let mut env = node_env(&db, ISSUER);
    set(&mut env, "PORTCULLIS_KEYS_RELOAD_INTERVAL", RELOAD_INTERVAL);
    set(&mut env, "PORTCULLIS_DEVICE_INTERVAL", 1);
    // Both start at once on the empty database: migrations and first keys race as well.
    let (a, b) = tokio::join!(Node::start(&env), Node::start(&env));
    // Each may have generated first keys the other has not loaded yet: within the reload
    // interval they publish (and verify with) the same set. Tokens cross nodes from then on.
    agreed_jwks(&a, &b).await;
    Some((db, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_flows_cross_nodes() {
    let Some((_db, a, b)) = two_nodes("user_flows_cross_nodes").await else {
        return;
    };
    let w = world(&a).await;

    // Code + PKCE: /authorize, sign-in and consent on A; the code redeemed on B.
    let browser = Browser::new();
    let p = pkce();
    let page = browser
        .get(&authorize_url(
            &a,
            &w,
            &p,
            "openid profile offline_access",
            &[],
        ))
        .await;
    assert_eq!(page.status(), 200);
    let consent_page =
        submit_sign_in(&a, &browser.http, &page.text().await.unwrap(), PASSWORD).await;
    assert_eq!(consent_page.status(), 200);
    let done = submit_consent(
        &a,
        &browser.http,
        &consent_page.text().await.unwrap(),
        "allow",
    )
    .await;
    let code = code_of(&done);
    let (status, tokens) = redeem(&b, &w, &code, &p).await;
    assert_eq!(status, 200, "{tokens}");
    // Refresh on A; userinfo on B with the new access token.
    let (status, refreshed) = refresh(&a, &w.web, str_of(&tokens, "refresh_token"), &[]).await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, me) = send(
        b.get("/userinfo")
            .bearer_auth(str_of(&refreshed, "access_token")),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sub"], jwt_claims(str_of(&refreshed, "id_token"))["sub"]);

    // The session and the consent made on A count on B: a new request there needs neither
    // the sign-in page nor the consent page.
    let p2 = pkce();
    let again = browser
        .get(&authorize_url(&b, &w, &p2, "openid profile", &[]))
        .await;
    let code2 = code_of(&again);
    let (status, body) = redeem(&a, &w, &code2, &p2).await;
    assert_eq!(status, 200, "{body}");
    // Single use holds across nodes: B refuses the code A took (and revokes its grant).
    let (status, replay) = redeem(&b, &w, &code2, &p2).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = send(
        a.get("/userinfo")
            .bearer_auth(str_of(&body, "access_token")),
    )
    .await;
    assert_eq!(status, 401, "the grant's access token died with it");

    // Device flow: authorization on A, the user's pages on B, the poll on A.
    let (status, started) = send(client_form(
        a.post("/device_authorization"),
        &w.tv,
        &[("scope", "openid offline_access a.read")],
    ))
    .await;
    assert_eq!(status, 200, "{started}");
    let (status, _) = decide_device(&b, str_of(&started, "user_code"), "allow").await;
    assert_eq!(status, 200);
    let (status, device_tokens) = a
        .token(
            &w.tv,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", str_of(&started, "device_code")),
            ],
        )
        .await;
    assert_eq!(status, 200, "{device_tokens}");
    let (status, me) = send(
        b.get("/userinfo")
            .bearer_auth(str_of(&device_tokens, "access_token")),
    )
    .await;
    assert_eq!(status, 200, "{me}");

    // Logout on A ends the session everywhere: B, shown the same session cookie, asks the
    // user to sign in again.
    let kept = browser.copy(&a);
    let out = browser.get(&a.url("/logout")).await;
    assert!(out.status().is_success(), "{}", out.status());
    let p3 = pkce();
    let after = kept
        .get(&authorize_url(&b, &w, &p3, "openid profile", &[]))
        .await;
    assert_eq!(after.status(), 200, "the sign-in page, not a code");
    let html = after.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");

    a.assert_no_panic();
    b.assert_no_panic();
}

/// The kids both nodes publish, once they agree (each reloads every `RELOAD_INTERVAL`).
async fn agreed_jwks(a: &Node, b: &Node) -> Vec<String> {
    let started = Instant::now();
    loop {
        let (on_a, on_b) = (jwks_kids(&a.jwks().await), jwks_kids(&b.jwks().await));
        if on_a == on_b {
            return on_a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2 * RELOAD_INTERVAL + 2),
            "the nodes publish different keys: {on_a:?} and {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_cross_nodes() {
    let Some((_db, a, b)) = two_nodes("tokens_and_keys_cross_nodes").await else {
        return;
    };
    let w = world(&b).await;

    // Client credentials on A, introspected on B; revoked on A, inactive on B within
    // `tokens.revocation_cache_ttl` (1 s: B's copy of the deny-list answer; the deny-list and
    // the opaque rows are in the database, not in a node's memory).
    for resource in [LEDGER, API_A] {
        let (status, issued) = a
            .token(
                &w.service,
                &[("grant_type", "client_credentials"), ("resource", resource)],
            )
            .await;
        assert_eq!(status, 200, "{issued}");
        let token = str_of(&issued, "access_token");
        let (_, info) = b.introspect(&w.service, token).await;
        assert_eq!(info["active"], true, "{resource}: {info}");
        let (status, _) = send(client_form(
            a.post("/revoke"),
            &w.service,
            &[("token", token)],
        ))
        .await;
        assert_eq!(status, 200);
        let revoked_at = Instant::now();
        loop {
            let (_, info) = b.introspect(&w.service, token).await;
            if info == json!({ "active": false }) {
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_millis(2_500),
                "{resource}: still active on B after the bound: {info}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Token exchange across nodes: a token for API A issued on A, exchanged by API A on B
    // for API B, and read by API B on A.
    let (status, issued) = a
        .token(
            &w.service,
            &[("grant_type", "client_credentials"), ("resource", API_A)],
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let (status, exchanged) = b
        .token(
            &w.api_a,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", str_of(&issued, "access_token")),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", API_B),
            ],
        )
        .await;
    assert_eq!(status, 200, "{exchanged}");
    let (_, info) = a
        .introspect(&w.api_b, str_of(&exchanged, "access_token"))
        .await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["act"], json!({ "sub": w.api_a.id }));

    // Key rotation through A's admin API: B publishes the new keys within
    // `keys.reload_interval`, and verifies what A signs with them.
    // Both nodes generated first keys at once; within the reload interval they publish the
    // same set.
    let before = agreed_jwks(&a, &b).await;
    let (status, rotated) = a
        .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let on_a = jwks_kids(&a.jwks().await);
    let new: Vec<String> = on_a
        .iter()
        .filter(|k| !before.contains(k))
        .cloned()
        .collect();
    assert_eq!(new.len(), 1, "one new ES256 key: {on_a:?} after {before:?}");
    let rotated_at = Instant::now();
    let bound = Duration::from_secs(RELOAD_INTERVAL) + Duration::from_millis(1500);
    let jwks_b = loop {
        let jwks = b.jwks().await;
        if jwks_kids(&jwks).contains(&new[0]) {
            break jwks;
        }
        assert!(
            rotated_at.elapsed() < bound,
            "B did not publish {} within {bound:?}",
            new[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, issued) = a
        .token(
            &w.service,
            &[("grant_type", "client_credentials"), ("resource", API_A)],
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let token = str_of(&issued, "access_token");
    assert_eq!(
        jwt_header(token)["kid"],
        new[0].as_str(),
        "A signs with the new key"
    );
    let (_, info) = b.introspect(&w.service, token).await;
    assert_eq!(info["active"], true, "B verifies the new key: {info}");
    // And a relying party holding only B's JWKS verifies it too.
    let set: JwkSet = serde_json::from_value(jwks_b).expect("JWK set");
    let key = DecodingKey::from_jwk(set.find(&new[0]).expect("published")).expect("key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[API_A]);
    validation.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies with B's JWKS");

    a.assert_no_panic();
    b.assert_no_panic();
}
