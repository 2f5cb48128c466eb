//! Races over real HTTP: the same single-use thing presented by many
//! requests at once. Each test spawns its requests, holds them at a barrier, and releases
//! them together; then it counts the winners (exactly one) and checks what the losers' replays
//! did to the winner's tokens. The last test has two nodes on one database rotating keys at
//! the same moment.
//!
//! What each test guards, and how it was seen to fail (ARCHITECTURE.md "Tests"):
//! the take `UPDATE … WHERE consumed_at IS NULL` (codes, refresh tokens, device codes), the
//! replay's `revoke_grant`, the one-statement `INSERT … ON CONFLICT DO NOTHING` of one-time ids
//! (`jti`, SAML `ID`), and the serialised key rotation.

use std::sync::Arc;

use portcullis::oauth::inspect::{Hint, inspect};
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::both_stores;
use crate::fixtures::{
    DEVICE_GRANT, REPORTS, alice, client_assertion_claims, confidential_client, device_client,
    jwks_of, jwt_bearer_claims, jwt_bearer_setup, private_key_jwt_client, resources,
    saml_bearer_setup, saml_encoded, saml_fixture,
};
use crate::flows::{
    API, assert_error, code, code_flow_tokens, decide_device, grant, is_active, kid_of, pkce,
    redirect_uri, refresh, started, str_of, token_request, verify_with_jwks,
};
use crate::harness::{EcKey, TestDb, TestServer, jwks_kids, send};

/// How many requests race for the one thing.
const RACERS: usize = 50;

/// Sends every request at once: each runs on its own task, and all wait at one barrier
/// before sending, so none starts before the last is ready. Answers in request order.
async fn fire(requests: Vec<RequestBuilder>) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                send(request).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("request task"));
    }
    answers
}

/// `RACERS` copies of one request, sent at once.
async fn fire_copies(make: impl Fn() -> RequestBuilder) -> Vec<(u16, Value)> {
    fire((0..RACERS).map(|_| make()).collect()).await
}

/// Exactly one answer is a 200; every other one is `status` with `error`. Returns the 200's body.
fn the_one_winner(answers: Vec<(u16, Value)>, status: u16, error: &str, what: &str) -> Value {
    at_most_one_winner(answers, status, error, what).unwrap_or_else(|| panic!("{what}: no winner"))
}

/// At most one answer is a 200; every other one is `status` with `error`.
fn at_most_one_winner(
    answers: Vec<(u16, Value)>,
    status: u16,
    error: &str,
    what: &str,
) -> Option<Value> {
    let mut winners = Vec::new();
    for (got, body) in answers {
        if got == 200 {
            winners.push(body);
        } else {
            assert_eq!(
                (got, body["error"].as_str()),
                (status, Some(error)),
                "{what}: a loser: {body}"
            );
        }
    }
    assert!(winners.len() <= 1, "{what}: winners {winners:#?}");
    winners.pop()
}

/// RFC 6749 §4.1.2 / RFC 9700 §4.5: one code, `RACERS` redemptions at once (with PKCE). One
/// gets tokens; the others are replays, so the grant is revoked and the winner's access token
/// (a JWT, and in the second round an opaque one) and refresh token die with it.
async fn one_code_redeemed_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let redirect = redirect_uri(&web);
    for (scope, audience) in [("openid offline_access", None), ("report", Some(REPORTS))] {
        let p = pkce();
        let mut g = grant(&server, &web, scope, Some(&p));
        g.audience = audience.into_iter().map(str::to_string).collect();
        let code = code(&server, g).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", p.verifier.as_str()),
        ];
        let answers = fire_copies(|| token_request(&server, &web, &form)).await;
        let winner = the_one_winner(answers, 400, "invalid_grant", scope);
        let (access, refresh_token) = (
            str_of(&winner, "access_token"),
            str_of(&winner, "refresh_token"),
        );
        assert!(!is_active(&server, &web, access).await, "{scope}: access");
        assert!(
            !is_active(&server, &web, refresh_token).await,
            "{scope}: refresh"
        );
        let (status, body) = refresh(&server, &web, refresh_token, &[]).await;
        assert_error(status, &body, "invalid_grant", "the winner's refresh token");
    }
    server.stop().await;
}

