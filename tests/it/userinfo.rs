//! OpenID Connect Core §5.3 UserInfo as a relying party uses it: a bearer access token from
//! the code flow (RFC 6750 §2.1 header or §2.2 form body) returns the claims its scope allows
//! (§5.4); anything else is refused with the RFC 6750 §3 challenge.

use portcullis::grants::authorization_code::CodeGrant;
use portcullis::oauth::issue::{AccessTokenSpec, issue_access_token, issuer_target};
use portcullis::oauth::scope::Scope;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::both_stores;
use crate::fixtures::{ORDERS, alice_with_every_claim, confidential_client, id_of, resources};
use crate::flows::{code, exchange, grant, pkce};
use crate::harness::{Client, TestDb, TestServer, assert_no_store, header, send, send_full};

/// A web app that may ask for every OpenID scope and for the orders API.
async fn app(server: &TestServer) -> Client {
    resources(server).await;
    confidential_client(
        server,
        "photo prints",
        json!({ "scope": "openid profile email address phone offline_access read" }),
    )
    .await
}

/// `user` signs in to `client` for `scope` (and `audience`); the token response.
async fn tokens_for(
    server: &TestServer,
    client: &Client,
    user: &str,
    scope: &str,
    audience: &[&str],
) -> Value {
    let p = pkce();
    let g = CodeGrant {
        user_id: user.to_string(),
        audience: audience.iter().map(|a| a.to_string()).collect(),
        ..grant(server, client, scope, Some(&p))
    };
    let code = code(server, g).await;
    let (status, body) = exchange(server, client, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn access_token(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

async fn userinfo(server: &TestServer, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    send_full(server.get("/userinfo").bearer_auth(token)).await
}

fn names(claims: &Value) -> Vec<String> {
    let mut names: Vec<String> = claims
        .as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    names.sort();
    names
}

async fn userinfo_returns_the_claims_of_the_granted_scopes(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = app(&server).await;
    let user = alice_with_every_claim().create(&server).await;
    let id = id_of(&user);

    let tokens = tokens_for(&server, &client, &id, "openid profile email", &[]).await;
    let token = access_token(&tokens);
    let (status, headers, claims) = userinfo(&server, &token).await;
    assert_eq!(status, 200, "{claims}");
    assert_no_store(&headers, "userinfo");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["family_name"], "Liddell");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["locale"], "en-GB");
    assert_eq!(claims["updated_at"], user["updated_at"]);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(
        names(&claims),
        [
            "email",
            "email_verified",
            "family_name",
            "given_name",
            "locale",
            "name",
            "preferred_username",
            "sub",
            "updated_at"
        ],
        "no address or phone without their scopes: {claims}"
    );
    // OIDC Core §5.3.2: the sub of the ID token is the sub of userinfo.
    assert_eq!(
        crate::harness::jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        claims["sub"]
    );

    // openid alone: only sub.
    let token = access_token(&tokens_for(&server, &client, &id, "openid", &[]).await);
    let (status, _, claims) = userinfo(&server, &token).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims, json!({ "sub": id }));

    // address and phone.
    let token = access_token(&tokens_for(&server, &client, &id, "openid address phone", &[]).await);
    let (status, _, claims) = userinfo(&server, &token).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(
        claims,
        json!({
            "sub": id,
            "address": { "locality": "Oxford", "country": "GB" },
            "phone_number": "+44 20 7946 0000",
            "phone_number_verified": false,
        })
    );

    // RFC 6750 §2.2: POST with the token in the form body; POST with the header works too.
    let (status, claims) = send(
        server
            .post("/userinfo")
            .form(&[("access_token", token.as_str())]),
    )
    .await;
    assert_eq!((status, &claims["sub"]), (200, &json!(id)), "{claims}");
    let (status, claims) = send(server.post("/userinfo").bearer_auth(&token)).await;
    assert_eq!((status, &claims["sub"]), (200, &json!(id)), "{claims}");
    server.stop().await;
}

/// RFC 6750 §3: the status, the body's `error` and the challenge's `error`.
async fn assert_refused(
    server: &TestServer,
    request: reqwest::RequestBuilder,
    status: u16,
    error: &str,
    what: &str,
) {
    let (got, headers, body) = send_full(request).await;
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(body["error"], error, "{what}: {body}");
    let challenge = header(&headers, "www-authenticate");
    assert_eq!(
        challenge,
        format!("Bearer realm=\"{}\", error=\"{error}\"", server.base)
            + if error == "insufficient_scope" {
                ", scope=\"openid\""
            } else {
                ""
            },
        "{what}"
    );
    assert_no_store(&headers, what);
}

