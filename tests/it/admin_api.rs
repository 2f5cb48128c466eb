//! The admin API as an operator's tooling sees it: bearer authentication, client registration
//! (RFC 7591 metadata, errors per §3.2.2, best-practice warnings), client management
//! (RFC 7592 semantics), secret rotation, resources, and the audit trail of every change.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::harness::{ADMIN_TOKEN, Client, TestDb, TestServer, header, send, send_full};

const API: &str = "https://api.example.com";

/// RFC 7517 Appendix A.1: a public EC key, enough for a `private_key_jwt` registration.
fn public_jwks() -> Value {
    json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "1",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    }]})
}

fn web_client(name: &str) -> Value {
    json!({ "client_name": name, "profile": "web", "redirect_uris": ["https://app.example.com/cb"] })
}

fn warnings(registration: &Value) -> Vec<String> {
    registration["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("warning text").to_string())
        .collect()
}

async fn admin_send(server: &TestServer, method: Method, path: &str) -> (u16, Value) {
    send(server.admin(method, path)).await
}

async fn audit_events(server: &TestServer) -> Vec<Value> {
    let (status, body) = server.admin_get("/audit?limit=200").await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().expect("events").clone()
}

async fn admin_api_requires_a_bearer_token(db: TestDb) {
    let server = TestServer::start(&db).await;
    let url = server.url("/admin/clients");

    for (what, request) in [
        ("no token", server.http.get(&url)),
        (
            "wrong token",
            server.http.get(&url).bearer_auth("not-the-admin-token"),
        ),
        (
            "admin token with Basic",
            server.http.get(&url).basic_auth("admin", Some(ADMIN_TOKEN)),
        ),
        (
            "empty bearer",
            server.http.get(&url).header("authorization", "Bearer "),
        ),
    ] {
        let (status, headers, body) = send_full(request).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(body["error"].is_string(), "{what}: {body}");
        assert!(
            header(&headers, "www-authenticate").starts_with("Bearer"),
            "{what}: {headers:?}"
        );
        assert!(
            header(&headers, "content-type").starts_with("application/json"),
            "{what}"
        );
    }

    let (status, body) = server.admin_get("/clients").await;
    assert_eq!(status, 200, "bootstrap token: {body}");
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let (status, _) = send(
        server
            .http
            .get(&url)
            .header("authorization", format!("bearer {ADMIN_TOKEN}")),
    )
    .await;
    assert_eq!(status, 200);

    let now = server.state.now();
    let actor = portcullis::admin::Actor::cli();
    let made = portcullis::admin::tokens::create(&server.state.store, &actor, "ci", None, now)
        .await
        .expect("admin token");
    let (status, body) = send(server.http.get(&url).bearer_auth(&made.token)).await;
    assert_eq!(status, 200, "stored admin token: {body}");

    // A token with a lifetime stops working when it runs out.
    let short =
        portcullis::admin::tokens::create(&server.state.store, &actor, "short", Some(60), now)
            .await
            .expect("admin token");
    let (status, _) = send(server.http.get(&url).bearer_auth(&short.token)).await;
    assert_eq!(status, 200);
    server.state.clock.advance(61);
    let (status, _) = send(server.http.get(&url).bearer_auth(&short.token)).await;
    assert_eq!(status, 401, "expired admin token");
    let (status, _) = send(server.http.get(&url).bearer_auth(&made.token)).await;
    assert_eq!(status, 200, "a token without expiry still works");
    server.stop().await;
}

async fn admin_tokens_are_not_client_credentials(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let made = portcullis::admin::tokens::create(
        &server.state.store,
        &portcullis::admin::Actor::cli(),
        "ci",
        None,
        server.state.now(),
    )
    .await
    .expect("admin token");
    let (_, real_token) = server.client_credentials(&client, &[]).await;
    let real_token = real_token["access_token"].as_str().unwrap().to_string();

    for admin_token in [ADMIN_TOKEN, made.token.as_str()] {
        let (status, headers, body) = send_full(
            server
                .post("/token")
                .bearer_auth(admin_token)
                .form(&[("grant_type", "client_credentials"), ("resource", API)]),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(header(&headers, "cache-control"), "no-store");

        let (status, body) = send(
            server
                .post("/introspect")
                .bearer_auth(admin_token)
                .form(&[("token", real_token.as_str())]),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");

        let (status, body) = send(
            server
                .post("/revoke")
                .bearer_auth(admin_token)
                .form(&[("token", real_token.as_str())]),
        )
        .await;
        assert_eq!(status, 401, "{body}");
    }
    // Nor as a client secret under the admin token's own id.
    let (status, body) = send(
        server
            .post("/token")
            .basic_auth(&made.id, Some(&made.token))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // The token the service got is untouched by all this.
    let (status, body) = server.introspect(&client, &real_token).await;
    assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    server.stop().await;
}

async fn registration_returns_a_secret_only_for_secret_methods(db: TestDb) {
    let server = TestServer::start(&db).await;
    for (body, wants_secret) in [
        (json!({ "client_name": "svc", "profile": "service" }), true),
        (web_client("web"), true),
        (
            json!({ "client_name": "post", "profile": "service",
                    "token_endpoint_auth_method": "client_secret_post" }),
            true,
        ),
        (
            json!({ "client_name": "spa", "profile": "spa",
                    "redirect_uris": ["https://app.example.com/cb"] }),
            false,
        ),
        (
            json!({ "client_name": "native", "profile": "native",
                    "redirect_uris": ["http://127.0.0.1/cb"] }),
            false,
        ),
        (
            json!({ "client_name": "jwt", "profile": "service",
                    "token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks() }),
            false,
        ),
    ] {
        let (status, reg) = server.admin_post("/clients", body.clone()).await;
        assert_eq!(status, 201, "{body}: {reg}");
        assert!(
            reg["client_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{reg}"
        );
        assert!(reg["client_id_issued_at"].is_i64(), "{reg}");
        match reg["client_secret"].as_str() {
            Some(secret) => {
                assert!(wants_secret, "unexpected secret for {body}");
                // 256 bits, base64url: 43 characters at least.
                assert!(secret.len() >= 43, "short secret {secret:?}");
                // RFC 7591 §3.2.1: required with a secret; 0 means it does not expire.
                assert_eq!(reg["client_secret_expires_at"], 0, "{reg}");
            }
            None => {
                assert!(!wants_secret, "no secret for {body}: {reg}");
                assert!(reg.get("client_secret").is_none(), "{reg}");
                assert!(reg.get("client_secret_expires_at").is_none(), "{reg}");
            }
        }
    }
    server.stop().await;
}

async fn registration_warns_against_bad_practice(db: TestDb) {
    let server = TestServer::start(&db).await;
    let redirect = json!(["https://app.example.com/cb"]);
    for (body, expect) in [
        (
            json!({ "client_name": "spa", "profile": "spa", "redirect_uris": redirect,
                    "token_endpoint_auth_method": "client_secret_basic" }),
            "token_endpoint_auth_method",
        ),
        (
            json!({ "client_name": "legacy", "redirect_uris": redirect,
                    "grant_types": ["authorization_code", "implicit"] }),
            "implicit",
        ),
        (
            json!({ "client_name": "legacy", "profile": "service",
                    "grant_types": ["password"] }),
            "password",
        ),
        (
            json!({ "client_name": "plain http", "profile": "web",
                    "redirect_uris": ["http://app.example.com/cb"] }),
            "http://app.example.com/cb",
        ),
        (
            json!({ "client_name": "spa", "profile": "spa", "redirect_uris": redirect,
                    "require_pkce": false }),
            "require_pkce",
        ),
    ] {
        let (status, reg) = server.admin_post("/clients", body.clone()).await;
        // Legal, so registered; but the operator is told why it is a bad idea.
        assert_eq!(status, 201, "{body}: {reg}");
        let w = warnings(&reg);
        assert!(
            w.iter().any(|w| w.contains(expect)),
            "{body}: no warning mentioning {expect:?} in {w:?}"
        );
    }
    // The spa given a secret method gets a secret: the warning does not change the outcome.
    let (_, reg) = server
        .admin_post(
            "/clients",
            json!({ "client_name": "spa", "profile": "spa", "redirect_uris": redirect,
                    "token_endpoint_auth_method": "client_secret_basic" }),
        )
        .await;
    assert!(reg["client_secret"].is_string(), "{reg}");

    // Following current practice yields no warning at all.
    for body in [
        web_client("clean web"),
        json!({ "client_name": "clean spa", "profile": "spa", "redirect_uris": redirect }),
        json!({ "client_name": "clean native", "profile": "native",
                "redirect_uris": ["http://127.0.0.1/cb"] }),
        json!({ "client_name": "clean service", "profile": "service" }),
    ] {
        let (status, reg) = server.admin_post("/clients", body.clone()).await;
        assert_eq!(status, 201, "{reg}");
        assert_eq!(warnings(&reg), Vec::<String>::new(), "{body}");
    }
    server.stop().await;
}

async fn registration_errors_follow_rfc7591(db: TestDb) {
    let server = TestServer::start(&db).await;
    let ok = json!(["https://app.example.com/cb"]);
    for (body, error, field) in [
        (
            json!({ "client_name": "x", "redirect_uris": ["https://app.example.com/cb#frag"] }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ["/cb"] }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ["https://*.example.com/cb"] }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ["https://app.example.com/*"] }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ["javascript:alert(1)"] }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "profile": "web" }),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ok,
                    "grant_types": ["authorization_code", "magic"] }),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            json!({ "client_name": "x", "profile": "service",
                    "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": public_jwks(), "jwks_uri": "https://app.example.com/jwks" }),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            json!({ "client_name": "x", "profile": "service",
                    "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            json!({ "client_name": "x", "profile": "service",
                    "allowed_resources": ["https://unknown.example.com"] }),
            "invalid_client_metadata",
            "allowed_resources",
        ),
        (
            json!({ "client_name": "x", "profile": "service",
                    "token_endpoint_auth_method": "client_secret_jwt" }),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({ "client_name": "x", "profile": "service", "token_endpoint_auth_method": 7 }),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({ "client_name": "x", "profile": "service", "redirect_uris": "https://a.test/cb" }),
            "invalid_client_metadata",
            "redirect_uris",
        ),
        (
            json!({ "profile": "service" }),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            json!({ "client_name": "   ", "profile": "service" }),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            json!({ "client_name": "x", "profile": "service", "scope": "read \"quoted\"" }),
            "invalid_client_metadata",
            "scope",
        ),
        (
            json!({ "client_name": "x", "redirect_uris": ok, "response_types": ["token"] }),
            "invalid_client_metadata",
            "response_types",
        ),
    ] {
        let (status, headers, err) =
            send_full(server.admin(Method::POST, "/clients").json(&body)).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"], error, "{body}: {err}");
        let description = err["error_description"].as_str().unwrap_or("");
        assert!(
            description.contains(field),
            "{body}: description {description:?} does not name {field}"
        );
        assert!(header(&headers, "content-type").starts_with("application/json"));
    }
    // Nothing was registered by any of them.
    let (status, list) = server.admin_get("/clients").await;
    assert_eq!(status, 200);
    assert_eq!(list["clients"], json!([]), "{list}");
    server.stop().await;
}

