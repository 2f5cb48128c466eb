//! RFC 7662 token introspection as a resource server and a client see it: authenticated
//! callers only, the §2.2 members for an active token, and a bare `{"active": false}` for
//! everything else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{ORDERS, REPORTS, Registration, reports_api};
use crate::harness::{
    Client, EcKey, TestDb, TestServer, assert_no_store, jwt_claims, jwt_header, send_full,
};

/// The cast: an API client acting as the orders resource, a service calling it, and a
/// bystander with its own credentials.
struct Cast {
    api: Client,
    service: Client,
    bystander: Client,
}

async fn cast(server: &TestServer) -> Cast {
    let api = Registration::new("orders API", "api")
        .register(server)
        .await;
    server
        .resource(ORDERS, &["read", "write"], json!({ "client_id": api.id }))
        .await;
    reports_api(server).await;
    let service = Registration::new("reporting job", "service")
        .scope("read report")
        .allowed_resources(&[ORDERS, REPORTS])
        .register(server)
        .await;
    let bystander = Registration::new("another job", "service")
        .scope("read")
        .allowed_resources(&[ORDERS])
        .register(server)
        .await;
    Cast {
        api,
        service,
        bystander,
    }
}

/// Introspects `token` as `caller` with `token_type_hint` when given; checks the answer is a
/// 200 that is not cached.
async fn introspect_as(
    server: &TestServer,
    caller: &Client,
    token: &str,
    hint: Option<&str>,
) -> Value {
    let mut form = vec![("token", token)];
    form.extend(hint.map(|h| ("token_type_hint", h)));
    let (status, headers, body) = send_full(
        server
            .post("/introspect")
            .basic_auth(&caller.id, caller.secret.as_deref())
            .form(&form),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers, "introspection response");
    body
}

async fn callers_must_authenticate(db: TestDb) {
    let server = TestServer::start(&db).await;
    let cast = cast(&server).await;
    let token = server
        .access_token(&cast.service, &[("resource", ORDERS)])
        .await;
    let spa = Registration::new("browser app", "spa")
        .redirect_uris(&["https://app.example.com/cb"])
        .register(&server)
        .await;
    let cases = [
        (
            "no credentials",
            server
                .post("/introspect")
                .form(&[("token", token.as_str())]),
        ),
        (
            // RFC 7662 §2.1: a public client has nothing to authenticate with.
            "public client",
            server
                .post("/introspect")
                .form(&[("token", token.as_str()), ("client_id", spa.id.as_str())]),
        ),
        (
            "wrong secret",
            server
                .post("/introspect")
                .basic_auth(&cast.service.id, Some("not-the-secret"))
                .form(&[("token", token.as_str())]),
        ),
    ];
    for (what, request) in cases {
        let (status, headers, body) = send_full(request).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"], "invalid_client", "{what}: {body}");
        assert_no_store(&headers, what);
        assert!(body.get("active").is_none(), "{what}: {body}");
    }
    // Authenticated but without a token to look at.
    let (status, body) = server.post_as("/introspect", &cast.service, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    server.stop().await;
}

async fn active_token_has_rfc7662_members(db: TestDb) {
    let server = TestServer::start(&db).await;
    let cast = cast(&server).await;
    let token = server
        .access_token(&cast.service, &[("resource", ORDERS), ("scope", "read")])
        .await;
    let claims = jwt_claims(&token);
    let info = introspect_as(&server, &cast.service, &token, None).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["scope"], "read");
    assert_eq!(info["client_id"], cast.service.id);
    assert_eq!(info["sub"], cast.service.id);
    assert_eq!(info["aud"], ORDERS);
    assert_eq!(info["iss"], server.base);
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["exp"], claims["exp"]);
    assert_eq!(info["iat"], claims["iat"]);
    assert_eq!(info["jti"], claims["jti"]);
    assert!(info["exp"].as_i64().unwrap() > server.state.now());

    // The API the token is for, registered as the resource's client, may look too…
    let info = introspect_as(&server, &cast.api, &token, None).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], cast.service.id);
    // …but a client that is neither learns nothing.
    let info = introspect_as(&server, &cast.bystander, &token, None).await;
    assert_eq!(info, json!({ "active": false }));
    server.stop().await;
}

/// The token with its payload replaced by `claims`, header and signature kept.
fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

async fn everything_else_is_just_inactive(db: TestDb) {
    let server = TestServer::start(&db).await;
    let cast = cast(&server).await;
    let token = server
        .access_token(&cast.service, &[("resource", ORDERS), ("scope", "read")])
        .await;
    let claims = jwt_claims(&token);

    let mut escalated = claims.clone();
    escalated["scope"] = json!("read write");
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    // RFC 9068 tokens from another server, with its own key…
    let foreign = EcKey::generate("other-server-key");
    let mut theirs = claims.clone();
    theirs["iss"] = json!("https://other-issuer.example.com");
    // …and one made to look like ours: our kid and issuer, someone else's key.
    let our_kid = jwt_header(&token)["kid"].as_str().unwrap().to_string();

    let cases = [
        ("garbage", "garbage".to_string()),
        ("dotted garbage", "a.b.c".to_string()),
        (
            "unknown opaque token",
            URL_SAFE_NO_PAD.encode(portcullis::secret::random_bytes::<32>()),
        ),
        ("very long", "x".repeat(20_000)),
        ("tampered payload", with_payload(&token, &escalated)),
        ("tampered signature", String::from_utf8(flipped).unwrap()),
        (
            "another server's access token",
            foreign.sign_as(&foreign.kid, "at+jwt", &theirs),
        ),
        (
            "our kid, another key",
            foreign.sign_as(&our_kid, "at+jwt", &claims),
        ),
    ];
    for (what, candidate) in &cases {
        let info = introspect_as(&server, &cast.service, candidate, None).await;
        assert_eq!(info, json!({ "active": false }), "{what}");
    }

    // Still active before its time is up; exactly `{"active": false}` after.
    let info = introspect_as(&server, &cast.service, &token, None).await;
    assert_eq!(info["active"], true, "{info}");
    let exp = claims["exp"].as_i64().unwrap();
    server.state.clock.advance(exp - server.state.now() + 1);
    let info = introspect_as(&server, &cast.service, &token, None).await;
    assert_eq!(info, json!({ "active": false }));
    server.stop().await;
}

async fn token_type_hint_is_only_a_hint(db: TestDb) {
    let server = TestServer::start(&db).await;
    let cast = cast(&server).await;
    let jwt = server
        .access_token(&cast.service, &[("resource", ORDERS)])
        .await;
    let opaque = server
        .access_token(&cast.service, &[("resource", REPORTS)])
        .await;
    // RFC 7662 §2.1: a wrong or unknown hint must not stop the server finding the token.
    for token in [&jwt, &opaque] {
        for hint in [
            None,
            Some("access_token"),
            Some("refresh_token"),
            Some("urn:example:unknown"),
        ] {
            let info = introspect_as(&server, &cast.service, token, hint).await;
            assert_eq!(info["active"], true, "hint {hint:?}: {info}");
            assert_eq!(info["client_id"], cast.service.id);
        }
    }
    server.stop().await;
}

both_stores!(
    callers_must_authenticate,
    active_token_has_rfc7662_members,
    everything_else_is_just_inactive,
    token_type_hint_is_only_a_hint,
);
