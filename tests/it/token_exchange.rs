//! On-behalf-of: RFC 8693 token exchange and Microsoft Entra's OBO form of it. A web app signs
//! the user in for API A; API A exchanges the user's token for one to call API B as the user.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{ACCESS_TOKEN_TYPE, JWT_BEARER, Registration, TOKEN_EXCHANGE, USER};
use crate::flows::{assert_error, code_flow_tokens, is_active, token};
use crate::harness::{Client, EcKey, TestDb, TestServer, admin_cli, jwt_claims, jwt_header, send};

const API_A: &str = "https://a.example.com";
const API_B: &str = "https://b.example.com";
const API_C: &str = "https://c.example.com";
const OTHER: &str = "https://other.example.com";
/// An API of API A's that takes opaque tokens.
const OPAQUE: &str = "https://opaque.example.com";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Three APIs, each with the client that acts as it, and the web app users sign in to.
struct World {
    web: Client,
    api_a: Client,
    api_b: Client,
    api_c: Client,
}

/// A confidential client that acts as an API and may exchange towards `audiences`.
async fn api_client(server: &TestServer, name: &str, scope: &str, audiences: &[&str]) -> Client {
    Registration::new(name, "api")
        .grant_types(&[TOKEN_EXCHANGE, JWT_BEARER])
        .set("scope", json!(scope))
        .set("token_exchange_audiences", json!(audiences))
        .register(server)
        .await
}

async fn world(server: &TestServer) -> World {
    let api_c = api_client(server, "API C", "", &[]).await;
    server
        .resource(API_C, &["c.read"], json!({ "client_id": api_c.id }))
        .await;
    let api_b = api_client(server, "API B", "", &[API_C]).await;
    // B's tokens may live long: an exchanged token is still capped by the subject token.
    server
        .resource(
            API_B,
            &["b.read", "b.write"],
            json!({ "client_id": api_b.id, "access_token_lifetime": 3600 }),
        )
        .await;
    let api_a = api_client(server, "API A", "b.read", &[API_B]).await;
    server
        .resource(API_A, &["a.read"], json!({ "client_id": api_a.id }))
        .await;
    server
        .resource(
            OPAQUE,
            &["p.read"],
            json!({ "client_id": api_a.id, "access_token_format": "opaque" }),
        )
        .await;
    server.resource(OTHER, &["o.read"], json!({})).await;
    let web = Registration::new("web app", "web")
        .redirect_uris(&["https://web.example.com/cb"])
        .scope("openid a.read b.read b.write o.read p.read")
        .allowed_resources(&[API_A, OPAQUE, OTHER])
        .register(server)
        .await;
    World {
        web,
        api_a,
        api_b,
        api_c,
    }
}

/// The user's access token for API A, through the code flow (with a refresh token).
async fn user_token(server: &TestServer, w: &World, scope: &str) -> Value {
    code_flow_tokens(server, &w.web, scope, &[API_A]).await
}

fn access_token(response: &Value) -> &str {
    response["access_token"].as_str().expect("access_token")
}

/// An RFC 8693 request by `caller` with `subject` and further fields.
async fn exchange(
    server: &TestServer,
    caller: &Client,
    subject: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    form.extend_from_slice(fields);
    token(server, caller, &form).await
}

/// Entra's on-behalf-of request by `caller` for `assertion`.
async fn obo(
    server: &TestServer,
    caller: &Client,
    assertion: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", JWT_BEARER),
        ("requested_token_use", "on_behalf_of"),
        ("assertion", assertion),
    ];
    form.extend_from_slice(fields);
    token(server, caller, &form).await
}

