//! The admin API's OpenAPI 3.1 description (`/admin/openapi.json`) and Swagger UI
//! (`/admin/docs/`): the description is well formed, describes every admin route and nothing
//! else, its schemas match the JSON the server really sends and takes, and Swagger UI renders it
//! in Chromium with nothing loaded from elsewhere.

use std::collections::{BTreeMap, BTreeSet};

use portcullis::names::path::admin;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::browser::Browser;
use crate::harness::{ADMIN_TOKEN, Backend, EcKey, TestDb, TestServer, send, send_full};

/// The methods the admin API could route; an undocumented one must answer 405.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

async fn description(server: &TestServer) -> Value {
    let response = server.get(admin::OPENAPI).send().await.unwrap();
    assert_eq!(response.status(), 200, "no admin token needed");
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("JSON")
}

/// Every `(method, path)` the description holds.
fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.push((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            let target = spec
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} resolves"));
            resolve(spec, target)
        }
        None => node,
    }
}

/// Whether `value` has one of the JSON Schema types `schema` allows (any, when it names none).
fn has_type(schema: &Value, value: &Value) -> bool {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    types.iter().any(|t| match *t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        other => panic!("unexpected type {other}"),
    })
}

/// The properties and required names of an object schema, `allOf` parts merged.
fn object_parts(spec: &Value, schema: &Value) -> (BTreeMap<String, Value>, BTreeSet<String>) {
    let schema = resolve(spec, schema);
    let mut properties = BTreeMap::new();
    let mut required = BTreeSet::new();
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            let (p, r) = object_parts(spec, part);
            properties.extend(p);
            required.extend(r);
        }
    }
    if let Some(own) = schema["properties"].as_object() {
        properties.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(names) = schema["required"].as_array() {
        required.extend(names.iter().map(|n| n.as_str().unwrap().to_string()));
    }
    (properties, required)
}

/// Checks `value` against `schema` as far as the description uses JSON Schema: types, enums,
/// objects (every key described, every required key present), arrays, `allOf` and `oneOf`.
/// Panics naming `at` and what did not match.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) {
    if let Err(why) = check(spec, schema, value, at) {
        panic!("{why}\nvalue: {value}\nschema: {}", resolve(spec, schema));
    }
}

fn check(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| check(spec, o, value, at).is_ok())
            .count();
        return match matching {
            1 => Ok(()),
            n => Err(format!("{at}: {n} of oneOf match")),
        };
    }
    if !has_type(schema, value) {
        return Err(format!("{at}: {value} is not {}", schema["type"]));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !value.is_null()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(items) = schema.get("items")
        && let Some(array) = value.as_array()
    {
        for (i, item) in array.iter().enumerate() {
            check(spec, items, item, &format!("{at}[{i}]"))?;
        }
    }
    let (properties, required) = object_parts(spec, schema);
    if let Some(object) = value.as_object()
        && (!properties.is_empty() || schema.get("allOf").is_some())
    {
        for (key, field) in object {
            let Some(property) = properties.get(key) else {
                return Err(format!("{at}.{key}: not described"));
            };
            check(spec, property, field, &format!("{at}.{key}"))?;
        }
        if let Some(missing) = required.iter().find(|r| !object.contains_key(*r)) {
            return Err(format!("{at}.{missing}: required but absent"));
        }
    }
    Ok(())
}

/// The schema of the JSON body of `method path`'s `status` answer.
fn response_schema<'a>(spec: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let response = &spec["paths"][path][method]["responses"][status.to_string()];
    assert!(!response.is_null(), "{method} {path} documents {status}");
    &resolve(spec, response)["content"]["application/json"]["schema"]
}

fn request_schema<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    &spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
}

