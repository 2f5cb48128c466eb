//! The token endpoint core: RFC 6749 §4.4 client credentials, §5.1 responses and §5.2 error
//! codes, §2.3.1 client authentication, RFC 8707 resources, as a client sees them over HTTP.

use std::ops::RangeInclusive;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis::store::{AuditEvent, ClientRow, ClientSecretRow};
use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{ORDERS, Registration};
use crate::harness::{TestDb, TestServer, assert_no_store, jwt_claims, send_full};

const BILLING: &str = "https://billing.example.com";
const VAULT: &str = "https://vault.example.com";

/// One row of the error table: a request and what the endpoint must answer.
struct Case {
    name: &'static str,
    request: RequestBuilder,
    status: RangeInclusive<u16>,
    error: &'static str,
    /// RFC 6749 §5.2: a failed Basic authentication answers with the Basic challenge.
    basic_challenge: bool,
}

fn case(name: &'static str, request: RequestBuilder, status: u16, error: &'static str) -> Case {
    Case {
        name,
        request,
        status: status..=status,
        error,
        basic_challenge: false,
    }
}

fn challenged(name: &'static str, request: RequestBuilder) -> Case {
    Case {
        basic_challenge: true,
        ..case(name, request, 401, "invalid_client")
    }
}

fn set(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = match value {
        Value::String(s) => s.split(' ').map(str::to_string).collect(),
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        other => panic!("not a string or list: {other}"),
    };
    items.sort();
    items
}