async fn api_a_exchanges_a_user_token_for_api_b(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    let original = jwt_claims(access_token(&user));
    assert_eq!(original["aud"], API_A);

    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&user),
        &[("audience", API_B)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // RFC 8693 §2.2.1.
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "b.read");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let exchanged = access_token(&body);
    assert_eq!(jwt_header(exchanged)["typ"], "at+jwt");
    let claims = jwt_claims(exchanged);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], API_B);
    assert_eq!(claims["client_id"], w.api_a.id.as_str());
    assert_eq!(claims["act"], json!({ "sub": w.api_a.id }));
    assert_eq!(claims["auth_time"], original["auth_time"]);
    // B allows an hour, but the user's token ends sooner: the exchanged one ends with it.
    assert_eq!(claims["exp"], original["exp"]);
    assert_eq!(
        body["expires_in"].as_i64().unwrap(),
        original["exp"].as_i64().unwrap() - server.state.now()
    );

    // API B reads it as active, with its chain.
    let (status, info) = server.introspect(&w.api_b, exchanged).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], USER);
    assert_eq!(info["act"], json!({ "sub": w.api_a.id }));

    // The same with `resource` and an explicit scope, as a `jwt`.
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&user),
        &[
            ("resource", API_B),
            ("scope", "b.read"),
            ("requested_token_type", JWT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], JWT);
    // With no target named, the caller's only exchange audience.
    let (status, body) = exchange(&server, &w.api_a, access_token(&user), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(access_token(&body))["aud"], API_B);

    // An opaque user token is an access token too (API A acts for that API as well).
    let opaque = code_flow_tokens(&server, &w.web, "p.read", &[OPAQUE]).await;
    let (status, body) = exchange(&server, &w.api_a, access_token(&opaque), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(access_token(&body))["sub"], USER);

    // Revoking the user's grant (a refresh token replay is one way; /revoke of the refresh
    // token is another) ends what was derived from it.
    let refresh = user["refresh_token"].as_str().expect("refresh_token");
    let (status, _) = server
        .post_as("/revoke", &w.web, &[("token", refresh)])
        .await;
    assert_eq!(status, 200);
    assert!(!is_active(&server, &w.api_b, exchanged).await);
    server.stop().await;
}

async fn a_second_exchange_nests_the_actors(db: TestDb) {
    let server = TestServer::start(&db).await;
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    let (status, for_b) = exchange(&server, &w.api_a, access_token(&user), &[]).await;
    assert_eq!(status, 200, "{for_b}");
    // API B calls API C as the user. C defines none of the user's scopes, so no scope.
    let (status, for_c) = exchange(&server, &w.api_b, access_token(&for_b), &[]).await;
    assert_eq!(status, 200, "{for_c}");
    assert!(for_c.get("scope").is_none(), "{for_c}");
    let claims = jwt_claims(access_token(&for_c));
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], API_C);
    assert_eq!(claims["client_id"], w.api_b.id.as_str());
    // RFC 8693 §4.1: the current actor outermost.
    assert_eq!(
        claims["act"],
        json!({ "sub": w.api_b.id, "act": { "sub": w.api_a.id } })
    );
    assert!(claims["exp"].as_i64() <= jwt_claims(access_token(&user))["exp"].as_i64());
    assert!(is_active(&server, &w.api_c, access_token(&for_c)).await);
    server.stop().await;
}

async fn an_actor_token_of_the_caller_names_the_actor(db: TestDb) {
    let server = TestServer::start(&db).await;
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    // API B's token (for C) is the caller's own token: B may name itself as actor with it.
    let (_, for_b) = exchange(&server, &w.api_a, access_token(&user), &[]).await;
    let (_, for_c) = exchange(&server, &w.api_b, access_token(&for_b), &[]).await;
    let user2 = code_flow_tokens(&server, &w.web, "a.read", &[API_A]).await;
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&user2),
        &[
            ("actor_token", access_token(&for_b)),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The actor token's subject is the actor.
    assert_eq!(
        jwt_claims(access_token(&body))["act"],
        json!({ "sub": USER })
    );
    // An actor token issued to another client is refused.
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&user2),
        &[
            ("actor_token", access_token(&for_c)),
            ("actor_token_type", JWT),
        ],
    )
    .await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "another client's actor token",
    );
    server.stop().await;
}

