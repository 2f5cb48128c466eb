//! RFC 7523 §2.2 / §3 and OIDC Core §9 `private_key_jwt` client authentication at the token
//! endpoint: keys registered inline (`jwks`) or published by the client (`jwks_uri`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::both_stores;
use crate::harness::{Client, EcKey, TestDb, TestServer, assert_no_store, send_full};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const API: &str = "https://orders.example.com";

pub fn jwks(keys: &[&EcKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// RFC 7523 §3 claims for `client` at `now` (the server's clock), living 60 s.
pub fn claims(client: &Client, aud: &str, now: i64) -> Value {
    json!({
        "iss": client.id,
        "sub": client.id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// A client credentials request authenticated by `assertion` alone (RFC 7523 §2.2: the
/// `client_id` parameter is optional).
pub async fn token_with(server: &TestServer, assertion: &str) -> (u16, Value) {
    let (status, headers, body) = send_full(server.post("/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]))
    .await;
    assert_no_store(&headers, "token response");
    (status, body)
}

pub async fn register(server: &TestServer, keys: Value) -> Client {
    server.resource(API, &["read"], json!({})).await;
    let mut body = json!({
        "client_name": "signing job",
        "profile": "service",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": "read",
        "allowed_resources": [API],
    });
    let field = if keys.is_string() { "jwks_uri" } else { "jwks" };
    body[field] = keys;
    server.client(body).await
}

fn assert_refused(answer: (u16, Value), what: &str) {
    let (status, body) = answer;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
}

async fn private_key_jwt_with_inline_jwks(db: TestDb) {
    let server = TestServer::start(&db).await;
    let key = EcKey::generate("client-key-1");
    let client = register(&server, jwks(&[&key])).await;
    let token_endpoint = server.url("/token");
    let now = server.state.now();

    // The token endpoint URL as audience, with client_id sent too.
    let (status, _, body) = send_full(server.post("/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client.id.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        (
            "client_assertion",
            &key.sign(&claims(&client, &token_endpoint, now)),
        ),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // RFC 7523 §3 item 3: the issuer identifies the server as well.
    let (status, body) = token_with(&server, &key.sign(&claims(&client, &server.base, now))).await;
    assert_eq!(status, 200, "{body}");

    let with = |change: Value| {
        let mut c = claims(&client, &token_endpoint, now);
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
            other_key.sign(&claims(&client, &token_endpoint, now)),
        ),
        (
            "HS256 (a symmetric alg, keyed with the public JWK's x)",
            jsonwebtoken::encode(
                &Header {
                    kid: Some(key.kid.clone()),
                    ..Header::new(Algorithm::HS256)
                },
                &claims(&client, &token_endpoint, now),
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
            &key.sign(&claims(&client, &token_endpoint, now)),
        ),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // RFC 7523 §3 item 7: a jti is accepted once.
    let assertion = key.sign(&claims(&client, &token_endpoint, now));
    let (status, body) = token_with(&server, &assertion).await;
    assert_eq!(status, 200, "{body}");
    assert_refused(token_with(&server, &assertion).await, "replayed jti");

    // Expiry by the server's clock: valid now, not once the server is past exp + leeway.
    let assertion = key.sign(&claims(&client, &token_endpoint, server.state.now()));
    server.state.clock.advance(120);
    assert_refused(
        token_with(&server, &assertion).await,
        "expired by the clock",
    );
    // A fresh assertion at the new time works.
    let (status, body) = token_with(
        &server,
        &key.sign(&claims(&client, &token_endpoint, server.state.now())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// A client's key host: serves whatever key set the test puts in it, counting fetches.
pub(crate) struct JwksHost {
    pub(crate) url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksHost {
    pub(crate) async fn start(keys: Value) -> JwksHost {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                async move { axum::Json(body) }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve jwks");
        });
        JwksHost {
            url,
            keys,
            fetches,
            task,
        }
    }

    pub(crate) fn publish(&self, keys: Value) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn private_key_jwt_with_jwks_uri(db: TestDb) {
    let server = TestServer::start(&db).await;
    let old = EcKey::generate("2025-old");
    let new = EcKey::generate("2026-new");
    let host = JwksHost::start(jwks(&[&old])).await;
    let client = register(&server, json!(host.url)).await;
    let token_endpoint = server.url("/token");
    let assert_with = |key: &EcKey| key.sign(&claims(&client, &token_endpoint, server.state.now()));

    let (status, body) = token_with(&server, &assert_with(&old)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_with(&server, &assert_with(&old)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(host.fetches(), 1, "the key set is cached");

    // The client rotates: only the new key is published now.
    host.publish(jwks(&[&new]));
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
