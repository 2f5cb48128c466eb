//! Malformed, oversized and misdirected requests to every endpoint. Whatever a client sends,
//! the answer is a 4xx with an RFC 6749 §5.2-style JSON body (`error` is a string), never a
//! 5xx and never framework text; token endpoint errors are not cached (RFC 6749 §5.1).

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::both_stores;
use crate::harness::{Backend, TestDb, TestServer, header, send};

const API: &str = "https://api.example.com";
const FORM: &str = "application/x-www-form-urlencoded";
/// Over the default 64 KiB body limit.
const OVERSIZED: usize = 70 * 1024;

struct Case {
    name: String,
    request: RequestBuilder,
}

/// Every way the answer to a bad request can be wrong, as text; empty when it is right.
async fn problems(case: Case) -> Option<String> {
    let Case { name, request } = case;
    let path = request
        .try_clone()
        .and_then(|r| r.build().ok())
        .map(|r| r.url().path().to_string())
        .unwrap_or_default();
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Some(format!("{name}: request failed: {e}")),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let mut wrong = Vec::new();
    if !(400..500).contains(&status) {
        wrong.push("not a 4xx".to_string());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(body) if body["error"].is_string() => {}
        _ => {
            let start: String = text.chars().take(200).collect();
            wrong.push(format!("body is not a JSON error: {start:?}"))
        }
    }
    if !header(&headers, "content-type").starts_with("application/json") {
        wrong.push(format!(
            "content-type {:?}",
            header(&headers, "content-type")
        ));
    }
    if path == "/token" && header(&headers, "cache-control") != "no-store" {
        wrong.push(format!(
            "cache-control {:?}",
            header(&headers, "cache-control")
        ));
    }
    (!wrong.is_empty()).then(|| format!("{name} -> {status}: {}", wrong.join("; ")))
}

fn b64(raw: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", b64(&format!("{id}:{secret}")))
}

