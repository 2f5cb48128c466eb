//! Hostile input over HTTP: megabyte bodies on every POST endpoint, XML bombs and
//! deep nesting as SAML assertions, JWK Sets with duplicate `kid`s, unicode and control
//! characters in client ids, CRLF in parameters, and open-redirect tricks against a registered
//! redirect URI. `alg: none` and HS256 keyed with the public key are in jwt_bearer.rs and
//! client_auth.rs; oversized bodies just over the limit in bad_input.rs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{CLIENT_ASSERTION_TYPE, Registration, SAML_BEARER};
use crate::harness::{Client, EcKey, TestDb, TestServer, header, send, send_full};
use crate::parties::JwksHost;

const API: &str = "https://api.example.com";
const GOOD: &str = "https://good.example/cb";
const FORM: &str = "application/x-www-form-urlencoded";

/// A web client whose one registered redirect URI is `GOOD`.
async fn web_client(server: &TestServer) -> Client {
    Registration::new("good app", "web")
        .redirect_uris(&[GOOD])
        .scope("openid read")
        .allowed_resources(&[API])
        .register(server)
        .await
}

/// One mebibyte and a bit: far over the 64 KiB body limit.
fn megabyte() -> String {
    "a".repeat(1024 * 1024 + 1)
}

async fn megabyte_bodies_are_413_json_on_every_post_endpoint(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let (_, resource) = server.admin_get("/resources").await;
    let resource_id = resource["resources"][0]["id"].as_str().unwrap().to_string();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            client.id,
            client.secret.as_deref().unwrap()
        ))
    );
    let admin = format!("Bearer {}", crate::harness::ADMIN_TOKEN);
    let form_body = format!("grant_type=client_credentials&pad={}", megabyte()).into_bytes();
    let json_body = json!({ "client_name": megabyte() })
        .to_string()
        .into_bytes();
    let mut endpoints: Vec<(&str, String, &str, &str, &[u8])> = [
        "/token",
        "/introspect",
        "/revoke",
        "/device_authorization",
        "/userinfo",
        "/authorize",
        "/authorize/signin",
        "/authorize/consent",
        "/device",
        "/device/signin",
        "/device/approve",
        "/logout",
    ]
    .into_iter()
    .map(|p| {
        (
            "POST",
            p.to_string(),
            FORM,
            basic.as_str(),
            form_body.as_slice(),
        )
    })
    .collect();
    for (method, path) in [
        ("POST", "/admin/clients".to_string()),
        ("PUT", format!("/admin/clients/{}", client.id)),
        ("POST", format!("/admin/clients/{}/secret", client.id)),
        ("POST", "/admin/resources".to_string()),
        ("PUT", format!("/admin/resources/{resource_id}")),
        ("POST", "/admin/issuers".to_string()),
        ("POST", "/admin/users".to_string()),
        ("POST", "/admin/keys/rotate".to_string()),
    ] {
        endpoints.push((
            method,
            path,
            "application/json",
            admin.as_str(),
            json_body.as_slice(),
        ));
    }
    for (method, path, content_type, authorization, body) in endpoints {
        // Announced by Content-Length, and streamed in chunks with no length.
        for chunked in [false, true] {
            let what = format!("{method} {path} (chunked: {chunked})");
            let request = RawRequest {
                method,
                path: &path,
                content_type,
                authorization,
                body,
                chunked,
            };
            let (status, content_type, text) = request.send(&server).await;
            assert_eq!(status, 413, "{what}: {text}");
            assert!(
                content_type.starts_with("application/json"),
                "{what}: {content_type}"
            );
            let body: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
            assert_eq!(body["error"], "invalid_request", "{what}: {body}");
        }
    }
    // The server is unhurt and still serves the client.
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// A request written on a raw connection while its answer is read: a server may answer 413
/// before the body is sent and close, which an HTTP client that first finishes sending reports
/// as a broken connection instead of the answer.
struct RawRequest<'a> {
    method: &'a str,
    path: &'a str,
    content_type: &'a str,
    authorization: &'a str,
    body: &'a [u8],
    chunked: bool,
}