/// A JWT with the user token's header and claims, `sub` changed, and the original signature.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_claims(token);
    claims["sub"] = json!("admin");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

async fn refused_exchanges_get_rfc_8693_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    let subject = access_token(&user);

    // invalid_request: missing and malformed parameters.
    for (form, what) in [
        (
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            "no subject_token",
        ),
        (
            vec![("grant_type", TOKEN_EXCHANGE), ("subject_token", subject)],
            "no subject_token_type",
        ),
    ] {
        let (status, body) = token(&server, &w.api_a, &form).await;
        assert_error(status, &body, "invalid_request", what);
    }
    for (fields, what) in [
        (
            vec![(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
            "refresh_token as subject_token_type",
        ),
        (
            vec![(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            )],
            "id_token as subject_token_type",
        ),
        (
            vec![("actor_token", subject)],
            "actor_token without actor_token_type",
        ),
        (
            vec![("actor_token_type", ACCESS_TOKEN_TYPE)],
            "actor_token_type without actor_token",
        ),
        (
            vec![(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
            "a refresh token requested",
        ),
    ] {
        // A repeated subject_token_type would be invalid_request for the wrong reason.
        let mut form = vec![("grant_type", TOKEN_EXCHANGE), ("subject_token", subject)];
        if !fields.iter().any(|(k, _)| *k == "subject_token_type") {
            form.push(("subject_token_type", ACCESS_TOKEN_TYPE));
        }
        form.extend(fields);
        let (status, body) = token(&server, &w.api_a, &form).await;
        assert_error(status, &body, "invalid_request", what);
    }

    // invalid_grant: a token that is not an active access token of ours.
    let refresh = user["refresh_token"].as_str().expect("refresh_token");
    let signed_in = user_token(&server, &w, "openid a.read").await;
    let id_token = signed_in["id_token"]
        .as_str()
        .expect("id_token")
        .to_string();
    let keys = server.jwks().await;
    let our_kid = keys["keys"][0]["kid"].as_str().unwrap().to_string();
    let mut claims = jwt_claims(subject);
    claims["exp"] = json!(server.state.now() + 60);
    let foreign_key = EcKey::generate("x").sign_as(&our_kid, "at+jwt", &claims);
    for (presented, kind, what) in [
        ("not-a-token", ACCESS_TOKEN_TYPE, "an unknown token"),
        (&tampered(subject), ACCESS_TOKEN_TYPE, "a tampered token"),
        (
            &foreign_key,
            ACCESS_TOKEN_TYPE,
            "a token signed by another key",
        ),
        (refresh, ACCESS_TOKEN_TYPE, "a refresh token"),
        (&id_token, JWT, "an ID token"),
    ] {
        let (status, body) = token(
            &server,
            &w.api_a,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", presented),
                ("subject_token_type", kind),
            ],
        )
        .await;
        assert_error(status, &body, "invalid_grant", what);
    }
    // An opaque token is an access token, not a JWT.
    let opaque = code_flow_tokens(&server, &w.web, "p.read", &[OPAQUE]).await;
    let (status, body) = token(
        &server,
        &w.api_a,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", access_token(&opaque)),
            ("subject_token_type", JWT),
        ],
    )
    .await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "an opaque token presented as a JWT",
    );

    // invalid_grant: the caller is not the API the token was minted for.
    let (status, body) = exchange(&server, &w.api_b, subject, &[]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "API B exchanging a token for API A",
    );
    let for_other = code_flow_tokens(&server, &w.web, "o.read", &[OTHER]).await;
    let (status, body) = exchange(&server, &w.api_a, access_token(&for_other), &[]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "a token for an API with no acting client",
    );

    // invalid_target: audiences the caller may not exchange towards.
    for (target, what) in [
        (API_C, "an API not in token_exchange_audiences"),
        (API_A, "the caller's own API"),
        ("https://unknown.example.com", "an unknown API"),
        ("not a uri", "a malformed target"),
    ] {
        let (status, body) = exchange(&server, &w.api_a, subject, &[("audience", target)]).await;
        assert_error(status, &body, "invalid_target", what);
    }

    // invalid_scope: more than the user's token, the caller, or API B allow.
    for (scope, what) in [
        ("b.write", "a scope the user's token lacks"),
        ("a.read", "a scope API B does not define"),
        ("b.read admin", "a scope nobody has"),
    ] {
        let (status, body) = exchange(&server, &w.api_a, subject, &[("scope", scope)]).await;
        assert_error(status, &body, "invalid_scope", what);
    }
    let wide = user_token(&server, &w, "a.read b.read b.write").await;
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&wide),
        &[("scope", "b.read b.write")],
    )
    .await;
    assert_error(
        status,
        &body,
        "invalid_scope",
        "a scope the caller may not ask",
    );

    // unauthorized_client: a public client, or one not registered for the grant.
    let public = Registration::new("public app", "spa")
        .public()
        .grant_types(&[TOKEN_EXCHANGE])
        .set("token_exchange_audiences", json!([API_B]))
        .register(&server)
        .await;
    let (status, body) = exchange(&server, &public, subject, &[]).await;
    assert_error(status, &body, "unauthorized_client", "a public client");
    let (status, body) = exchange(&server, &w.web, subject, &[]).await;
    assert_error(
        status,
        &body,
        "unauthorized_client",
        "a client without the grant",
    );

    // The exchange audiences are set through the admin API (PUT replaces the metadata).
    let mut metadata = json!({
        "client_name": "API A",
        "profile": "api",
        "grant_types": [TOKEN_EXCHANGE, JWT_BEARER],
        "scope": "b.read p.read",
        "token_exchange_audiences": [API_B, OPAQUE],
    });
    let (status, updated) = send(
        server
            .admin(reqwest::Method::PUT, &format!("/clients/{}", w.api_a.id))
            .json(&metadata),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let for_opaque = user_token(&server, &w, "a.read p.read").await;
    // Two audiences now: the request must name one.
    let (status, body) = exchange(&server, &w.api_a, access_token(&for_opaque), &[]).await;
    assert_error(status, &body, "invalid_target", "no target among two");
    // An API of opaque tokens cannot be served a JWT.
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&for_opaque),
        &[("audience", OPAQUE), ("requested_token_type", JWT)],
    )
    .await;
    assert_error(status, &body, "invalid_request", "a JWT for an opaque API");
    let (status, body) = exchange(
        &server,
        &w.api_a,
        access_token(&for_opaque),
        &[("audience", OPAQUE)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "p.read");
    let (_, info) = server.introspect(&w.api_a, access_token(&body)).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["act"], json!({ "sub": w.api_a.id }));
    assert_eq!(info["aud"], OPAQUE);
    for (audiences, status_b) in [(json!([OPAQUE]), 400), (json!([API_B]), 200)] {
        metadata["token_exchange_audiences"] = audiences;
        let (status, _) = send(
            server
                .admin(reqwest::Method::PUT, &format!("/clients/{}", w.api_a.id))
                .json(&metadata),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = exchange(&server, &w.api_a, subject, &[("audience", API_B)]).await;
        assert_eq!(status, status_b, "API B withdrawn, then restored: {body}");
    }

    // invalid_grant: revoked, then expired (the last, as it moves the clock).
    let revoked = user_token(&server, &w, "a.read b.read").await;
    let (status, _) = server
        .post_as("/revoke", &w.web, &[("token", access_token(&revoked))])
        .await;
    assert_eq!(status, 200);
    let (status, body) = exchange(&server, &w.api_a, access_token(&revoked), &[]).await;
    assert_error(status, &body, "invalid_grant", "a revoked token");
    let (status, body) = exchange(&server, &w.api_a, subject, &[]).await;
    assert_eq!(status, 200, "still good before it expires: {body}");
    server.state.clock.advance(300);
    let (status, body) = exchange(&server, &w.api_a, subject, &[]).await;
    assert_error(status, &body, "invalid_grant", "an expired token");
    server.stop().await;
}