async fn profiles_fill_in_recommended_defaults(db: TestDb) {
    let server = TestServer::start(&db).await;
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    for (body, grants, responses, method) in [
        (
            web_client("web"),
            json!(["authorization_code", "refresh_token"]),
            json!(["code"]),
            "client_secret_basic",
        ),
        (
            json!({ "client_name": "spa", "profile": "spa",
                    "redirect_uris": ["https://app.example.com/cb"] }),
            json!(["authorization_code", "refresh_token"]),
            json!(["code"]),
            "none",
        ),
        (
            json!({ "client_name": "native", "profile": "native",
                    "redirect_uris": ["com.example.app:/cb"] }),
            json!(["authorization_code", "refresh_token"]),
            json!(["code"]),
            "none",
        ),
        (
            json!({ "client_name": "svc", "profile": "service" }),
            json!(["client_credentials"]),
            json!([]),
            "client_secret_basic",
        ),
        (
            json!({ "client_name": "tv", "profile": "device" }),
            json!([device, "refresh_token"]),
            json!([]),
            "none",
        ),
        (
            json!({ "client_name": "api", "profile": "api" }),
            json!([]),
            json!([]),
            "client_secret_basic",
        ),
    ] {
        let registered = server.client(body.clone()).await;
        let reg = &registered.registration;
        assert_eq!(reg["profile"], body["profile"], "{reg}");
        assert_eq!(reg["grant_types"], grants, "{body}: {reg}");
        assert_eq!(reg["response_types"], responses, "{body}: {reg}");
        assert_eq!(reg["token_endpoint_auth_method"], method, "{body}: {reg}");
        assert_eq!(reg["require_pkce"], true, "{reg}");
        assert_eq!(registered.secret.is_some(), method != "none", "{reg}");
        // What the registration answered is what is stored.
        let (status, stored) = server
            .admin_get(&format!("/clients/{}", registered.id))
            .await;
        assert_eq!(status, 200);
        for field in [
            "profile",
            "grant_types",
            "response_types",
            "token_endpoint_auth_method",
        ] {
            assert_eq!(stored[field], reg[field], "{field}");
        }
    }
    // No profile and only client_credentials: a service.
    let svc = server
        .client(json!({ "client_name": "svc", "grant_types": ["client_credentials"] }))
        .await;
    assert_eq!(svc.registration["profile"], "service");
    assert_eq!(
        svc.registration["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    server.stop().await;
}

async fn clients_are_listed_page_by_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let c = server
            .client(json!({ "client_name": format!("svc {i}"), "profile": "service" }))
            .await;
        created.push(c.id);
    }
    created.sort();

    let mut seen = Vec::new();
    let mut path = "/clients?limit=2".to_string();
    let mut pages = 0;
    loop {
        let (status, page) = server.admin_get(&path).await;
        assert_eq!(status, 200, "{page}");
        let clients = page["clients"].as_array().expect("clients");
        assert!(clients.len() <= 2, "{page}");
        for c in clients {
            assert!(c.get("client_secret").is_none(), "a secret in a list: {c}");
            seen.push(c["client_id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match page["next"].as_str() {
            Some(next) => path = format!("/clients?limit=2&after={next}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every client once, in order");

    // Without a limit, all of them on one page; past the end, an empty page.
    let (_, all) = server.admin_get("/clients").await;
    assert_eq!(all["clients"].as_array().unwrap().len(), 5);
    assert!(all.get("next").is_none(), "{all}");
    let (_, past) = server
        .admin_get(&format!("/clients?after={}", created[4]))
        .await;
    assert_eq!(past["clients"], json!([]));
    server.stop().await;
}

async fn a_client_can_be_read_replaced_and_deleted(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let path = format!("/clients/{}", client.id);

    let (status, shown) = server.admin_get(&path).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["client_id"], client.id.as_str());
    assert_eq!(shown["client_name"], "billing service");
    assert_eq!(shown["allowed_resources"], json!([API]));
    assert!(shown.get("client_secret").is_none(), "{shown}");

    // RFC 7592 §2.2: PUT replaces the metadata; an existing secret is kept, not re-issued.
    let (status, updated) = server
        .admin_put(
            &path,
            json!({ "client_name": "billing v2", "profile": "service", "scope": "read",
                "allowed_resources": [API] }),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "billing v2");
    assert!(updated.get("client_secret").is_none(), "{updated}");
    let (_, shown) = server.admin_get(&path).await;
    assert_eq!(shown["client_name"], "billing v2");
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "the secret survives an update: {body}");

    // Invalid replacement metadata changes nothing.
    let (status, err) = server
        .admin_put(&path, json!({ "profile": "service" }))
        .await;
    assert_eq!(status, 400, "{err}");
    let (_, shown) = server.admin_get(&path).await;
    assert_eq!(shown["client_name"], "billing v2");

    // A public client switched to a secret method gets its secret, once.
    let spa = server
        .client(json!({ "client_name": "spa", "profile": "spa",
                        "redirect_uris": ["https://app.example.com/cb"] }))
        .await;
    assert!(spa.secret.is_none());
    let (status, switched) = server
        .admin_put(
            &format!("/clients/{}", spa.id),
            json!({ "client_name": "now confidential", "profile": "web",
                "redirect_uris": ["https://app.example.com/cb"] }),
        )
        .await;
    assert_eq!(status, 200, "{switched}");
    let secret = switched["client_secret"].as_str().expect("a new secret");
    assert!(secret.len() >= 43);

    let (status, body) = admin_send(&server, Method::DELETE, &path).await;
    assert_eq!(status, 204, "{body}");
    let (status, err) = server.admin_get(&path).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "not_found");
    let (status, err) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 401, "a deleted client cannot authenticate: {err}");
    assert_eq!(err["error"], "invalid_client");
    let (status, _) = admin_send(&server, Method::DELETE, &path).await;
    assert_eq!(status, 404, "deleting twice");
    server.stop().await;
}

