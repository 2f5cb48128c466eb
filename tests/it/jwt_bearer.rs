//! RFC 7523 §2.1 JWT bearer grant: a trusted issuer's JWT, signed in the test with keys the
//! test generates, exchanged for an access token — accepted when every §3 rule holds, refused
//! with `invalid_grant` naming the rule when one does not; and the `/admin/issuers` API that
//! registers the issuers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{
    JWT_BEARER, JWT_IDP, JwtBearerSetup, ORDERS, Registration, jwt_bearer_claims,
    jwt_bearer_client, jwt_bearer_setup, jwt_issuer,
};
use crate::harness::{Client, EcKey, TestDb, TestServer, admin_cli, jwt_claims, send};

pub async fn exchange(server: &TestServer, client: &Client, assertion: &str) -> (u16, Value) {
    exchange_with(server, client, &[("assertion", assertion)]).await
}

async fn exchange_with(
    server: &TestServer,
    client: &Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields = vec![("grant_type", JWT_BEARER)];
    fields.extend_from_slice(form);
    server.post_as("/token", client, &fields).await
}

fn assert_refused(answer: (u16, Value), code: &str, description: &str, what: &str) {
    let (status, body) = answer;
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], code, "{what}: {body}");
    assert_eq!(body["error_description"], description, "{what}: {body}");
}