impl RawRequest<'_> {
    /// Status, content type and body of the answer.
    async fn send(&self, server: &TestServer) -> (u16, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = server.base.trim_start_matches("http://").to_string();
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let (mut read, mut write) = stream.into_split();
        let length = if self.chunked {
            "Transfer-Encoding: chunked".to_string()
        } else {
            format!("Content-Length: {}", self.body.len())
        };
        let head = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {}\r\nAuthorization: {}\r\n{length}\r\nConnection: close\r\n\r\n",
            self.method, self.path, self.content_type, self.authorization
        );
        let mut bytes = head.into_bytes();
        for chunk in self.body.chunks(16 * 1024) {
            if self.chunked {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            } else {
                bytes.extend_from_slice(chunk);
            }
        }
        if self.chunked {
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
        // Written in the background; a write refused once the server has answered is fine.
        let writer = tokio::spawn(async move {
            for piece in bytes.chunks(16 * 1024) {
                if write.write_all(piece).await.is_err() {
                    return;
                }
            }
            let _ = write.flush().await;
        });
        let mut answer = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let read_all = async {
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read_all)
            .await
            .expect("an answer within 20 s");
        writer.abort();
        let text = String::from_utf8_lossy(&answer).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let content_type = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        // A chunked answer: the JSON is the one chunk's data.
        let body = match (body.find('{'), body.rfind('}')) {
            (Some(a), Some(b)) if a < b => body[a..=b].to_string(),
            _ => body.to_string(),
        };
        (status, content_type, body)
    }
}