async fn unknown_client_ids_are_404_json(db: TestDb) {
    let server = TestServer::start(&db).await;
    let path = format!("/clients/{}", uuid::Uuid::new_v4());
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(web_client("x"))),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/secret"), None),
        (
            Method::POST,
            format!("{path}/secret"),
            Some(json!({ "grace_period": 0 })),
        ),
        (
            Method::GET,
            format!("/resources/{}", uuid::Uuid::new_v4()),
            None,
        ),
        (
            Method::DELETE,
            format!("/resources/{}", uuid::Uuid::new_v4()),
            None,
        ),
    ] {
        let mut request = server.admin(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, headers, err) = send_full(request).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
        assert_eq!(err["error"], "not_found", "{method} {path}");
        assert!(header(&headers, "content-type").starts_with("application/json"));
    }
    server.stop().await;
}

async fn rotate(server: &TestServer, client: &Client, body: Option<Value>) -> (u16, Value) {
    let mut request = server.admin(Method::POST, &format!("/clients/{}/secret", client.id));
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

fn with_secret(client: &Client, secret: &str) -> Client {
    Client {
        secret: Some(secret.to_string()),
        ..client.clone()
    }
}

async fn rotated_secret_works_and_the_old_one_lasts_the_grace_period(db: TestDb) {
    let server = TestServer::start(&db).await;
    let old = server.service_client(API, "read").await;
    let resource = [("resource", API)];
    let before = server.state.now();
    let (status, rotated) = rotate(&server, &old, None).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().expect("new secret");
    assert!(new_secret.len() >= 43);
    assert_ne!(Some(new_secret), old.secret.as_deref());
    assert_eq!(rotated["client_id"], old.id.as_str());
    // The configured default grace period: a day.
    let expires = rotated["previous_secrets_expire_at"].as_i64().unwrap();
    assert!(
        (before + 86_400..=before + 86_400 + 5).contains(&expires),
        "{rotated}"
    );

    let new = with_secret(&old, new_secret);
    let (status, body) = server.client_credentials(&new, &resource).await;
    assert_eq!(status, 200, "new secret: {body}");
    let (status, body) = server.client_credentials(&old, &resource).await;
    assert_eq!(status, 200, "old secret within the grace period: {body}");

    // A day later the old secret is gone and the new one still works.
    server.state.clock.advance(86_400 + 1);
    let (status, body) = server.client_credentials(&old, &resource).await;
    assert_eq!(status, 401, "old secret after the grace period: {body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = server.client_credentials(&new, &resource).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn rotation_without_grace_retires_the_old_secret_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let old = server.service_client(API, "read").await;
    let resource = [("resource", API)];
    let (status, rotated) = rotate(&server, &old, Some(json!({ "grace_period": 0 }))).await;
    assert_eq!(status, 200, "{rotated}");
    let new = with_secret(&old, rotated["client_secret"].as_str().unwrap());

    let (status, body) = server.client_credentials(&old, &resource).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = server.client_credentials(&new, &resource).await;
    assert_eq!(status, 200, "{body}");

    // Rotating again with a grace period keeps only the newest previous secret alive.
    let (_, again) = rotate(&server, &new, Some(json!({ "grace_period": 60 }))).await;
    let newest = with_secret(&old, again["client_secret"].as_str().unwrap());
    assert_eq!(server.client_credentials(&newest, &resource).await.0, 200);
    assert_eq!(server.client_credentials(&new, &resource).await.0, 200);
    assert_eq!(server.client_credentials(&old, &resource).await.0, 401);

    // A public client has no secret to rotate.
    let spa = server
        .client(json!({ "client_name": "spa", "profile": "spa",
                        "redirect_uris": ["https://app.example.com/cb"] }))
        .await;
    let (status, err) = rotate(&server, &spa, None).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], "invalid_request");
    server.stop().await;
}

