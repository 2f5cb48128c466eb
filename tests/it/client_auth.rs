//! RFC 7523 §2.2 / §3 and OIDC Core §9 `private_key_jwt` client authentication at the token
//! endpoint: keys registered inline (`jwks`) or published by the client (`jwks_uri`).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{
    CLIENT_ASSERTION_TYPE, client_assertion_claims, jwks_of, private_key_jwt_client,
};
use crate::harness::{EcKey, TestDb, TestServer, assert_no_store, send_full};
use crate::parties::JwksHost;

/// A client credentials request authenticated by `assertion` alone (RFC 7523 §2.2: the
/// `client_id` parameter is optional).
pub async fn token_with(server: &TestServer, assertion: &str) -> (u16, Value) {
    let (status, headers, body) = send_full(server.post("/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]))
    .await;
    assert_no_store(&headers, "token response");
    (status, body)
}

fn assert_refused(answer: (u16, Value), what: &str) {
    let (status, body) = answer;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
}

async fn private_key_jwt_with_inline_jwks(db: TestDb) {
    let server = TestServer::start(&db).await;
    let key = EcKey::generate("client-key-1");
    let client = private_key_jwt_client(&server, jwks_of(&[&key])).await;
    let token_endpoint = server.url("/token");
    let now = server.state.now();

    // The token endpoint URL as audience, with client_id sent too.
    let (status, _, body) = send_full(server.post("/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client.id.as_str()),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        (
            "client_assertion",
            &key.sign(&client_assertion_claims(&client, &token_endpoint, now)),
        ),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // RFC 7523 §3 item 3: the issuer identifies the server as well.
    let (status, body) = token_with(
        &server,
        &key.sign(&client_assertion_claims(&client, &server.base, now)),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let with = |change: Value| {
        let mut c = client_assertion_claims(&client, &token_endpoint, now);
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let max = server.state.config.tokens.client_assertion_max_lifetime as i64;
    // An assertion living exactly the configured maximum is fine.
    let (status, body) = token_with(&server, &key.sign(&with(json!({ "exp": now + max })))).await;
    assert_eq!(status, 200, "{body}");
    let other_key = EcKey::generate("client-key-1");
    let refusals = [
        (
            "audience of another server",
            key.sign(&with(json!({ "aud": "https://other.example.com/token" }))),
        ),
        (
            "expired",
            key.sign(&with(json!({ "iat": now - 600, "exp": now - 300 }))),
        ),
        (
            "lives longer than client_assertion_max_lifetime",
            key.sign(&with(json!({ "exp": now + max + 120 }))),
        ),
        (
            "issued in the future",
            key.sign(&with(json!({ "iat": now + 120, "exp": now + 180 }))),
        ),
        (
            "iss is not the client",
            key.sign(&with(json!({ "iss": "someone-else" }))),
        ),
        ("no jti", key.sign(&with(json!({ "jti": null })))),
        (
            "signed by another key under the registered kid",
            other_key.sign(&client_assertion_claims(&client, &token_endpoint, now)),
        ),
        (
            "HS256 (a symmetric alg, keyed with the public JWK's x)",
            jsonwebtoken::encode(
                &Header {
                    kid: Some(key.kid.clone()),
                    ..Header::new(Algorithm::HS256)
                },
                &client_assertion_claims(&client, &token_endpoint, now),
                &EncodingKey::from_secret(key.jwk()["x"].as_str().unwrap().as_bytes()),
            )
            .unwrap(),
        ),
        ("not a JWT", "not.a.jwt".to_string()),
    ];
    for (what, assertion) in &refusals {
        assert_refused(token_with(&server, assertion).await, what);
    }

    // RFC 7523 §2.2: the assertion type must be exactly the JWT bearer type.
    let (status, _, body) = send_full(server.post("/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:other"),
        (
            "client_assertion",
            &key.sign(&client_assertion_claims(&client, &token_endpoint, now)),
        ),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // RFC 7523 §3 item 7: a jti is accepted once.
    let assertion = key.sign(&client_assertion_claims(&client, &token_endpoint, now));
    let (status, body) = token_with(&server, &assertion).await;
    assert_eq!(status, 200, "{body}");
    assert_refused(token_with(&server, &assertion).await, "replayed jti");

    // Expiry by the server's clock: valid now, not once the server is past exp + leeway.
    let assertion = key.sign(&client_assertion_claims(
        &client,
        &token_endpoint,
        server.state.now(),
    ));
    server.state.clock.advance(120);
    assert_refused(
        token_with(&server, &assertion).await,
        "expired by the clock",
    );
    // A fresh assertion at the new time works.
    let (status, body) = token_with(
        &server,
        &key.sign(&client_assertion_claims(
            &client,
            &token_endpoint,
            server.state.now(),
        )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn private_key_jwt_with_jwks_uri(db: TestDb) {
    let server = TestServer::start(&db).await;
    let old = EcKey::generate("2025-old");
    let new = EcKey::generate("2026-new");
    let host = JwksHost::start(jwks_of(&[&old])).await;
    let client = private_key_jwt_client(&server, json!(host.url)).await;
    let token_endpoint = server.url("/token");
    let assert_with = |key: &EcKey| {
        key.sign(&client_assertion_claims(
            &client,
            &token_endpoint,
            server.state.now(),
        ))
    };

    let (status, body) = token_with(&server, &assert_with(&old)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_with(&server, &assert_with(&old)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(host.fetches(), 1, "the key set is cached");

    // The client rotates: only the new key is published now.
    host.publish(jwks_of(&[&new]));
    // Right after a fetch, an unknown kid does not make the server fetch again (a client, or
    // anyone naming it, cannot turn the server into a fetch loop)…
    assert_refused(
        token_with(&server, &assert_with(&new)).await,
        "unknown kid within the re-fetch interval",
    );
    assert_eq!(host.fetches(), 1);
    // …but a little later it does, and the new key works.
    server.state.clock.advance(11);
    let (status, body) = token_with(&server, &assert_with(&new)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(host.fetches(), 2);
    // The retired key is gone from the set, so its assertions no longer authenticate.
    assert_refused(token_with(&server, &assert_with(&old)).await, "retired key");
    server.stop().await;
}

both_stores!(
    private_key_jwt_with_inline_jwks,
    private_key_jwt_with_jwks_uri,
);