/// RFC 9700 §4.14.2: one refresh token, `RACERS` refreshes at once. At most one rotation
/// wins; the others are reuse, which revokes the family: the winner's new refresh and access
/// tokens too, and the tokens of the first sign-in. (No winner at all is as right: the take's
/// winner checks the deny-list after its take, and a reuse may have revoked the grant by then.)
async fn one_refresh_token_rotated_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", r1)];
    let answers = fire_copies(|| token_request(&server, &web, &form)).await;
    let mut dead = vec![r1.to_string(), str_of(&first, "access_token").to_string()];
    if let Some(winner) = at_most_one_winner(answers, 400, "invalid_grant", "refresh") {
        let r2 = str_of(&winner, "refresh_token");
        assert_ne!(r1, r2);
        let (status, body) = refresh(&server, &web, r2, &[]).await;
        assert_error(status, &body, "invalid_grant", "the winner's refresh token");
        dead.extend([r2.to_string(), str_of(&winner, "access_token").to_string()]);
    }
    for token in &dead {
        assert!(!is_active(&server, &web, token).await, "{token}");
    }
    server.stop().await;
}

/// RFC 8628 §3.5: after approval, `RACERS` polls of one device code at once. One gets tokens;
/// the others are polls after the take, which this server treats as a replayed code
/// (`invalid_grant`, the grant revoked: ARCHITECTURE.md "Device flow"), so no second token
/// set exists and the first is dead too.
async fn one_device_code_polled_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    alice().create(&server).await;
    let tv = device_client(&server, "Living-room TV").await;
    let flow = started(&server, &tv, "openid offline_access").await;
    let device_code = str_of(&flow, "device_code");
    let (status, page) = decide_device(&server, str_of(&flow, "user_code"), "allow").await;
    assert_eq!(status, 200, "{page}");
    let form = [("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    let answers = fire_copies(|| token_request(&server, &tv, &form)).await;
    let winner = the_one_winner(answers, 400, "invalid_grant", "device poll");
    // The TV is a public client and may not introspect: ask the reader introspection uses.
    let now = server.state.now();
    for name in ["access_token", "refresh_token"] {
        let found = inspect(&server.state, str_of(&winner, name), Hint::None, now)
            .await
            .expect("inspect");
        assert!(found.is_none(), "the winner's {name} is still active");
    }
    let (status, _) = send(
        server
            .get("/userinfo")
            .bearer_auth(str_of(&winner, "access_token")),
    )
    .await;
    assert_eq!(status, 401, "the winner's access token at userinfo");
    let (status, body) = refresh(&server, &tv, str_of(&winner, "refresh_token"), &[]).await;
    assert_error(status, &body, "invalid_grant", "the winner's refresh token");
    server.stop().await;
}

/// RFC 7523 §3 item 7: one JWT bearer assertion (one `jti`) presented `RACERS` times at once.
async fn one_jwt_bearer_jti_at_once(db: TestDb) {
    let setup = jwt_bearer_setup(&db, "username").await;
    let (server, client) = (&setup.server, &setup.client);
    let assertion = setup.key.sign(&jwt_bearer_claims(server, "alice"));
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.as_str()),
    ];
    let answers = fire_copies(|| {
        server
            .post("/token")
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&form)
    })
    .await;
    let winner = the_one_winner(answers, 400, "invalid_grant", "jwt bearer");
    assert!(is_active(server, client, str_of(&winner, "access_token")).await);
    setup.server.stop().await;
}

/// RFC 7523 §3 item 7 for client authentication: one `private_key_jwt` assertion presented
/// `RACERS` times at once authenticates once; the rest are `invalid_client`.
async fn one_client_assertion_jti_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let key = EcKey::generate("client-key-1");
    let client = private_key_jwt_client(&server, jwks_of(&[&key])).await;
    let assertion = key.sign(&client_assertion_claims(
        &client,
        &server.url("/token"),
        server.state.now(),
    ));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let answers = fire_copies(|| server.post("/token").form(&form)).await;
    the_one_winner(answers, 401, "invalid_client", "client assertion");
    server.stop().await;
}