/// An unsigned JWT (`alg: none`, RFC 7519 §6).
fn unsecured(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// An HS256 JWT whose "secret" is the issuer's public key: the key-confusion attack.
fn hs256_with_public_key(key: &EcKey, claims: &Value) -> String {
    let secret = key.jwk()["x"].as_str().unwrap().to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn jwt_bearer_issues_a_token_for_the_mapped_user(db: TestDb) {
    let JwtBearerSetup {
        server,
        key,
        client,
        alice,
        issuer,
    } = jwt_bearer_setup(&db, "username").await;
    let alice_id = alice["id"].as_str().unwrap();

    // Subject by username; no scope asked → what client, issuer and API all allow.
    let (status, body) = exchange(
        &server,
        &client,
        &key.sign(&jwt_bearer_claims(&server, "alice")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["sub"], alice_id);
    assert_eq!(token["aud"], ORDERS);
    assert_eq!(token["client_id"], client.id);
    assert_eq!(token["scope"], "read");

    // The issuer identifier is an accepted audience too (RFC 7523 §3 item 3).
    let mut by_issuer = jwt_bearer_claims(&server, "ALICE");
    by_issuer["aud"] = json!([server.state.issuer, "https://someone-else.example"]);
    let (status, body) = exchange(&server, &client, &key.sign(&by_issuer)).await;
    assert_eq!(status, 200, "usernames compare case-insensitively: {body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        alice_id
    );

    // The same mapping by email, by user id, and passed through.
    let id = issuer["id"].as_str().unwrap();
    for (subject, sub, expected) in [
        ("email", "alice@example.test", alice_id),
        ("user_id", alice_id, alice_id),
        ("external", "idp-user-42", "idp-user-42"),
    ] {
        let (status, updated) = send(
            server
                .admin(Method::PUT, &format!("/issuers/{id}"))
                .json(&jwt_issuer(&key, &[&client.id], subject)),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["subject"], subject);
        let (status, body) = exchange_with(
            &server,
            &client,
            &[
                ("assertion", &key.sign(&jwt_bearer_claims(&server, sub))),
                ("scope", "read"),
                ("resource", ORDERS),
            ],
        )
        .await;
        assert_eq!(status, 200, "{subject}: {body}");
        let token = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(token["sub"], expected, "{subject}");
    }

    // A user that the mapping cannot find, or a disabled one, is no subject.
    let (status, updated) = send(
        server
            .admin(Method::PUT, &format!("/issuers/{id}"))
            .json(&jwt_issuer(&key, &[&client.id], "username")),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_refused(
        exchange(
            &server,
            &client,
            &key.sign(&jwt_bearer_claims(&server, "mallory")),
        )
        .await,
        "invalid_grant",
        "the assertion subject is not a known user",
        "unknown user",
    );
    let (status, _) = send(
        server
            .admin(Method::PUT, &format!("/users/{alice_id}"))
            .json(&json!({ "username": "alice", "disabled": true })),
    )
    .await;
    assert_eq!(status, 200);
    assert_refused(
        exchange(
            &server,
            &client,
            &key.sign(&jwt_bearer_claims(&server, "alice")),
        )
        .await,
        "invalid_grant",
        "the assertion subject is not a known user",
        "disabled user",
    );
    server.stop().await;
}

async fn jwt_bearer_refuses_each_broken_rule(db: TestDb) {
    let JwtBearerSetup {
        server,
        key,
        client,
        ..
    } = jwt_bearer_setup(&db, "username").await;
    let now = server.state.now();
    let other_key = EcKey::generate(&key.kid);
    let with = |changes: Value| {
        let mut c = jwt_bearer_claims(&server, "alice");
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    const SIGNATURE: &str = "the assertion signature is not valid";
    const ALG: &str = "the assertion's signing algorithm is not allowed";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by a key the issuer does not have",
            other_key.sign(&with(json!({}))),
            SIGNATURE,
        ),
        ("alg none", unsecured(&with(json!({}))), ALG),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(&key, &with(json!({}))),
            ALG,
        ),
        (
            "iss of an untrusted issuer",
            key.sign(&with(json!({ "iss": "https://evil.example" }))),
            "the assertion issuer is not trusted",
        ),
        (
            "aud of another server",
            key.sign(&with(json!({ "aud": "https://other-as.example/token" }))),
            "the assertion audience (aud) does not name this server",
        ),
        (
            "no aud",
            key.sign(&with(json!({ "aud": null }))),
            "the assertion lacks a required claim",
        ),
        (
            "no sub",
            key.sign(&with(json!({ "sub": null }))),
            "the assertion lacks a required claim",
        ),
        (
            "no exp",
            key.sign(&with(json!({ "exp": null }))),
            "the assertion lacks a required claim",
        ),
        (
            "no jti",
            key.sign(&with(json!({ "jti": null }))),
            "the assertion lacks a required claim",
        ),
        (
            "expired beyond the skew",
            key.sign(&with(json!({ "iat": now - 600, "exp": now - 60 }))),
            "the assertion has expired",
        ),
        (
            "exp further ahead than assertions.max_lifetime",
            key.sign(&with(json!({ "exp": now + 600 + 61 }))),
            "the assertion expires too far in the future",
        ),
        (
            "nbf in the future",
            key.sign(&with(json!({ "nbf": now + 61 }))),
            "the assertion is not yet valid (nbf or iat in the future)",
        ),
        (
            "iat in the future",
            key.sign(&with(json!({ "iat": now + 61 }))),
            "the assertion is not yet valid (nbf or iat in the future)",
        ),
        (
            "not a JWT",
            "not-a-jwt".to_string(),
            "the assertion is not a JWT with an iss claim",
        ),
    ];
    for (what, assertion, description) in &cases {
        assert_refused(
            exchange(&server, &client, assertion).await,
            "invalid_grant",
            description,
            what,
        );
    }

    // Within the skew, the edges are accepted: expired 59 s ago, exp exactly at the maximum
    // plus skew, nbf 60 s ahead.
    for (what, changes) in [
        ("exp 59 s ago", json!({ "iat": now - 120, "exp": now - 59 })),
        ("exp at the maximum", json!({ "exp": now + 600 + 60 })),
        ("nbf at the skew", json!({ "nbf": now + 60 })),
    ] {
        let (status, body) = exchange(&server, &client, &key.sign(&with(changes))).await;
        assert_eq!(status, 200, "{what}: {body}");
    }

    // RFC 7523 §3 item 7: a jti is used once.
    let assertion = key.sign(&with(json!({})));
    let (status, body) = exchange(&server, &client, &assertion).await;
    assert_eq!(status, 200, "{body}");
    assert_refused(
        exchange(&server, &client, &assertion).await,
        "invalid_grant",
        "the assertion has already been used",
        "replayed jti",
    );

    // A refusal for scope does not spend the assertion: corrected, it is accepted.
    let assertion = key.sign(&with(json!({})));
    assert_refused(
        exchange_with(
            &server,
            &client,
            &[("assertion", &assertion), ("scope", "read write")],
        )
        .await,
        "invalid_scope",
        "the scope exceeds what this client may obtain with this issuer's assertions",
        "write is the client's but not the issuer's",
    );
    assert_refused(
        exchange_with(
            &server,
            &client,
            &[("assertion", &assertion), ("scope", "admin")],
        )
        .await,
        "invalid_scope",
        "the scope exceeds what this client may obtain with this issuer's assertions",
        "admin is the API's but not the client's",
    );
    let (status, body) = exchange_with(
        &server,
        &client,
        &[("assertion", &assertion), ("scope", "read")],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A client the issuer does not name may not use its assertions.
    let stranger = server.client(jwt_bearer_client("stranger")).await;
    assert_refused(
        exchange(&server, &stranger, &key.sign(&with(json!({})))).await,
        "invalid_grant",
        "this client may not present assertions from this issuer",
        "client not allowed",
    );

    // Form errors are invalid_request. Entra's on-behalf-of form is a token exchange: a client
    // registered for jwt-bearer alone may not use it (tests/it/token_exchange.rs covers the rest).
    assert_refused(
        exchange_with(&server, &client, &[]).await,
        "invalid_request",
        "missing parameter assertion",
        "no assertion",
    );
    let (status, body) = exchange_with(
        &server,
        &client,
        &[
            ("assertion", &key.sign(&with(json!({})))),
            ("requested_token_use", "on_behalf_of"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client", "{body}");

    // A client not registered for the grant is refused before any of this.
    let cc_only = Registration::new("cc only", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, body) = exchange(&server, &cc_only, &key.sign(&with(json!({})))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client", "{body}");
    server.stop().await;
}

/// An IdP publishing its keys at a URL: served by a loopback host.
async fn jwt_bearer_with_jwks_uri(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(ORDERS, &["read"], json!({})).await;
    let client = server.client(jwt_bearer_client("orders job")).await;
    let key = EcKey::generate("published-1");
    let keys = json!({ "keys": [key.jwk()] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys) }
        }),
    );
    let host = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut body = jwt_issuer(&key, &[&client.id], "external");
    body.as_object_mut().unwrap().remove("jwks");
    body["jwks_uri"] = json!(url);
    let (status, created) = server.admin_post("/issuers", body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["jwks_uri"], url);

    let (status, body) = exchange(
        &server,
        &client,
        &key.sign(&jwt_bearer_claims(&server, "svc-7")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        "svc-7"
    );
    let stranger = EcKey::generate("published-1");
    assert_refused(
        exchange(
            &server,
            &client,
            &stranger.sign(&jwt_bearer_claims(&server, "svc-7")),
        )
        .await,
        "invalid_grant",
        "the assertion signature is not valid",
        "key not published",
    );
    host.abort();
    server.stop().await;
}

async fn admin_issuers_validate_and_audit(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(ORDERS, &["read"], json!({})).await;
    let client = server.client(jwt_bearer_client("orders job")).await;
    let key = EcKey::generate("k1");
    let good = jwt_issuer(&key, &[&client.id], "username");

    // The admin token is required.
    let (status, _) = send(server.http.get(server.url("/admin/issuers"))).await;
    assert_eq!(status, 401);

    let with = |changes: Value| {
        let mut body = good.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    for (what, body, field) in [
        (
            "alg none",
            with(json!({ "algorithms": ["none"] })),
            "algorithms",
        ),
        (
            "HMAC",
            with(json!({ "algorithms": ["HS256"] })),
            "algorithms",
        ),
        (
            "no algorithms",
            with(json!({ "algorithms": [] })),
            "algorithms",
        ),
        (
            "symmetric key",
            with(json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } })),
            "jwks",
        ),
        (
            "private key",
            with(json!({ "jwks": { "keys": [private] } })),
            "jwks",
        ),
        (
            "both key sources",
            with(json!({ "jwks_uri": "https://idp.example.test/jwks" })),
            "jwks",
        ),
        ("no key source", with(json!({ "jwks": null })), "jwks"),
        (
            "plain-http jwks_uri",
            with(json!({ "jwks": null, "jwks_uri": "http://idp.example.test/jwks" })),
            "jwks_uri",
        ),
        ("no issuer", with(json!({ "issuer": null })), "issuer"),
        (
            "relative issuer",
            with(json!({ "issuer": "idp" })),
            "issuer",
        ),
        (
            "SAML field on a JWT issuer",
            with(json!({ "entity_id": "https://idp.example.test" })),
            "entity_id",
        ),
        (
            "unknown client",
            with(json!({ "allowed_clients": ["nobody"] })),
            "allowed_clients",
        ),
        (
            "two scopes in one",
            with(json!({ "scopes": ["a b"] })),
            "scopes",
        ),
        (
            "SAML without certificates",
            json!({ "kind": "saml", "entity_id": "https://idp.example.test", "subject": "email" }),
            "certificates",
        ),
        (
            "SAML with a certificate that is not one",
            json!({ "kind": "saml", "entity_id": "https://idp.example.test", "subject": "email",
                    "certificates": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"] }),
            "certificates",
        ),
    ] {
        let (status, error) = server.admin_post("/issuers", body).await;
        assert_eq!(status, 400, "{what}: {error}");
        assert_eq!(error["error"], "invalid_request", "{what}");
        let description = error["error_description"].as_str().unwrap_or_default();
        assert!(
            description.starts_with(&format!("{field}:")),
            "{what}: {description}"
        );
    }
    for (what, body) in [
        ("unknown field", with(json!({ "colour": "blue" }))),
        (
            "unknown subject mapping",
            with(json!({ "subject": "phone" })),
        ),
        ("unknown kind", with(json!({ "kind": "kerberos" }))),
    ] {
        let (status, error) = server.admin_post("/issuers", body).await;
        assert_eq!(status, 400, "{what}: {error}");
    }

    // Create, read, list, replace, delete.
    let (status, created) = server.admin_post("/issuers", good.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["kind"], "jwt");
    assert_eq!(created["issuer"], JWT_IDP);
    assert_eq!(created["algorithms"], json!(["ES256"]));
    assert_eq!(created["allowed_clients"], json!([client.id]));
    let (status, conflict) = server.admin_post("/issuers", good.clone()).await;
    assert_eq!(status, 409, "{conflict}");
    let (status, shown) = server.admin_get(&format!("/issuers/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown, created);
    let (status, list) = server.admin_get("/issuers").await;
    assert_eq!(status, 200);
    assert_eq!(list["issuers"], json!([created]));
    let (status, updated) = send(
        server
            .admin(Method::PUT, &format!("/issuers/{id}"))
            .json(&with(
                json!({ "scopes": ["read", "write"], "algorithms": ["ES256", "RS256"] }),
            )),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["scopes"], json!(["read", "write"]));
    assert_eq!(updated["created_at"], created["created_at"]);
    let (status, _) = send(server.admin(Method::DELETE, &format!("/issuers/{id}"))).await;
    assert_eq!(status, 204);
    let (status, _) = server.admin_get(&format!("/issuers/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = send(server.admin(Method::DELETE, &format!("/issuers/{id}"))).await;
    assert_eq!(status, 404);

    let (status, audit) = server.admin_get("/audit?limit=200").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let mut sorted = actions.clone();
    sorted.sort();
    assert_eq!(sorted, ["issuer.create", "issuer.delete", "issuer.update"]);
    server.stop().await;
}

/// The `issuer` CLI calls the same service layer: same validation, same audit trail.
async fn the_issuer_cli_manages_issuers(db: TestDb) {
    let key = EcKey::generate("cli-key");
    let body = jwt_issuer(&key, &[], "external");
    let (ok, created, output) = admin_cli(&db, &["issuer", "create", "-"], &body.to_string()).await;
    assert!(ok, "{output}");
    assert_eq!(created["issuer"], JWT_IDP);
    let id = created["id"].as_str().unwrap().to_string();
    let (ok, list, output) = admin_cli(&db, &["issuer", "list"], "").await;
    assert!(ok, "{output}");
    assert_eq!(list["issuers"][0]["id"], id.as_str());
    let (ok, shown, output) = admin_cli(&db, &["issuer", "show", &id], "").await;
    assert!(ok, "{output}");
    assert_eq!(shown, created);
    let mut hmac = body.clone();
    hmac["algorithms"] = json!(["HS256"]);
    let (ok, _, output) = admin_cli(&db, &["issuer", "create", "-"], &hmac.to_string()).await;
    assert!(!ok, "{output}");
    assert!(output.contains("algorithms:"), "{output}");
    let (ok, _, output) = admin_cli(&db, &["issuer", "delete", &id], "").await;
    assert!(ok, "{output}");
    let (ok, _, output) = admin_cli(&db, &["issuer", "show", &id], "").await;
    assert!(!ok, "{output}");
}

/// Discovery lists the assertion grants only when they are served.
async fn assertion_grants_are_advertised_only_when_enabled(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap().clone();
    assert!(grants.contains(&json!(JWT_BEARER)), "{grants:?}");
    server.stop().await;

    let server = TestServer::start_with(&db, |c| c.assertions.jwt_bearer = false).await;
    server.resource(ORDERS, &["read"], json!({})).await;
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap().clone();
    assert!(!grants.contains(&json!(JWT_BEARER)), "{grants:?}");
    let client = server.client(jwt_bearer_client("orders job")).await;
    let (status, body) = exchange(&server, &client, "a.b.c").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unsupported_grant_type");
    server.stop().await;
}

both_stores!(
    jwt_bearer_issues_a_token_for_the_mapped_user,
    jwt_bearer_refuses_each_broken_rule,
    jwt_bearer_with_jwks_uri,
    admin_issuers_validate_and_audit,
    the_issuer_cli_manages_issuers,
    assertion_grants_are_advertised_only_when_enabled,
);