async fn token_errors_follow_rfc6749(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(ORDERS, &["read", "write"], json!({})).await;
    server.resource(VAULT, &["admin"], json!({})).await;
    let client = Registration::new("reporting job", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let other = Registration::new("other job", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let post_client = Registration::new("post job", "service")
        .set("token_endpoint_auth_method", json!("client_secret_post"))
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let spa = Registration::new("browser app", "spa")
        .redirect_uris(&["https://app.example.com/cb"])
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let public_service = Registration::new("job that cannot keep a secret", "service")
        .public()
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let web = Registration::new("web app", "web")
        .redirect_uris(&["https://web.example.com/cb"])
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;

    let secret = client.secret.as_deref().unwrap();
    let as_client = || server.post("/token").basic_auth(&client.id, Some(secret));
    let cc = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        as_client().form(&form)
    };
    let raw_form = |body: &'static str| {
        as_client()
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    };
    let huge_scope = "a".repeat(server.state.config.http.body_limit + 1024);

    let cases = vec![
        // RFC 6749 §5.2 invalid_request: a required parameter is missing or repeated, or the
        // request is otherwise malformed.
        case(
            "missing grant_type",
            as_client().form(&[("scope", "read")]),
            400,
            "invalid_request",
        ),
        case(
            "repeated grant_type",
            raw_form("grant_type=client_credentials&grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        case(
            "repeated scope",
            raw_form("grant_type=client_credentials&scope=read&scope=read"),
            400,
            "invalid_request",
        ),
        case(
            "JSON body",
            as_client().json(&json!({ "grant_type": "client_credentials" })),
            400,
            "invalid_request",
        ),
        Case {
            status: 400..=499,
            ..case(
                "oversized body",
                as_client().form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", huge_scope.as_str()),
                ]),
                0,
                "invalid_request",
            )
        },
        // §5.2 unsupported_grant_type, including the legacy grants that are off by default.
        case(
            "unknown grant_type",
            as_client().form(&[("grant_type", "urn:example:not-a-grant")]),
            400,
            "unsupported_grant_type",
        ),
        case(
            "password grant while disabled",
            as_client().form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "hunter2"),
            ]),
            400,
            "unsupported_grant_type",
        ),
        case(
            "implicit is not a token-endpoint grant",
            as_client().form(&[("grant_type", "implicit")]),
            400,
            "unsupported_grant_type",
        ),
        // §5.2 invalid_client: 401, with the Basic challenge when Basic was tried.
        challenged(
            "wrong secret",
            server
                .post("/token")
                .basic_auth(&client.id, Some("not-the-secret"))
                .form(&[("grant_type", "client_credentials")]),
        ),
        challenged(
            "secret of another client",
            server
                .post("/token")
                .basic_auth(&client.id, other.secret.as_deref())
                .form(&[("grant_type", "client_credentials")]),
        ),
        challenged(
            "unknown client",
            server
                .post("/token")
                .basic_auth("no-such-client", Some(secret))
                .form(&[("grant_type", "client_credentials")]),
        ),
        challenged(
            "Basic for a client registered for client_secret_post",
            server
                .post("/token")
                .basic_auth(&post_client.id, post_client.secret.as_deref())
                .form(&[("grant_type", "client_credentials")]),
        ),
        case(
            "no client authentication",
            server
                .post("/token")
                .form(&[("grant_type", "client_credentials")]),
            401,
            "invalid_client",
        ),
        case(
            "client_id alone for a confidential client",
            server.post("/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.id.as_str()),
            ]),
            401,
            "invalid_client",
        ),
        case(
            "client_secret_post for a client registered for client_secret_basic",
            server.post("/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.id.as_str()),
                ("client_secret", secret),
            ]),
            401,
            "invalid_client",
        ),
        // §2.3: one authentication method per request.
        case(
            "Basic and client_secret_post at once",
            as_client().form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.id.as_str()),
                ("client_secret", secret),
            ]),
            400,
            "invalid_request",
        ),
        // §5.2 invalid_scope.
        case(
            "scope beyond the client's",
            cc(&[("scope", "read write")]),
            400,
            "invalid_scope",
        ),
        case(
            "malformed scope",
            cc(&[("scope", "read \"write\"")]),
            400,
            "invalid_scope",
        ),
        // RFC 8707 §2 invalid_target.
        case(
            "unregistered resource",
            cc(&[("resource", "https://unknown.example.com")]),
            400,
            "invalid_target",
        ),
        case(
            "resource not allowed for the client",
            cc(&[("resource", VAULT)]),
            400,
            "invalid_target",
        ),
        case(
            "relative resource",
            cc(&[("resource", "orders")]),
            400,
            "invalid_target",
        ),
        case(
            "resource with a fragment",
            cc(&[("resource", "https://orders.example.com#frag")]),
            400,
            "invalid_target",
        ),
        // §4.4 / §5.2 unauthorized_client: public clients, and clients not registered for
        // the grant.
        case(
            "public SPA client",
            server.post("/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", spa.id.as_str()),
            ]),
            400,
            "unauthorized_client",
        ),
        case(
            "service client with auth method none",
            server.post("/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", public_service.id.as_str()),
            ]),
            400,
            "unauthorized_client",
        ),
        case(
            "confidential web client not registered for client_credentials",
            server
                .post("/token")
                .basic_auth(&web.id, web.secret.as_deref())
                .form(&[("grant_type", "client_credentials")]),
            400,
            "unauthorized_client",
        ),
    ];

    for c in cases {
        let (status, headers, body) = send_full(c.request).await;
        assert!(
            c.status.contains(&status),
            "{}: status {status}, {body}",
            c.name
        );
        assert_eq!(body["error"], c.error, "{}: {body}", c.name);
        assert_no_store(&headers, c.name);
        if c.basic_challenge {
            let challenge = headers
                .get("www-authenticate")
                .unwrap_or_else(|| panic!("{}: no WWW-Authenticate", c.name))
                .to_str()
                .unwrap();
            assert!(challenge.starts_with("Basic"), "{}: {challenge}", c.name);
        }
    }
    server.stop().await;
}

async fn default_scope_and_response_shape(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(ORDERS, &["read", "write"], json!({})).await;
    let client = Registration::new("reporting job", "service")
        .scope("read write")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, headers, body) = send_full(
        server
            .post("/token")
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers, "token response");
    // RFC 6749 §5.1 and §3.3: no scope requested → the client's registered scope.
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(set(&body["scope"]), ["read", "write"]);
    // §4.4.3: no refresh token for client credentials.
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    // With one allowed resource and none requested, that resource is the audience.
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], ORDERS);
    assert_eq!(claims["sub"], client.id);
    assert_eq!(claims["client_id"], client.id);
    assert_eq!(set(&claims["scope"]), ["read", "write"]);

    // A narrower scope is granted as asked.
    let (status, body) = server
        .client_credentials(&client, &[("scope", "read")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["scope"],
        "read"
    );
    server.stop().await;
}