/// The SAML grant's client and an issuer for it (any certificate: every case here is refused
/// before a signature is looked at).
async fn saml_client(server: &TestServer) -> Client {
    server.resource(API, &["read"], json!({})).await;
    let client = Registration::new("saml job", "service")
        .grant_types(&[SAML_BEARER])
        .scope("read")
        .allowed_resources(&[API])
        .register(server)
        .await;
    let cert = std::fs::read_to_string(format!(
        "{}/tests/fixtures/saml/idp_cert.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, body) = server
        .admin_post(
            "/issuers",
            json!({
                "kind": "saml", "name": "IdP", "entity_id": "https://idp.example.test/saml",
                "certificates": [cert], "allowed_clients": [client.id], "scopes": ["read"],
                "subject": "external",
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    client
}

const ASSERTION_OPEN: &str = "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
    ID=\"_x\" Version=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\">\
    <saml:Issuer>https://idp.example.test/saml</saml:Issuer>";

async fn xml_bombs_and_deep_nesting_are_refused_as_invalid_grant(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = saml_client(&server).await;
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]>{ASSERTION_OPEN}&lol9;</saml:Assertion>",
        (1..=9)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!(
                    "&lol{};",
                    if i == 1 {
                        String::new()
                    } else {
                        (i - 1).to_string()
                    }
                )
                .repeat(10)
            ))
            .collect::<String>()
    );
    let external = format!(
        "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{ASSERTION_OPEN}&x;</saml:Assertion>"
    );
    let parameter = format!(
        "<!doctype a [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/evil.dtd\"> %p;]>{ASSERTION_OPEN}</saml:Assertion>"
    );
    // 3000 levels: within the size limit (32 KiB), far past the parser's depth cap.
    let deep = format!(
        "{ASSERTION_OPEN}{}{}</saml:Assertion>",
        "<a>".repeat(3000),
        "</a>".repeat(3000)
    );
    let unclosed_deep = format!("{ASSERTION_OPEN}{}", "<saml:Advice>".repeat(2400));
    let wide = format!("{ASSERTION_OPEN}{}</saml:Assertion>", "<a/>".repeat(7000));
    let cases = [
        ("billion laughs", laughs.as_str(), "DOCTYPE"),
        ("external entity", external.as_str(), "DOCTYPE"),
        ("parameter entity", parameter.as_str(), "DOCTYPE"),
        ("deep nesting", deep.as_str(), "well-formed"),
        (
            "deep unclosed nesting",
            unclosed_deep.as_str(),
            "well-formed",
        ),
        ("wide and unsigned", wide.as_str(), "not signed"),
    ];
    for (what, xml, says) in cases {
        let (status, body) = server
            .post_as(
                "/token",
                &client,
                &[
                    ("grant_type", SAML_BEARER),
                    ("assertion", &URL_SAFE_NO_PAD.encode(xml)),
                ],
            )
            .await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(says), "{what}: {body}");
    }
    // An assertion longer than `saml_max_bytes` could decode to is refused before decoding.
    let (status, body) = send(
        server
            .post("/token")
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[
                ("grant_type", SAML_BEARER),
                ("assertion", &"A".repeat(60_000)),
            ]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_description"], "the assertion is too large");
    server.stop().await;
}

/// RFC 7517 §4.5: two keys under one `kid` make a JWK Set ambiguous. Registering one is
/// refused (clients and trusted issuers); one published at a jwks_uri verifies nothing.
async fn jwks_with_duplicate_kids_are_refused(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(API, &["read"], json!({})).await;
    let key = EcKey::generate("k1");
    let twin = EcKey::generate("k1");
    let duplicate = json!({ "keys": [twin.jwk(), key.jwk()] });
    let token_endpoint = server.url("/token");
    let assertion_of = |client: &Client| {
        let now = server.state.now();
        key.sign(&json!({
            "iss": client.id, "sub": client.id, "aud": token_endpoint,
            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
        }))
    };
    let registration = |keys: Value| {
        let field = if keys.is_string() { "jwks_uri" } else { "jwks" };
        let mut body = json!({
            "client_name": "signing job", "profile": "service",
            "token_endpoint_auth_method": "private_key_jwt", "scope": "read",
            "allowed_resources": [API],
        });
        body[field] = keys;
        body
    };
    let authenticate = |assertion: String| {
        send(server.post("/token").form(&[
            ("grant_type", "client_credentials".to_string()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_string()),
            ("client_assertion", assertion),
        ]))
    };
    // The same key alone works: the refusals below are the duplicate's doing.
    let single = server
        .client(registration(json!({ "keys": [key.jwk()] })))
        .await;
    let (status, body) = authenticate(assertion_of(&single)).await;
    assert_eq!(status, 200, "{body}");
    // An `exp` at i64::MAX once overflowed the time check (a panic, answered 500).
    let now = server.state.now();
    let forever = key.sign(&json!({
        "iss": single.id, "sub": single.id, "aud": token_endpoint, "iat": now,
        "exp": i64::MAX, "jti": uuid::Uuid::new_v4().to_string(),
    }));
    let (status, body) = authenticate(forever).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );

    let (status, body) = server
        .admin_post("/clients", registration(duplicate.clone()))
        .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_client_metadata")),
        "{body}"
    );

    let host = JwksHost::start(duplicate.clone()).await;
    let remote = server.client(registration(json!(host.url))).await;
    let (status, body) = authenticate(assertion_of(&remote)).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );
    // Once the client publishes a set without the twin, the same key works.
    host.publish(json!({ "keys": [key.jwk()] }));
    server.state.clock.advance(3600);
    let (status, body) = authenticate(assertion_of(&remote)).await;
    assert_eq!(status, 200, "{body}");

    let issuer = |jwks: Value| {
        json!({
            "kind": "jwt", "name": "IdP", "issuer": "https://idp.example.test", "jwks": jwks,
            "algorithms": ["ES256"], "allowed_clients": [], "scopes": ["read"],
            "subject": "external",
        })
    };
    let (status, body) = server.admin_post("/issuers", issuer(duplicate)).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_request")),
        "{body}"
    );
    let (status, body) = server
        .admin_post("/issuers", issuer(json!({ "keys": [key.jwk()] })))
        .await;
    assert_eq!(status, 201, "{body}");
    server.stop().await;
}