/// RFC 7522 §3 item 9: one signed SAML assertion (one `ID`) presented `RACERS` times at once.
async fn one_saml_assertion_id_at_once(db: TestDb) {
    let setup = saml_bearer_setup(&db).await;
    let (server, client) = (&setup.server, &setup.client);
    let assertion = saml_encoded(&saml_fixture("valid.xml"));
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:saml2-bearer",
        ),
        ("assertion", assertion.as_str()),
    ];
    let answers = fire_copies(|| {
        server
            .post("/token")
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&form)
    })
    .await;
    let winner = the_one_winner(answers, 400, "invalid_grant", "saml bearer");
    assert_eq!(winner["scope"], "read", "{winner}");
    setup.server.stop().await;
}

/// Two nodes on one database rotate their keys at the same moment, several rounds of
/// `PER_NODE` rotations on each node at once (most rounds ES256 alone, whose keys are made
/// fastest, so the transactions overlap most).
/// Afterwards, once both have reloaded: the same JWKS on both, every key either rotation made
/// still published, per algorithm exactly one key signing and every other one on its way out
/// (`publish_until` set), and a token of either node good on the other, by introspection and
/// by the other's JWKS.
async fn two_nodes_rotate_keys_at_once(db: TestDb) {
    const ISSUER: &str = "https://id.example.test";
    let shared = |c: &mut portcullis::config::Config| c.issuer = Some(ISSUER.into());
    let a = TestServer::start_with(&db, shared).await;
    let b = TestServer::start_with(&db, shared).await;
    let client = a.service_client(API, "read").await;
    let rounds: [&[&str]; 6] = [
        &["ES256"],
        &["ES256"],
        &["ES256"],
        &[],
        &["ES256"],
        &["ES256", "RS256", "EdDSA"],
    ];
    const PER_NODE: usize = 3;
    let mut made = 3;
    for algs in rounds {
        let body = json!({ "algs": algs });
        let rotations = (0..PER_NODE)
            .flat_map(|_| [&a, &b])
            .map(|node| {
                node.admin(reqwest::Method::POST, "/keys/rotate")
                    .json(&body)
            })
            .collect();
        for (status, body) in fire(rotations).await {
            assert_eq!(status, 200, "{algs:?}: {body}");
        }
        made += 2 * PER_NODE * if algs.is_empty() { 3 } else { algs.len() };
    }
    a.reload_keys().await;
    b.reload_keys().await;

    let (jwks_a, jwks_b) = (a.jwks().await, b.jwks().await);
    assert_eq!(jwks_a, jwks_b, "both nodes publish the same JWKS");
    assert_eq!(jwks_kids(&jwks_a).len(), made, "{jwks_a}");
    let (status, listed) = a.admin_get("/keys").await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["keys"].as_array().expect("keys");
    for alg in ["ES256", "RS256", "EdDSA"] {
        let of_alg: Vec<&Value> = listed.iter().filter(|k| k["alg"] == alg).collect();
        let active: Vec<&Value> = of_alg
            .iter()
            .copied()
            .filter(|k| k["status"] == "active")
            .collect();
        assert_eq!(active.len(), 1, "{alg}: {of_alg:#?}");
        // A key that no longer signs must leave JWKS some day: only the signer has no end.
        let endless: Vec<&Value> = of_alg
            .iter()
            .copied()
            .filter(|k| k["publish_until"].is_null())
            .collect();
        assert_eq!(endless, active, "{alg}: keys without publish_until");
    }

    let (from_a, from_b) = (
        a.access_token(&client, &[]).await,
        b.access_token(&client, &[]).await,
    );
    assert_eq!(
        kid_of(&from_a),
        kid_of(&from_b),
        "both nodes sign with one key"
    );
    for (node, jwks, token) in [(&b, &jwks_b, &from_a), (&a, &jwks_a, &from_b)] {
        assert!(is_active(node, &client, token).await, "{token}");
        verify_with_jwks(jwks, token, ISSUER);
    }
    a.stop().await;
    b.stop().await;
}

both_stores!(
    one_code_redeemed_at_once,
    one_refresh_token_rotated_at_once,
    one_device_code_polled_at_once,
    one_jwt_bearer_jti_at_once,
    one_client_assertion_jti_at_once,
    one_saml_assertion_id_at_once,
    two_nodes_rotate_keys_at_once,
);