async fn entra_on_behalf_of_follows_the_same_rules(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    let subject = access_token(&user);
    let original = jwt_claims(subject);

    // Entra names the API in the scope.
    let b_read = format!("{API_B}/b.read");
    let (status, body) = obo(&server, &w.api_a, subject, &[("scope", &b_read)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "b.read");
    let claims = jwt_claims(access_token(&body));
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], API_B);
    assert_eq!(claims["act"], json!({ "sub": w.api_a.id }));
    assert_eq!(claims["exp"], original["exp"]);
    assert!(is_active(&server, &w.api_b, access_token(&body)).await);
    // `.default`: whatever the rules allow.
    let default = format!("{API_B}/.default");
    let (status, body) = obo(&server, &w.api_a, subject, &[("scope", &default)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "b.read");
    // A plain scope with the API named as a resource.
    let (status, body) = obo(
        &server,
        &w.api_a,
        subject,
        &[("scope", "b.read"), ("resource", API_B)],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The refusals.
    let (status, body) = token(
        &server,
        &w.api_a,
        &[("grant_type", JWT_BEARER), ("assertion", subject)],
    )
    .await;
    // Without requested_token_use it is an RFC 7523 assertion, and we are no trusted issuer.
    assert_error(status, &body, "invalid_grant", "no requested_token_use");
    let (status, body) = token(
        &server,
        &w.api_a,
        &[
            ("grant_type", JWT_BEARER),
            ("requested_token_use", "on_behalf_of"),
        ],
    )
    .await;
    assert_error(status, &body, "invalid_request", "no assertion");
    let (status, body) = obo(&server, &w.api_a, &tampered(subject), &[]).await;
    assert_error(status, &body, "invalid_grant", "a tampered assertion");
    let (status, body) = obo(&server, &w.api_b, subject, &[]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "API B with a token for API A",
    );
    let b_write = format!("{API_B}/b.write");
    let (status, body) = obo(&server, &w.api_a, subject, &[("scope", &b_write)]).await;
    assert_error(
        status,
        &body,
        "invalid_scope",
        "a scope the user's token lacks",
    );
    let c_read = format!("{API_C}/c.read");
    let (status, body) = obo(&server, &w.api_a, subject, &[("scope", &c_read)]).await;
    assert_error(
        status,
        &body,
        "invalid_scope",
        "an API not among the caller's",
    );
    let (status, body) = obo(&server, &w.api_a, subject, &[("resource", API_C)]).await;
    assert_error(
        status,
        &body,
        "invalid_target",
        "an API not among the caller's",
    );
    // jwt-bearer without token-exchange is not permission to exchange.
    let bearer_only = Registration::new("bearer only", "api")
        .grant_types(&[JWT_BEARER])
        .scope("b.read")
        .set("token_exchange_audiences", json!([API_B]))
        .register(&server)
        .await;
    let (status, body) = obo(&server, &bearer_only, subject, &[]).await;
    assert_error(
        status,
        &body,
        "unauthorized_client",
        "no token-exchange grant",
    );
    let public = Registration::new("public app", "spa")
        .public()
        .grant_types(&[TOKEN_EXCHANGE, JWT_BEARER])
        .set("token_exchange_audiences", json!([API_B]))
        .register(&server)
        .await;
    let (status, body) = obo(&server, &public, subject, &[]).await;
    assert_error(status, &body, "unauthorized_client", "a public client");
    server.state.clock.advance(300);
    let (status, body) = obo(&server, &w.api_a, subject, &[("scope", &b_read)]).await;
    assert_error(status, &body, "invalid_grant", "an expired assertion");
    server.stop().await;
}

async fn exchange_audiences_and_acting_clients_are_admin_metadata(db: TestDb) {
    let server = TestServer::start(&db).await;
    let w = world(&server).await;
    let (status, shown) = server.admin_get(&format!("/clients/{}", w.api_a.id)).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["token_exchange_audiences"], json!([API_B]));
    // RFC 7591 §3.2.2: an unregistered audience is invalid_client_metadata, naming the field.
    let (status, body) = server
        .admin_post(
            "/clients",
            json!({
                "client_name": "bad",
                "profile": "api",
                "grant_types": [TOKEN_EXCHANGE],
                "token_exchange_audiences": ["https://nowhere.example.com"],
            }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("token_exchange_audiences"),
        "{body}"
    );
    let (status, body) = server
        .admin_post(
            "/clients",
            json!({
                "client_name": "bad",
                "profile": "api",
                "token_exchange_audiences": "https://b.example.com",
            }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    // A grant with nowhere to go is legal but flagged.
    let (status, body) = server
        .admin_post(
            "/clients",
            json!({ "client_name": "idle", "profile": "api", "grant_types": [TOKEN_EXCHANGE] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["warnings"]
            .to_string()
            .contains("token_exchange_audiences"),
        "{body}"
    );
    server.stop().await;
    // The CLI sets them too.
    let (ok, created, output) = admin_cli(
        &db,
        &[
            "client",
            "create",
            "--name",
            "API D",
            "--profile",
            "api",
            "--grant-type",
            TOKEN_EXCHANGE,
            "--exchange-audience",
            API_B,
        ],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert_eq!(
        created["token_exchange_audiences"],
        json!([API_B]),
        "{output}"
    );
    let server = TestServer::start(&db).await;
    // The acting client of a resource must exist.
    let (status, body) = server
        .admin_post(
            "/resources",
            json!({ "identifier": "https://d.example.com", "client_id": "nobody" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    server.stop().await;
}

async fn discovery_lists_token_exchange_only_when_enabled(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.iter().any(|g| g == TOKEN_EXCHANGE), "{doc}");
    assert!(grants.iter().any(|g| g == JWT_BEARER), "{doc}");
    let w = world(&server).await;
    let user = user_token(&server, &w, "a.read b.read").await;
    server.stop().await;

    let server = TestServer::start_with(&db, |c| c.grants.token_exchange = false).await;
    let (_, doc) = send(server.get("/.well-known/oauth-authorization-server")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == TOKEN_EXCHANGE), "{doc}");
    // jwt-bearer stays: it is also the RFC 7523 grant (`assertions.jwt_bearer`).
    assert!(grants.iter().any(|g| g == JWT_BEARER), "{doc}");
    let (status, body) = exchange(&server, &w.api_a, access_token(&user), &[]).await;
    assert_error(
        status,
        &body,
        "unsupported_grant_type",
        "exchange switched off",
    );
    let (status, body) = obo(&server, &w.api_a, access_token(&user), &[]).await;
    assert_error(status, &body, "invalid_request", "OBO switched off");
    server.stop().await;

    // With the RFC 7523 grant off too, the OBO form is an unknown grant.
    let server = TestServer::start_with(&db, |c| {
        c.grants.token_exchange = false;
        c.assertions.jwt_bearer = false;
    })
    .await;
    let (_, doc) = send(server.get("/.well-known/oauth-authorization-server")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == JWT_BEARER), "{doc}");
    let (status, body) = obo(&server, &w.api_a, access_token(&user), &[]).await;
    assert_error(
        status,
        &body,
        "unsupported_grant_type",
        "OBO and jwt-bearer switched off",
    );
    server.stop().await;
}

/// RFC 8693 §2.1: a user token minted by a trusted external issuer for API A (a JWT of an
/// issuer registered at /admin/issuers) is exchanged by API A like one of ours.
async fn a_trusted_issuers_token_is_exchanged_like_ours(db: TestDb) {
    const IDP: &str = "https://idp.example.test";
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let w = world(&server).await;
    let key = EcKey::generate("idp-1");
    let (status, issuer) = server
        .admin_post(
            "/issuers",
            json!({
                "kind": "jwt",
                "name": "Example IdP",
                "issuer": IDP,
                "jwks": { "keys": [key.jwk()] },
                "algorithms": ["ES256"],
                "allowed_clients": [w.api_a.id],
                "scopes": ["a.read", "b.read"],
                "subject": "external",
            }),
        )
        .await;
    assert_eq!(status, 201, "{issuer}");
    let now = server.state.now();
    let claims = |aud: &str, exp: i64| {
        json!({
            "iss": IDP,
            "sub": "ext-user-7",
            "aud": aud,
            "iat": now,
            "exp": exp,
            "scope": "a.read b.read b.write",
            "jti": uuid::Uuid::new_v4().to_string(),
        })
    };
    let as_jwt = |caller: &Client, subject: String| {
        let caller = caller.clone();
        let server = &server;
        async move {
            token(
                server,
                &caller,
                &[
                    ("grant_type", TOKEN_EXCHANGE),
                    ("subject_token", &subject),
                    ("subject_token_type", JWT),
                    ("audience", API_B),
                ],
            )
            .await
        }
    };

    let subject = key.sign(&claims(API_A, now + 600));
    let (status, body) = as_jwt(&w.api_a, subject.clone()).await;
    assert_eq!(status, 200, "{body}");
    let exchanged = jwt_claims(access_token(&body));
    assert_eq!(exchanged["sub"], "ext-user-7");
    assert_eq!(exchanged["aud"], API_B);
    assert_eq!(exchanged["act"]["sub"], w.api_a.id.as_str());
    // b.write is in the token but not among what the issuer may convey.
    assert_eq!(body["scope"], "b.read", "{body}");
    assert!(
        exchanged["exp"].as_i64().unwrap() <= now + 600,
        "{exchanged}"
    );
    // Not single use: an API may exchange the same user token again.
    let (status, body) = as_jwt(&w.api_a, subject.clone()).await;
    assert_eq!(status, 200, "{body}");

    // Presented as one of our access tokens, it is unknown.
    let (status, body) = exchange(&server, &w.api_a, &subject, &[("audience", API_B)]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "external token as access_token",
    );
    // The issuer does not name API B's client.
    let for_b = key.sign(&claims(API_B, now + 600));
    let (status, body) = as_jwt(&w.api_b, for_b).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "client not allowed by the issuer",
    );
    // Minted for an API the caller does not act as.
    let (status, body) = as_jwt(&w.api_a, key.sign(&claims(OTHER, now + 600))).await;
    assert_error(status, &body, "invalid_grant", "foreign audience");
    // Signed by a key the issuer does not have.
    let stranger = EcKey::generate("idp-1");
    let (status, body) = as_jwt(&w.api_a, stranger.sign(&claims(API_A, now + 600))).await;
    assert_error(status, &body, "invalid_grant", "untrusted key");
    // Expired, and absurdly long-lived.
    let (status, body) = as_jwt(&w.api_a, key.sign(&claims(API_A, now - 600))).await;
    assert_error(status, &body, "invalid_grant", "expired");
    let (status, body) = as_jwt(&w.api_a, key.sign(&claims(API_A, now + 30 * 86_400))).await;
    assert_error(status, &body, "invalid_grant", "exp too far ahead");
    server.stop().await;
}

both_stores!(
    api_a_exchanges_a_user_token_for_api_b,
    a_trusted_issuers_token_is_exchanged_like_ours,
    a_second_exchange_nests_the_actors,
    an_actor_token_of_the_caller_names_the_actor,
    refused_exchanges_get_rfc_8693_errors,
    entra_on_behalf_of_follows_the_same_rules,
    exchange_audiences_and_acting_clients_are_admin_metadata,
    discovery_lists_token_exchange_only_when_enabled,
);