async fn secrets_never_appear_in_reads_or_audit(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let first = client.secret.clone().unwrap();
    let (_, rotated) = rotate(&server, &client, None).await;
    let second = rotated["client_secret"].as_str().unwrap().to_string();
    let spa = server
        .client(json!({ "client_name": "spa", "profile": "spa",
                        "redirect_uris": ["https://app.example.com/cb"] }))
        .await;
    let (_, switched) = server
        .admin_put(
            &format!("/clients/{}", spa.id),
            json!({ "client_name": "web", "profile": "web",
                "redirect_uris": ["https://app.example.com/cb"] }),
        )
        .await;
    let third = switched["client_secret"].as_str().unwrap().to_string();

    let mut reads = Vec::new();
    for path in [
        format!("/clients/{}", client.id),
        format!("/clients/{}", spa.id),
        "/clients".to_string(),
        "/audit".to_string(),
    ] {
        let (status, body) = server.admin_get(&path).await;
        assert_eq!(status, 200);
        reads.push((path, body.to_string()));
    }
    for (path, text) in &reads {
        for secret in [&first, &second, &third] {
            assert!(!text.contains(secret.as_str()), "{path} shows a secret");
        }
        assert!(!text.contains("client_secret\""), "{path}: {text}");
        assert!(!text.contains("secret_hash"), "{path}: {text}");
    }
    server.stop().await;
}