/// The description is OpenAPI 3.1 with the expected info, every `$ref` resolves, every
/// operation has a unique id, a tag, a summary and the 401 of the admin-token layer, and the
/// path parameters match the path templates. The description does not depend on the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_is_openapi_3_1() {
    let db = Backend::Sqlite
        .db("openapi_document")
        .await
        .expect("sqlite");
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;

    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["info"]["title"], "Portcullis admin API");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        spec["info"]["description"]
            .as_str()
            .unwrap()
            .contains("admin token")
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["admin_token"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": spec["components"]["securitySchemes"]["admin_token"]["description"],
        })
    );
    assert_eq!(spec["security"], json!([{ "admin_token": [] }]));

    // Every $ref points into the document.
    fn refs<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all_refs = Vec::new();
    refs(&spec, &mut all_refs);
    assert!(all_refs.len() > 20, "{all_refs:?}");
    for r in all_refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} is local"));
        assert!(spec.pointer(pointer).is_some(), "{r} resolves");
    }

    let mut ids = BTreeSet::new();
    for (method, path) in operations(&spec) {
        let op = &spec["paths"][&path][&method];
        let what = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: operationId"));
        assert!(
            ids.insert(id.to_string()),
            "{what}: operationId {id} is unique"
        );
        assert_eq!(
            op["tags"].as_array().map(Vec::len),
            Some(1),
            "{what}: one tag"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: summary"
        );
        assert_eq!(
            op["responses"]["401"]["$ref"], "#/components/responses/Unauthorized",
            "{what}: 401"
        );
        let successes: Vec<&String> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|s| s.starts_with('2'))
            .collect();
        assert_eq!(successes.len(), 1, "{what}: one success answer");
        for (status, response) in op["responses"].as_object().unwrap() {
            let schema = &resolve(&spec, response)["content"]["application/json"]["schema"];
            if status.starts_with('4') {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/OAuthError",
                    "{what} {status}"
                );
            }
        }
        // The `{name}`s of the template, and the path parameters, are the same names.
        let template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .inspect(|p| assert_eq!(p["required"], true, "{what}: path parameters are required"))
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(template, declared, "{what}: path parameters");
    }
    assert_eq!(ids.len(), 27, "{ids:?}");
    server.stop().await;
}

/// The described paths are exactly the admin API's paths in `names.rs`: a route registered
/// without its annotation, or a path missing from `names::path::admin::ALL`, fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_path_is_described() {
    let db = Backend::Sqlite.db("openapi_paths").await.expect("sqlite");
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;
    let described: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let named: BTreeSet<&str> = admin::ALL.into_iter().collect();
    assert_eq!(named.len(), admin::ALL.len(), "no path named twice");
    assert_eq!(
        named.difference(&described).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "admin paths missing from the description"
    );
    assert_eq!(
        described.difference(&named).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "described paths missing from names::path::admin::ALL"
    );
    server.stop().await;
}

/// Every described operation is routed, and every other method of a described path is not:
/// without a token each described operation meets the admin-token layer (401), which only
/// routed requests reach (an unrouted path gets the 404 fallback); with the token, a method the
/// description does not list answers 405, so a method added to a path without its annotation
/// fails here.
async fn described_operations_are_exactly_the_routed_ones(db: TestDb) {
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;
    let described = operations(&spec);
    assert_eq!(described.len(), 27);
    for (method, path) in &described {
        let url = path.replace("{id}", "no-such-id");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, headers, body) = send_full(server.http.request(m, server.url(&url))).await;
        assert_eq!(status, 401, "{method} {url}: {body}");
        assert_eq!(body["error"], "invalid_token", "{method} {url}");
        assert_eq!(
            headers["www-authenticate"], "Bearer realm=\"portcullis-admin\"",
            "{method} {url}"
        );
    }
    for path in spec["paths"].as_object().unwrap().keys() {
        let url = path.replace("{id}", "no-such-id");
        for method in METHODS {
            if spec["paths"][path].get(method).is_some() {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = send(
                server
                    .http
                    .request(m, server.url(&url))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({})),
            )
            .await;
            assert_eq!(
                status, 405,
                "{method} {url} is not described, so not routed: {body}"
            );
        }
    }
    // The fallback answers paths that are not routed, and needs no token to do so.
    let (status, body) = send(server.get("/admin/no-such-thing")).await;
    assert_eq!(
        (status, &body["error_description"]),
        (404, &json!("no such endpoint"))
    );
    server.stop().await;
}