async fn resources_and_audiences(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(ORDERS, &["read"], json!({})).await;
    server.resource(BILLING, &["pay"], json!({})).await;
    let client = Registration::new("checkout", "service")
        .scope("read pay")
        .allowed_resources(&[ORDERS, BILLING])
        .register(&server)
        .await;

    // Two allowed resources and none named: the client must say which (RFC 8707 §2).
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );

    // RFC 8707 §2: `resource` may repeat; the token is for both, with each API's scopes.
    let token = server
        .access_token(&client, &[("resource", ORDERS), ("resource", BILLING)])
        .await;
    let claims = jwt_claims(&token);
    assert!(claims["aud"].is_array(), "{claims}");
    assert_eq!(set(&claims["aud"]), [BILLING, ORDERS]);
    assert_eq!(set(&claims["scope"]), ["pay", "read"]);

    // The `audience` parameter names a resource too; the default scope is that API's only.
    let (status, body) = server
        .client_credentials(&client, &[("audience", BILLING)])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "pay");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], BILLING);
    assert_eq!(claims["scope"], "pay");

    // A scope another of the client's APIs defines is not grantable for this one.
    let (status, body) = server
        .client_credentials(&client, &[("resource", BILLING), ("scope", "read")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    server.stop().await;
}

async fn opaque_resource_tokens_introspect(db: TestDb) {
    let server = TestServer::start(&db).await;
    server
        .resource(
            ORDERS,
            &["read"],
            json!({ "access_token_format": "opaque" }),
        )
        .await;
    let client = Registration::new("reporting job", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    // A reference token: not a JWS, nothing to read without introspection.
    assert_ne!(token.split('.').count(), 3, "{token}");
    let (status, info) = server.introspect(&client, token).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], client.id);
    assert_eq!(info["aud"], ORDERS);
    assert_eq!(info["scope"], "read");
    assert_eq!(
        info["exp"].as_i64().unwrap() - info["iat"].as_i64().unwrap(),
        body["expires_in"].as_i64().unwrap()
    );
    server.stop().await;
}

async fn resource_lifetime_is_honoured(db: TestDb) {
    let server = TestServer::start(&db).await;
    server
        .resource(ORDERS, &["read"], json!({ "access_token_lifetime": 60 }))
        .await;
    let client = server.service_client(BILLING, "pay").await;
    let orders_client = Registration::new("reporting job", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, body) = server.client_credentials(&orders_client, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 60);
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    // A resource without its own lifetime gets the configured one.
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["expires_in"],
        server.state.config.tokens.access_token_lifetime
    );
    server.stop().await;
}

async fn basic_credentials_are_form_encoded(db: TestDb) {
    let server = TestServer::start(&db).await;
    let template = server.service_client(ORDERS, "read").await;
    // Admin-registered ids and secrets never need encoding; install a client whose do.
    let id = "billing job:1 & co";
    let secret = "s3cr:t+/%=é x";
    let now = server.state.now();
    let row = server
        .state
        .store
        .get_client(&template.id)
        .await
        .unwrap()
        .unwrap();
    server
        .state
        .store
        .insert_client(
            &ClientRow {
                client_id: id.into(),
                ..row
            },
            Some(&ClientSecretRow {
                id: uuid::Uuid::new_v4().to_string(),
                client_id: id.into(),
                secret_hash: portcullis::secret::sha256_hex(secret),
                created_at: now,
                expires_at: None,
            }),
            &AuditEvent::new(now, "test", "client.create", id, json!({})),
        )
        .await
        .unwrap();
    let basic =
        |user: &str, pass: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    // RFC 6749 §2.3.1: both are application/x-www-form-urlencoded before Basic encoding.
    let (status, _, body) = send_full(
        server
            .post("/token")
            .header(AUTHORIZATION, basic(&encode(id), &encode(secret)))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
        id
    );

    // Sent raw, the colon in the id splits it in the wrong place: not this client.
    let (status, headers, body) = send_full(
        server
            .post("/token")
            .header(AUTHORIZATION, basic(id, secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers.contains_key("www-authenticate"));
    server.stop().await;
}

both_stores!(
    token_errors_follow_rfc6749,
    default_scope_and_response_shape,
    resources_and_audiences,
    opaque_resource_tokens_introspect,
    resource_lifetime_is_honoured,
    basic_credentials_are_form_encoded,
);