/// Client ids no client has: unicode (look-alikes, bidi overrides), control characters and
/// CRLF, sent every way a client id can be. Always a JSON 4xx, never a 5xx or a redirect.
async fn unicode_and_control_characters_in_client_ids(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(API, &["read"], json!({})).await;
    let real = web_client(&server).await;
    let ids = [
        "клиент",
        "\u{202e}tneilc",
        "client\u{200b}",
        "😀",
        "a\r\nSet-Cookie: x=1",
        "tab\there",
        "\u{7f}\u{1}",
        "ｃｌｉｅｎｔ",
    ];
    for id in ids {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:secret",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            ))
        );
        for request in [
            server
                .post("/token")
                .header("authorization", &basic)
                .form(&[("grant_type", "client_credentials")]),
            server.post("/token").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", "s"),
            ]),
            server
                .post("/introspect")
                .form(&[("token", "t"), ("client_id", id)]),
            server
                .post("/device_authorization")
                .form(&[("client_id", id)]),
        ] {
            let (status, headers, body) = send_full(request).await;
            assert!((400..500).contains(&status), "{id:?}: {status} {body}");
            assert!(body["error"].is_string(), "{id:?}: {body}");
            assert!(headers.get("set-cookie").is_none(), "{id:?}");
        }
        let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", id)
            .append_pair("redirect_uri", GOOD)
            .append_pair("response_type", "code");
        let response = server.http.get(url.as_str()).send().await.unwrap();
        assert_eq!(response.status(), 400, "{id:?}");
        assert!(response.headers().get("location").is_none(), "{id:?}");
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let (status, body) = send(server.admin(Method::GET, &format!("/clients/{encoded}"))).await;
        assert_eq!(status, 404, "{id:?}: {body}");
    }
    // The real client is unaffected.
    let (status, body) = send(
        server
            .post("/introspect")
            .basic_auth(&real.id, real.secret.as_deref())
            .form(&[("token", "t")]),
    )
    .await;
    assert_eq!((status, &body["active"]), (200, &json!(false)), "{body}");
    server.stop().await;
}