async fn every_endpoint_refuses_bad_input_with_a_json_4xx(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let (_, resource) = server.admin_get("/resources").await;
    let resource_id = resource["resources"][0]["id"].as_str().unwrap().to_string();
    let client_id = client.id.clone();
    let secret = client.secret.clone().unwrap();
    let auth = basic(&client_id, &secret);
    let big = "a".repeat(OVERSIZED);
    let long_id = "x".repeat(8 * 1024);
    // Random text does not compress: PostgreSQL's index limit (2704 bytes) applies in full.
    let incompressible: String = (0..600)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name: String, request: RequestBuilder| cases.push(Case { name, request });

    // The form endpoints: RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1.
    for ep in ["/token", "/introspect", "/revoke"] {
        let form = |body: Vec<u8>| {
            server
                .post(ep)
                .header("content-type", FORM)
                .header("authorization", &auth)
                .body(body)
        };
        let valid = "grant_type=client_credentials&token=abc";
        add(
            format!("{ep} JSON body"),
            server
                .post(ep)
                .header("authorization", &auth)
                .json(&json!({ "grant_type": "client_credentials", "token": "abc" })),
        );
        add(
            format!("{ep} no content type"),
            server.post(ep).header("authorization", &auth).body(valid),
        );
        for ct in [
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencodedX",
        ] {
            add(
                format!("{ep} content type {ct}"),
                server
                    .post(ep)
                    .header("authorization", &auth)
                    .header("content-type", ct)
                    .body(valid),
            );
        }
        add(
            format!("{ep} oversized body"),
            form(format!("{valid}&pad={big}").into_bytes()),
        );
        add(
            format!("{ep} invalid UTF-8"),
            form(b"grant_type=\xff\xfe&token=\xc3&client_id=\xff".to_vec()),
        );
        add(
            format!("{ep} broken percent-encoding"),
            form(b"grant_type=%zz%&token=%&scope=%e2%28%a1&client_id=%zz%".to_vec()),
        );
        add(
            format!("{ep} repeated parameter"),
            form(format!("{valid}&token=again&grant_type=again").into_bytes()),
        );
        add(format!("{ep} empty body"), form(Vec::new()));
        add(
            format!("{ep} no client authentication"),
            server.post(ep).header("content-type", FORM).body(valid),
        );
        for (what, value) in [
            ("not base64", "Basic !!!".to_string()),
            ("no colon", format!("Basic {}", b64("no-colon"))),
            ("NUL client id", basic("%00", "x")),
            ("bad escape", basic("%zz", "x")),
            ("unknown client", basic(&long_id, "x")),
            ("wrong secret", basic(&client_id, "wrong")),
        ] {
            add(
                format!("{ep} Basic {what}"),
                server
                    .post(ep)
                    .header("content-type", FORM)
                    .header("authorization", value)
                    .body(valid),
            );
        }
        add(
            format!("{ep} two authentication methods"),
            form(format!("{valid}&client_secret={secret}").into_bytes()),
        );
        add(
            format!("{ep} repeated client_id"),
            server
                .post(ep)
                .header("content-type", FORM)
                .body(format!("{valid}&client_id=a&client_id=b&client_secret=x")),
        );
        add(
            format!("{ep} NUL client_id"),
            server
                .post(ep)
                .header("content-type", FORM)
                .body(format!("{valid}&client_id=%00&client_secret=x")),
        );
        add(
            format!("{ep} long client_id"),
            server
                .post(ep)
                .header("content-type", FORM)
                .body(format!("{valid}&client_id={long_id}&client_secret=x")),
        );
        add(
            format!("{ep} client_id does not match Basic"),
            form(format!("{valid}&client_id=someone-else").into_bytes()),
        );
        add(
            format!("{ep} unknown assertion type"),
            server.post(ep).header("content-type", FORM).body(format!(
                "{valid}&client_assertion_type=urn%3Aexample&client_assertion=a.b.c"
            )),
        );
        add(
            format!("{ep} garbage assertion"),
            server.post(ep).header("content-type", FORM).body(format!(
                "{valid}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=%00.%ff.x"
            )),
        );
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            add(
                format!("{method} {ep}"),
                server.http.request(method, server.url(ep)),
            );
        }
    }
    // The token endpoint's own parameters.
    for (what, body) in [
        ("missing grant_type", "scope=read".to_string()),
        ("unknown grant_type", "grant_type=magic".to_string()),
        (
            "grant_type disabled by default",
            "grant_type=password&username=a&password=b".to_string(),
        ),
        (
            "NUL resource",
            "grant_type=client_credentials&resource=%00".to_string(),
        ),
        (
            "relative resource",
            "grant_type=client_credentials&resource=%2Fapi".to_string(),
        ),
        (
            "long resource",
            format!("grant_type=client_credentials&resource=https%3A%2F%2F{long_id}"),
        ),
        (
            "unknown resource",
            "grant_type=client_credentials&resource=https%3A%2F%2Fother.example.com".to_string(),
        ),
        (
            "malformed scope",
            "grant_type=client_credentials&scope=%22quoted%22".to_string(),
        ),
        (
            "scope not allowed",
            "grant_type=client_credentials&scope=admin".to_string(),
        ),
        (
            "NUL scope",
            "grant_type=client_credentials&scope=%00".to_string(),
        ),
        ("query string instead of body", String::new()),
    ] {
        let url = if body.is_empty() {
            server.url("/token?grant_type=client_credentials")
        } else {
            server.url("/token")
        };
        add(
            format!("/token {what}"),
            server
                .http
                .post(url)
                .header("content-type", FORM)
                .header("authorization", &auth)
                .body(body),
        );
    }
    add(
        "/introspect without a token".into(),
        server
            .post("/introspect")
            .header("content-type", FORM)
            .header("authorization", &auth)
            .body("token_type_hint=access_token"),
    );
    add(
        "/revoke without a token".into(),
        server
            .post("/revoke")
            .header("content-type", FORM)
            .header("authorization", &auth)
            .body("token_type_hint=access_token"),
    );

    // The admin API's JSON bodies, on every endpoint that takes one.
    let client_path = format!("/clients/{client_id}");
    let resource_path = format!("/resources/{resource_id}");
    let secret_path = format!("/clients/{client_id}/secret");
    let json_endpoints: [(Method, &str, Value); 6] = [
        (Method::POST, "/clients", json!({ "client_name": 5 })),
        (
            Method::PUT,
            &client_path,
            json!({ "client_name": "x", "redirect_uris": "https://a.example.com/cb" }),
        ),
        (Method::POST, "/resources", json!({ "identifier": 5 })),
        (
            Method::PUT,
            &resource_path,
            json!({ "identifier": API, "scopes": "read" }),
        ),
        (Method::POST, "/keys/rotate", json!({ "algs": "ES256" })),
        (
            Method::POST,
            &secret_path,
            json!({ "grace_period": "soon" }),
        ),
    ];
    for (method, path, wrong_shape) in json_endpoints {
        let raw = |body: Vec<u8>, ct: &str| {
            server
                .admin(method.clone(), path)
                .header("content-type", ct)
                .body(body)
        };
        let json_raw = |body: &str| raw(body.as_bytes().to_vec(), "application/json");
        add(
            format!("{method} /admin{path} wrong shape"),
            server.admin(method.clone(), path).json(&wrong_shape),
        );
        // serde reads a struct from a JSON array too; rotating keys takes only defaultable
        // fields, so `[]` there is an empty request, not an error.
        if path != "/keys/rotate" {
            add(format!("{method} /admin{path} array"), json_raw("[]"));
        }
        for (what, body) in [
            ("garbage JSON", "{not json"),
            ("truncated JSON", "{\"client_name\": "),
            ("string", "\"hello\""),
            ("number", "42"),
            ("null", "null"),
            ("trailing garbage", "{} {}"),
            (
                "unknown enum value",
                r#"{"profile": "robot", "algs": ["HS256"], "access_token_format": "cbor", "identifier": "urn:x", "client_name": "x", "grace_period": -1}"#,
            ),
        ] {
            add(format!("{method} /admin{path} {what}"), json_raw(body));
        }
        add(
            format!("{method} /admin{path} invalid UTF-8"),
            raw(
                b"{\"client_name\": \"\xff\xfe\"}".to_vec(),
                "application/json",
            ),
        );
        add(
            format!("{method} /admin{path} deep nesting"),
            json_raw(&"[".repeat(10_000)),
        );
        add(
            format!("{method} /admin{path} oversized"),
            server
                .admin(method.clone(), path)
                .json(&json!({ "client_name": big, "identifier": big })),
        );
        for ct in ["text/plain", "application/x-www-form-urlencoded"] {
            add(
                format!("{method} /admin{path} as {ct}"),
                raw(br#"{"client_name": "x"}"#.to_vec(), ct),
            );
        }
        add(
            format!("{method} /admin{path} without a token"),
            server
                .http
                .request(method.clone(), server.url(&format!("/admin{path}")))
                .body("{not json"),
        );
    }
    // POST /admin/clients and /admin/resources insist on a body.
    for path in ["/clients", "/resources"] {
        add(
            format!("POST /admin{path} empty body"),
            server
                .admin(Method::POST, path)
                .header("content-type", "application/json"),
        );
    }
    // Values in range for JSON but not for the server.
    for (what, path, body) in [
        (
            "NUL client_name",
            "/clients",
            r#"{"client_name": "a\u0000b", "profile": "service"}"#,
        ),
        (
            "huge client_name",
            "/clients",
            &*format!(
                r#"{{"client_name": "{}", "profile": "service"}}"#,
                "n".repeat(10_000)
            ),
        ),
        (
            "NUL redirect URI",
            "/clients",
            r#"{"client_name": "x", "redirect_uris": ["https://a.example.com/\u0000"]}"#,
        ),
        (
            "NUL identifier",
            "/resources",
            r#"{"identifier": "https://api.example.com/\u0000"}"#,
        ),
        (
            "NUL resource name",
            "/resources",
            r#"{"identifier": "https://n.example.com", "name": "a\u0000"}"#,
        ),
        (
            "NUL scope",
            "/resources",
            r#"{"identifier": "https://s.example.com", "scopes": ["a\u0000"]}"#,
        ),
        (
            "huge identifier",
            "/resources",
            &*format!(
                r#"{{"identifier": "https://api.example.com/{}"}}"#,
                incompressible
            ),
        ),
        (
            "enum as a number",
            "/clients",
            r#"{"client_name": "x", "token_endpoint_auth_method": 7}"#,
        ),
        (
            "unknown field",
            "/resources",
            r#"{"identifier": "https://u.example.com", "surprise": 1}"#,
        ),
        (
            "negative lifetime",
            "/resources",
            r#"{"identifier": "https://l.example.com", "access_token_lifetime": -1}"#,
        ),
        (
            "NUL resource client_id",
            "/resources",
            r#"{"identifier": "https://c.example.com", "client_id": "\u0000"}"#,
        ),
        (
            "unknown algorithm",
            "/keys/rotate",
            r#"{"algs": ["HS256"]}"#,
        ),
        (
            "negative activate_in",
            "/keys/rotate",
            r#"{"activate_in": -1}"#,
        ),
        (
            "fractional activate_in",
            "/keys/rotate",
            r#"{"activate_in": 1.5}"#,
        ),
        (
            "activate_in i64::MAX",
            "/keys/rotate",
            r#"{"activate_in": 9223372036854775807}"#,
        ),
        (
            "activate_in u64::MAX",
            "/keys/rotate",
            r#"{"activate_in": 18446744073709551615}"#,
        ),
        ("unknown rotate field", "/keys/rotate", r#"{"force": true}"#),
        (
            "negative grace_period",
            &secret_path,
            r#"{"grace_period": -5}"#,
        ),
        (
            "grace_period i64::MAX",
            &secret_path,
            r#"{"grace_period": 9223372036854775807}"#,
        ),
        (
            "grace_period u64::MAX",
            &secret_path,
            r#"{"grace_period": 18446744073709551615}"#,
        ),
        ("unknown secret field", &secret_path, r#"{"grace": 5}"#),
    ] {
        add(
            format!("POST /admin{path} {what}"),
            server
                .admin(Method::POST, path)
                .header("content-type", "application/json")
                .body(body.to_string()),
        );
    }
    add(
        "PUT /admin/clients/{id} NUL client_name".into(),
        server
            .admin(Method::PUT, &client_path)
            .header("content-type", "application/json")
            .body(r#"{"client_name": "\u0000", "profile": "service"}"#),
    );

    // Queries and path ids.
    for path in [
        "/clients?limit=abc",
        "/clients?limit=99999999999999999999",
        "/clients?limit=1&limit=2",
        "/clients?after=%00",
        "/resources?limit=-",
        "/resources?after=%00",
        "/audit?limit=lots",
    ] {
        add(format!("GET /admin{path}"), server.admin(Method::GET, path));
    }
    for (method, path) in [
        (Method::GET, format!("/clients/{long_id}")),
        (Method::DELETE, format!("/clients/{long_id}")),
        (Method::POST, format!("/clients/{long_id}/secret")),
        (Method::GET, "/clients/%ff".to_string()),
        (Method::GET, "/clients/%00".to_string()),
        (Method::DELETE, "/clients/%00".to_string()),
        (Method::POST, "/clients/%00/secret".to_string()),
        (Method::GET, format!("/resources/{long_id}")),
        (Method::DELETE, format!("/resources/{long_id}")),
        (Method::GET, "/resources/%ff".to_string()),
        (Method::GET, "/resources/%00".to_string()),
        (Method::DELETE, "/resources/%00".to_string()),
    ] {
        add(
            format!("{method} /admin{}", &path[..path.len().min(40)]),
            server.admin(method.clone(), &path),
        );
    }
    for (path, body) in [
        (
            format!("/clients/{long_id}"),
            json!({ "client_name": "x", "profile": "service" }),
        ),
        (
            "/clients/%00".to_string(),
            json!({ "client_name": "x", "profile": "service" }),
        ),
        (
            format!("/resources/{long_id}"),
            json!({ "identifier": "https://p.example.com" }),
        ),
        (
            "/resources/%00".to_string(),
            json!({ "identifier": "https://p.example.com" }),
        ),
    ] {
        add(
            format!("PUT /admin{}", &path[..path.len().min(40)]),
            server.admin(Method::PUT, &path).json(&body),
        );
    }

    // Wrong methods and unknown paths.
    for (method, path) in [
        (Method::PATCH, client_path.as_str()),
        (Method::POST, client_path.as_str()),
        (Method::DELETE, "/clients"),
        (Method::PUT, "/resources"),
        (Method::PATCH, resource_path.as_str()),
        (Method::GET, "/keys/rotate"),
        (Method::POST, "/keys"),
        (Method::GET, secret_path.as_str()),
        (Method::DELETE, secret_path.as_str()),
        (Method::POST, "/audit"),
        (Method::GET, "/nope"),
        (Method::GET, "/"),
        (Method::GET, "/clients/a/b/c"),
    ] {
        add(
            format!("{method} /admin{path}"),
            server.admin(method.clone(), path),
        );
    }
    for (method, path) in [
        (Method::POST, "/.well-known/openid-configuration"),
        (Method::DELETE, "/.well-known/oauth-authorization-server"),
        (Method::POST, "/.well-known/jwks.json"),
        (Method::PUT, "/.well-known/jwks.json"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/readyz"),
        (Method::GET, "/nope"),
        (Method::GET, "/.well-known/nope"),
        (Method::GET, "/token/extra"),
        (Method::POST, "/admin"),
        (Method::GET, "/admin/clients/"),
        (Method::GET, "/%ff%fe"),
    ] {
        add(
            format!("{method} {path}"),
            server.http.request(method.clone(), server.url(path)),
        );
    }
    add(
        "GET a very long unknown path".to_string(),
        server.get(&format!("/{}", "y".repeat(8 * 1024))),
    );

    let total = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        failures.extend(problems(case).await);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} bad requests were answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // None of it hurt: the server still serves, and the client still gets tokens.
    let (status, _) = send(server.get("/readyz")).await;
    assert_eq!(status, 200);
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// Over the limit is 413 (RFC 9110 §15.5.14), whatever the endpoint and media type.
async fn oversized_bodies_are_413(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let pad = "a".repeat(OVERSIZED);
    let secret = client.secret.as_deref();
    for request in [
        server
            .post("/token")
            .basic_auth(&client.id, secret)
            .form(&[("grant_type", "client_credentials"), ("pad", &pad)]),
        server
            .post("/introspect")
            .basic_auth(&client.id, secret)
            .form(&[("token", pad.as_str())]),
        server
            .admin(Method::POST, "/clients")
            .json(&json!({ "client_name": pad })),
        server
            .admin(Method::POST, "/keys/rotate")
            .json(&json!({ "algs": [], "pad": pad })),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error"], "invalid_request");
    }
    // Just under the limit is read (and refused for what it says, not for its size).
    let (status, body) = server
        .admin_post("/clients", json!({ "client_name": "a".repeat(60 * 1024) }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
    server.stop().await;
}

async fn probes_answer(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, body) = send(server.get("/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let (status, body) = send(server.get("/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    let backend = match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], backend);
    server.stop().await;
}

both_stores!(
    every_endpoint_refuses_bad_input_with_a_json_4xx,
    oversized_bodies_are_413,
    probes_answer
);