/// The JSON the server sends matches the described response schemas, and the JSON it takes
/// matches the request schemas: each admin resource is created, read, listed and updated, and
/// every answer (errors included) is checked against its operation's documented status.
async fn schemas_match_the_json_on_the_wire(db: TestDb) {
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;
    let call = async |method: &str, path: &str, url: &str, body: Option<Value>, status: u16| {
        if let Some(body) = &body {
            conforms(
                &spec,
                request_schema(&spec, method, path),
                body,
                &format!("{method} {path} request"),
            );
        }
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = server.admin(m, url.strip_prefix("/admin").unwrap());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (got, answer) = send(request).await;
        assert_eq!(got, status, "{method} {url}: {answer}");
        if status != 204 {
            let schema = response_schema(&spec, method, path, status);
            conforms(&spec, schema, &answer, &format!("{method} {path} {status}"));
        }
        answer
    };

    // Resources.
    let resource = json!({
        "identifier": "https://api.example.com", "name": "Orders",
        "scopes": ["orders.read", { "name": "orders.write", "description": "Change orders" }],
        "access_token_lifetime": 600, "access_token_format": "jwt", "signing_alg": "ES256",
    });
    let created = call(
        "post",
        admin::RESOURCES,
        admin::RESOURCES,
        Some(resource.clone()),
        201,
    )
    .await;
    let one = format!("{}/{}", admin::RESOURCES, created["id"].as_str().unwrap());
    call("get", admin::RESOURCE, &one, None, 200).await;
    call("put", admin::RESOURCE, &one, Some(resource), 200).await;
    call(
        "get",
        admin::RESOURCES,
        &format!("{}?limit=1", admin::RESOURCES),
        None,
        200,
    )
    .await;
    call(
        "post",
        admin::RESOURCES,
        admin::RESOURCES,
        Some(json!({ "identifier": "no uri" })),
        400,
    )
    .await;

    // Clients: registration (with the secret, once), reads, replacement, secret rotation.
    let registration = json!({
        "client_name": "Orders web", "profile": "web",
        "redirect_uris": ["https://app.example.com/cb"],
        "scope": "openid orders.read", "allowed_resources": ["https://api.example.com"],
        "contacts": ["ops@example.com"], "backchannel_logout_uri": "https://app.example.com/bcl",
        "id_token_signed_response_alg": "EdDSA",
    });
    let client = call(
        "post",
        admin::CLIENTS,
        admin::CLIENTS,
        Some(registration.clone()),
        201,
    )
    .await;
    assert!(client["client_secret"].is_string());
    let one = format!(
        "{}/{}",
        admin::CLIENTS,
        client["client_id"].as_str().unwrap()
    );
    call("get", admin::CLIENT, &one, None, 200).await;
    call("put", admin::CLIENT, &one, Some(registration), 200).await;
    call("get", admin::CLIENTS, admin::CLIENTS, None, 200).await;
    let secret = format!("{one}/secret");
    call(
        "post",
        admin::CLIENT_SECRET,
        &secret,
        Some(json!({ "grace_period": 60 })),
        200,
    )
    .await;
    call("get", admin::CLIENT, "/admin/clients/nope", None, 404).await;
    call(
        "post",
        admin::CLIENTS,
        admin::CLIENTS,
        Some(json!({ "client_name": "" })),
        400,
    )
    .await;

    // Issuers, of both kinds' shape (JWT here).
    let key = EcKey::generate("idp-1");
    let issuer = json!({
        "kind": "jwt", "name": "Example IdP", "issuer": "https://idp.example.com",
        "jwks": { "keys": [key.jwk()] }, "algorithms": ["ES256"],
        "allowed_clients": [client["client_id"]], "scopes": ["orders.read"], "subject": "external",
    });
    let created = call(
        "post",
        admin::ISSUERS,
        admin::ISSUERS,
        Some(issuer.clone()),
        201,
    )
    .await;
    let one = format!("{}/{}", admin::ISSUERS, created["id"].as_str().unwrap());
    call("get", admin::ISSUER, &one, None, 200).await;
    call("put", admin::ISSUER, &one, Some(issuer.clone()), 200).await;
    call("get", admin::ISSUERS, admin::ISSUERS, None, 200).await;
    call("post", admin::ISSUERS, admin::ISSUERS, Some(issuer), 409).await;

    // Users, claims and an address included.
    let user = json!({
        "username": "alice", "password": "correct horse battery", "name": "Alice Example",
        "email": "alice@example.com", "email_verified": true,
        "address": { "locality": "Springfield", "country": "US" },
    });
    let created = call("post", admin::USERS, admin::USERS, Some(user.clone()), 201).await;
    let one = format!("{}/{}", admin::USERS, created["id"].as_str().unwrap());
    call("get", admin::USER, &one, None, 200).await;
    call(
        "put",
        admin::USER,
        &one,
        Some(json!({ "disabled": false, "locale": "en-US" })),
        200,
    )
    .await;
    call("get", admin::USERS, admin::USERS, None, 200).await;
    call("post", admin::USERS, admin::USERS, Some(user), 409).await;
    call(
        "delete",
        admin::USER_LOCKOUT,
        &format!("{one}/lockout"),
        None,
        204,
    )
    .await;

    // Keys, the audit trail, legacy usage.
    call("get", admin::KEYS, admin::KEYS, None, 200).await;
    let rotation = json!({ "algs": ["ES256"], "activate_in": 3600 });
    let keys = call(
        "post",
        admin::KEYS_ROTATE,
        admin::KEYS_ROTATE,
        Some(rotation),
        200,
    )
    .await;
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["status"] == "next"),
        "{keys}"
    );
    let audit = call("get", admin::AUDIT, admin::AUDIT, None, 200).await;
    assert!(!audit["events"].as_array().unwrap().is_empty());
    let now = server.state.now();
    let client_id = client["client_id"].as_str().unwrap();
    server
        .state
        .store
        .record_legacy_use(client_id, "password", now / 86_400, now)
        .await
        .unwrap();
    let usage = call("get", admin::LEGACY_USAGE, admin::LEGACY_USAGE, None, 200).await;
    assert_eq!(usage["usage"].as_array().unwrap().len(), 1, "{usage}");
    call(
        "get",
        admin::LEGACY_USAGE,
        &format!("{}?days=0", admin::LEGACY_USAGE),
        None,
        400,
    )
    .await;

    // The 401 every operation documents.
    let (status, body) = send(server.get(admin::KEYS)).await;
    assert_eq!(status, 401);
    conforms(
        &spec,
        response_schema(&spec, "get", admin::KEYS, 401),
        &body,
        "401",
    );
    server.stop().await;
}