async fn userinfo_refuses_anything_but_an_openid_token_for_this_server(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = app(&server).await;
    let id = id_of(&alice_with_every_claim().create(&server).await);
    let tokens = tokens_for(&server, &client, &id, "openid profile offline_access", &[]).await;
    let good = access_token(&tokens);

    // §3.1: no credentials: a bare challenge, no error code.
    let (status, headers, body) = send_full(server.get("/userinfo")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        header(&headers, "www-authenticate"),
        format!("Bearer realm=\"{}\"", server.base)
    );
    assert!(body.get("error").is_none(), "{body}");
    // Another scheme is no bearer token either.
    let (status, headers, _) = send_full(
        server
            .get("/userinfo")
            .basic_auth(&client.id, client.secret.as_deref()),
    )
    .await;
    assert_eq!(status, 401);
    assert!(!header(&headers, "www-authenticate").contains("error="));
    // The query form (§2.3) is not accepted.
    let (status, _, _) = send_full(server.get(&format!("/userinfo?access_token={good}"))).await;
    assert_eq!(status, 401);

    let bearer = |token: &str| server.get("/userinfo").bearer_auth(token);
    assert_refused(
        &server,
        bearer("not-a-token"),
        401,
        "invalid_token",
        "garbage",
    )
    .await;
    // One character changed in the middle of the signature.
    let at = good.len() - 20;
    let flipped = if &good[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &good[..at], &good[at + 1..]);
    assert_refused(
        &server,
        bearer(&forged),
        401,
        "invalid_token",
        "bad signature",
    )
    .await;
    // An ID token and a refresh token are not access tokens.
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_refused(&server, bearer(id_token), 401, "invalid_token", "ID token").await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    assert_refused(
        &server,
        bearer(refresh),
        401,
        "invalid_token",
        "refresh token",
    )
    .await;
    // §2: one method per request.
    assert_refused(
        &server,
        server
            .post("/userinfo")
            .bearer_auth(&good)
            .form(&[("access_token", good.as_str())]),
        400,
        "invalid_request",
        "header and body",
    )
    .await;
    assert_refused(
        &server,
        server
            .get("/userinfo")
            .header(reqwest::header::AUTHORIZATION, "Bearer a b"),
        400,
        "invalid_request",
        "malformed header",
    )
    .await;

    // A token for another API (aud = the orders API, not this server).
    let api = access_token(&tokens_for(&server, &client, &id, "openid read", &[ORDERS]).await);
    assert_eq!(crate::harness::jwt_claims(&api)["aud"], ORDERS);
    assert_refused(&server, bearer(&api), 401, "invalid_token", "another API").await;

    // A token for this server without openid: 403 insufficient_scope.
    let now = server.state.now();
    let scope = Scope::parse("profile").unwrap();
    let no_openid = issue_access_token(
        &server.state,
        AccessTokenSpec {
            client_id: &client.id,
            subject: &id,
            scope: &scope,
            targets: &[issuer_target(&server.state)],
            grant_id: None,
            extra: Map::new(),
            not_after: None,
        },
        now,
    )
    .await
    .expect("issue")
    .token;
    assert_refused(
        &server,
        bearer(&no_openid),
        403,
        "insufficient_scope",
        "no openid",
    )
    .await;

    // Revoked (RFC 7009), then expired.
    let revoked = access_token(&tokens_for(&server, &client, &id, "openid", &[]).await);
    assert_eq!(userinfo(&server, &revoked).await.0, 200);
    let (status, body) = server
        .post_as("/revoke", &client, &[("token", revoked.as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_refused(&server, bearer(&revoked), 401, "invalid_token", "revoked").await;
    assert_eq!(userinfo(&server, &good).await.0, 200);
    server
        .state
        .clock
        .advance(server.state.config.tokens.access_token_lifetime as i64 + 1);
    assert_refused(&server, bearer(&good), 401, "invalid_token", "expired").await;
    server.stop().await;
}

async fn userinfo_refuses_tokens_of_disabled_and_deleted_users(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = app(&server).await;
    let id = id_of(&alice_with_every_claim().create(&server).await);
    let token = access_token(&tokens_for(&server, &client, &id, "openid profile", &[]).await);
    assert_eq!(userinfo(&server, &token).await.0, 200);

    let (status, body) = send(
        server
            .admin(Method::PUT, &format!("/users/{id}"))
            .json(&json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let bearer = server.get("/userinfo").bearer_auth(&token);
    assert_refused(&server, bearer, 401, "invalid_token", "disabled user").await;

    let (status, body) = send(
        server
            .admin(Method::PUT, &format!("/users/{id}"))
            .json(&json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Disabling revoked the user's grants: enabling again does not bring old tokens back.
    let bearer = server.get("/userinfo").bearer_auth(&token);
    assert_refused(
        &server,
        bearer,
        401,
        "invalid_token",
        "revoked by the disable",
    )
    .await;
    let token = access_token(&tokens_for(&server, &client, &id, "openid profile", &[]).await);
    assert_eq!(userinfo(&server, &token).await.0, 200);

    let (status, body) = send(server.admin(Method::DELETE, &format!("/users/{id}"))).await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let bearer = server.get("/userinfo").bearer_auth(&token);
    assert_refused(&server, bearer, 401, "invalid_token", "deleted user").await;
    server.stop().await;
}

both_stores!(
    userinfo_returns_the_claims_of_the_granted_scopes,
    userinfo_refuses_anything_but_an_openid_token_for_this_server,
    userinfo_refuses_tokens_of_disabled_and_deleted_users,
);