async fn every_admin_change_is_audited(db: TestDb) {
    let server = TestServer::start(&db).await;
    let resource = server.resource(API, &["read"], json!({})).await;
    let resource_id = resource["id"].as_str().unwrap().to_string();
    let client = server
        .client(
            json!({ "client_name": "svc", "profile": "service", "scope": "read",
                        "allowed_resources": [API] }),
        )
        .await;
    let (status, _) = server
        .admin_put(
            &format!("/clients/{}", client.id),
            json!({ "client_name": "svc 2", "profile": "service" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, rotated) = rotate(&server, &client, None).await;
    assert_eq!(status, 200);
    let (status, _) = server
        .admin_put(
            &format!("/resources/{resource_id}"),
            json!({ "identifier": API, "scopes": ["read", "write"] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .admin_post("/keys/rotate", json!({ "algs": ["EdDSA"] }))
        .await;
    assert_eq!(status, 200);
    let (status, _) = admin_send(&server, Method::DELETE, &format!("/clients/{}", client.id)).await;
    assert_eq!(status, 204);
    let (status, _) = admin_send(
        &server,
        Method::DELETE,
        &format!("/resources/{resource_id}"),
    )
    .await;
    assert_eq!(status, 204);
    // A refused change is not a change.
    let (status, _) = server
        .admin_post("/clients", json!({ "profile": "service" }))
        .await;
    assert_eq!(status, 400);

    let events = audit_events(&server).await;
    let mut actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    // Newest first.
    actions.reverse();
    let id = client.id.as_str();
    let rid = resource_id.as_str();
    let expected = [
        ("resource.create", rid),
        ("client.create", id),
        ("client.update", id),
        ("client.rotate_secret", id),
        ("resource.update", rid),
    ];
    assert_eq!(&actions[..5], &expected, "{events:#?}");
    assert_eq!(actions[5].0, "keys.rotate");
    assert_eq!(
        &actions[6..],
        &[("client.delete", id), ("resource.delete", rid)]
    );
    for e in &events {
        assert_eq!(e["actor"], "bootstrap", "{e}");
        assert!(e["at"].is_i64() && e["id"].is_string(), "{e}");
    }
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(client.secret.as_deref().unwrap()));
    assert!(!text.contains(rotated["client_secret"].as_str().unwrap()));

    // A stored admin token is recorded as itself.
    let made = portcullis::admin::tokens::create(
        &server.state.store,
        &portcullis::admin::Actor::cli(),
        "ci",
        None,
        server.state.now(),
    )
    .await
    .unwrap();
    let (status, _) = send(
        server
            .post("/admin/clients")
            .bearer_auth(&made.token)
            .json(&json!({ "client_name": "by token", "profile": "service" })),
    )
    .await;
    assert_eq!(status, 201);
    let events = audit_events(&server).await;
    assert_eq!(events[0]["action"], "client.create");
    assert_eq!(events[0]["actor"], format!("admin-token:{}", made.id));
    assert_eq!(events[1]["action"], "admin_token.create");
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains(&made.token)
    );
    server.stop().await;
}

async fn resources_can_be_created_listed_updated_and_deleted(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, created) = server
        .admin_post(
            "/resources",
            json!({ "identifier": API, "scopes": ["read", { "name": "write",
                    "description": "Change orders" }] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["identifier"], API);
    assert_eq!(created["name"], API, "the name defaults to the identifier");
    assert_eq!(
        created["scopes"],
        json!([{ "name": "read", "description": "" },
               { "name": "write", "description": "Change orders" }])
    );
    assert_eq!(created["access_token_format"], "jwt");

    let (status, shown) = server.admin_get(&format!("/resources/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown, created);

    for i in 0..2 {
        server
            .resource(&format!("urn:example:api:{i}"), &["read"], json!({}))
            .await;
    }
    let (status, page) = server.admin_get("/resources?limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["resources"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().expect("next");
    let (_, rest) = server
        .admin_get(&format!("/resources?limit=2&after={next}"))
        .await;
    assert_eq!(rest["resources"].as_array().unwrap().len(), 1);
    assert!(rest.get("next").is_none(), "{rest}");

    let owner = server
        .client(json!({ "client_name": "orders api", "profile": "api" }))
        .await;
    let (status, updated) = send(server.admin(Method::PUT, &format!("/resources/{id}")).json(
        &json!({ "identifier": API, "name": "Orders", "scopes": ["read"],
                           "access_token_lifetime": 600, "access_token_format": "opaque",
                           "client_id": owner.id }),
    ))
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Orders");
    assert_eq!(
        updated["scopes"],
        json!([{ "name": "read", "description": "" }])
    );
    assert_eq!(updated["access_token_lifetime"], 600);
    assert_eq!(updated["access_token_format"], "opaque");
    assert_eq!(updated["client_id"], owner.id.as_str());
    let (_, shown) = server.admin_get(&format!("/resources/{id}")).await;
    assert_eq!(shown["name"], "Orders");

    let (status, _) = admin_send(&server, Method::DELETE, &format!("/resources/{id}")).await;
    assert_eq!(status, 204);
    let (status, err) = server.admin_get(&format!("/resources/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "not_found");
    // The identifier is free again.
    server.resource(API, &["read"], json!({})).await;
    server.stop().await;
}

async fn resource_validation_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    let existing = server.resource(API, &["read"], json!({})).await;
    let other = server.resource("urn:example:other", &[], json!({})).await;

    let (status, err) = server
        .admin_post("/resources", json!({ "identifier": API }))
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"], "conflict");

    // Renaming another resource onto a taken identifier conflicts too.
    let (status, err) = send(
        server
            .admin(
                Method::PUT,
                &format!("/resources/{}", other["id"].as_str().unwrap()),
            )
            .json(&json!({ "identifier": API })),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"], "conflict");

    for (body, field) in [
        (json!({ "identifier": "orders-api" }), "identifier"),
        (json!({ "identifier": "/orders" }), "identifier"),
        (
            json!({ "identifier": "https://api.example.com/#frag" }),
            "identifier",
        ),
        (
            json!({ "identifier": "https://b.example.com", "scopes": ["read write"] }),
            "scopes",
        ),
        (
            json!({ "identifier": "https://b.example.com", "scopes": ["say\"what"] }),
            "scopes",
        ),
        (
            json!({ "identifier": "https://b.example.com", "scopes": [""] }),
            "scopes",
        ),
        (
            json!({ "identifier": "https://b.example.com", "scopes": ["a", "a"] }),
            "scopes",
        ),
        (
            json!({ "identifier": "https://b.example.com", "access_token_lifetime": 0 }),
            "access_token_lifetime",
        ),
        (
            json!({ "identifier": "https://b.example.com", "access_token_lifetime": 86_401 }),
            "access_token_lifetime",
        ),
        (
            json!({ "identifier": "https://b.example.com", "client_id": "no-such-client" }),
            "client_id",
        ),
    ] {
        let (status, err) = server.admin_post("/resources", body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(err["error"].is_string(), "{err}");
        let description = err["error_description"].as_str().unwrap_or("");
        assert!(
            description.contains(field),
            "{body}: {description:?} does not name {field}"
        );
    }
    let (_, list) = server.admin_get("/resources").await;
    assert_eq!(list["resources"].as_array().unwrap().len(), 2, "{list}");
    for resource in [&existing, &other] {
        let (_, shown) = server
            .admin_get(&format!("/resources/{}", resource["id"].as_str().unwrap()))
            .await;
        assert_eq!(&shown, resource, "refused changes changed nothing");
    }
    server.stop().await;
}

both_stores!(
    admin_api_requires_a_bearer_token,
    admin_tokens_are_not_client_credentials,
    registration_returns_a_secret_only_for_secret_methods,
    registration_warns_against_bad_practice,
    registration_errors_follow_rfc7591,
    profiles_fill_in_recommended_defaults,
    clients_are_listed_page_by_page,
    a_client_can_be_read_replaced_and_deleted,
    unknown_client_ids_are_404_json,
    rotated_secret_works_and_the_old_one_lasts_the_grace_period,
    rotation_without_grace_retires_the_old_secret_at_once,
    secrets_never_appear_in_reads_or_audit,
    every_admin_change_is_audited,
    resources_can_be_created_listed_updated_and_deleted,
    resource_validation_errors,
);