both_stores!(
    described_operations_are_exactly_the_routed_ones,
    schemas_match_the_json_on_the_wire
);

/// The user request schema names what `UserRequest::from_json` reads: `username`, `password`,
/// `disabled` and the OIDC claims, no more and no less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_request_schema_names_every_field_read() {
    let db = Backend::Sqlite
        .db("openapi_user_schema")
        .await
        .expect("sqlite");
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;
    let (properties, required) = object_parts(&spec, request_schema(&spec, "post", admin::USERS));
    let described: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    let mut read: BTreeSet<&str> = portcullis::users::CLAIM_NAMES.into_iter().collect();
    read.extend(["username", "password", "disabled"]);
    assert_eq!(described, read);
    assert!(required.is_empty(), "{required:?}");
    server.stop().await;
}

/// Swagger UI: `/admin/docs` leads to the page, which is served with a policy that allows this
/// server only, loads its own files, points at the description, and sends no description to
/// the online validator. Only the files the page needs are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_is_served_from_this_server_only() {
    let db = Backend::Sqlite.db("openapi_docs").await.expect("sqlite");
    let server = TestServer::start(&db).await;

    let response = server.get(admin::DOCS).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/docs/");

    let response = server.get("/admin/docs/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("http") && !csp.contains('*'),
        "no other origin: {csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(!html.contains("http"), "nothing from elsewhere: {html}");

    let response = server
        .get("/admin/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let script = response.text().await.unwrap();
    assert!(
        script.contains("\"url\": \"/admin/openapi.json\""),
        "{script}"
    );
    assert!(script.contains("\"validatorUrl\": \"none\""), "{script}");
    assert!(!script.contains("petstore"), "{script}");

    for (file, kind) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "css"),
    ] {
        let response = server
            .get(&format!("/admin/docs/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.contains(kind), "{file}: {content_type}");
        assert!(response.bytes().await.unwrap().len() > 10_000, "{file}");
    }
    for file in [
        "oauth2-redirect.html",
        "swagger-ui-bundle.js.map",
        "..%2Fopenapi.json",
    ] {
        let response = server
            .get(&format!("/admin/docs/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{file}");
    }
    server.stop().await;
}

/// Chromium opens `/admin/docs`, Swagger UI renders one block per described operation, and
/// with the admin token entered under "Authorize", "Try it out" on `GET /admin/keys` gets a 200
/// from this server. One store is enough: this tests the page, not the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_admin_api_in_swagger_ui() {
    let Some(browser) = Browser::start("chromium_renders_the_admin_api_in_swagger_ui").await else {
        return;
    };
    let db = Backend::Sqlite.db("openapi_browser").await.expect("sqlite");
    let server = TestServer::start(&db).await;
    let spec = description(&server).await;

    browser.goto(&server.url(admin::DOCS)).await;
    browser.find(".opblock").await;
    assert_eq!(browser.count(".opblock").await, operations(&spec).len());
    let title = browser.text(".info .title").await;
    assert!(title.starts_with("Portcullis admin API"), "{title}");
    let source = browser.source().await;
    for (_, path) in operations(&spec) {
        assert!(
            source.contains(&format!("data-path=\"{path}\"")),
            "{path} rendered"
        );
    }

    // Authorize with the admin token, then try GET /admin/keys.
    browser.click(".auth-wrapper .authorize").await;
    browser.fill(".auth-container input", ADMIN_TOKEN).await;
    browser.click(".auth-btn-wrapper .authorize").await;
    browser.click(".auth-btn-wrapper .btn-done").await;
    browser
        .click("#operations-keys-list_keys .opblock-summary-control")
        .await;
    browser
        .click("#operations-keys-list_keys .try-out__btn")
        .await;
    browser.click("#operations-keys-list_keys .execute").await;
    let status = browser
        .text("#operations-keys-list_keys .live-responses-table tr.response .response-col_status")
        .await;
    assert_eq!(status.trim(), "200", "GET /admin/keys from Swagger UI");
    browser.close().await;
    server.stop().await;
}