/// An authorization request of `client` with these parameters on top of a valid one.
fn authorize_url(server: &TestServer, client: &Client, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.id);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// CRLF in any parameter travels percent-encoded in the Location, never as a header break.
async fn crlf_in_parameters_never_splits_a_header(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(API, &["read"], json!({})).await;
    let client = web_client(&server).await;
    let injected = "s\r\nSet-Cookie: pwned=1\r\nLocation: https://evil.example\r\n\r\n<h1>";
    // An unknown response_type is told to the client in the redirect, with state.
    for extra in [
        vec![
            ("redirect_uri", GOOD),
            ("response_type", "nope"),
            ("state", injected),
        ],
        vec![
            ("redirect_uri", GOOD),
            ("response_type", "code"),
            ("scope", injected),
            ("state", injected),
        ],
    ] {
        let response = server
            .http
            .get(authorize_url(&server, &client, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{extra:?}");
        assert!(response.headers().get("set-cookie").is_none(), "{extra:?}");
        assert_eq!(response.headers().get_all("location").iter().count(), 1);
        let location = header(response.headers(), "location");
        assert!(location.starts_with(&format!("{GOOD}?")), "{location}");
        assert!(!location.contains(['\r', '\n', ' ']), "{location}");
        let url = url::Url::parse(location).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned());
        assert_eq!(state.as_deref(), Some(injected), "{location}");
    }
    // In the redirect URI itself: not registered, so the error page and no Location at all.
    for bad in [
        format!("{GOOD}\r\nSet-Cookie: pwned=1"),
        format!("{GOOD}%0d%0aSet-Cookie:%20pwned=1"),
    ] {
        let response = server
            .http
            .get(authorize_url(
                &server,
                &client,
                &[("redirect_uri", &bad), ("response_type", "code")],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        assert!(response.headers().get("location").is_none(), "{bad:?}");
        assert!(response.headers().get("set-cookie").is_none(), "{bad:?}");
    }
    // Logout's state and redirect: the same.
    let mut logout = url::Url::parse(&server.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair(
            "post_logout_redirect_uri",
            "https://good.example/cb\r\nX: y",
        )
        .append_pair("state", injected);
    let response = server.http.get(logout.as_str()).send().await.unwrap();
    assert!(response.status().as_u16() < 500);
    let location = header(response.headers(), "location");
    assert!(!location.contains(['\r', '\n']), "{location}");
    assert!(!location.starts_with("https://good.example"), "{location}");
    server.stop().await;
}

/// Open-redirect tricks against a registered redirect URI (RFC 9700 §4.1): each is the error
/// page (400, HTML), never a redirect, to anywhere.
async fn open_redirect_tricks_get_the_error_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.resource(API, &["read"], json!({})).await;
    let client = web_client(&server).await;
    let tricks = [
        "https://good.example@evil.example/cb",
        "https://good.example@evil.example",
        "https://good.example/cb@evil.example",
        "https://good.example.evil.example/cb",
        "https://evil.example/cb",
        "https://evil.example/https://good.example/cb",
        "https://GOOD.EXAMPLE/cb",
        "HTTPS://good.example/cb",
        "Https://Good.Example/cb",
        "https://good.example./cb",
        "https://good.example../cb",
        "https://good.example/cb/..",
        "https://good.example/cb/../../evil",
        "https://good.example/x/../cb",
        "https://good.example/./cb",
        "https://good.example/cb%2f..%2f..%2fevil",
        "https://good.example/cb%2F..%2Fevil",
        "https://good.example%2fcb",
        "https://good.example%2F@evil.example/cb",
        "https://good.example/cb#",
        "https://good.example/cb#frag",
        "https://good.example/cb?",
        "https://good.example/cb?extra=1",
        "https://good.example/cb/",
        "https://good.example:443/cb",
        "https://good.example:8443/cb",
        "https://user@good.example/cb",
        "https://user:pass@good.example/cb",
        "http://good.example/cb",
        "//evil.example/cb",
        "/cb",
        "https:good.example/cb",
        "https://good.example\\@evil.example/cb",
        "https://good.example/cb\u{3000}",
        "https://xn--gd-0ka.example/cb",
        "javascript:alert(1)//https://good.example/cb",
        "data:text/html,https://good.example/cb",
    ];
    for trick in tricks {
        let response = server
            .http
            .get(authorize_url(
                &server,
                &client,
                &[
                    ("redirect_uri", trick),
                    ("response_type", "code"),
                    ("state", "s"),
                ],
            ))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = header(response.headers(), "location").to_string();
        let content_type = header(response.headers(), "content-type").to_string();
        assert_eq!(status, 400, "{trick}: {location}");
        assert!(location.is_empty(), "{trick}: redirected to {location}");
        assert!(
            content_type.starts_with("text/html"),
            "{trick}: {content_type}"
        );
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("evil.example"),
            "{trick}: the page echoes the URI"
        );
    }
    // The registered URI itself gets redirects (here the error: PKCE is missing).
    let response = server
        .http
        .get(authorize_url(
            &server,
            &client,
            &[
                ("redirect_uri", GOOD),
                ("response_type", "code"),
                ("state", "s"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(header(response.headers(), "location").starts_with(&format!("{GOOD}?")));
    server.stop().await;
}

both_stores!(
    megabyte_bodies_are_413_json_on_every_post_endpoint,
    xml_bombs_and_deep_nesting_are_refused_as_invalid_grant,
    jwks_with_duplicate_kids_are_refused,
    unicode_and_control_characters_in_client_ids,
    crlf_in_parameters_never_splits_a_header,
    open_redirect_tricks_get_the_error_page,
);
