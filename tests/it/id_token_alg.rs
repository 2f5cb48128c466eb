//! OIDC Core §2 and OIDC Dynamic Client Registration 1.0 §2 `id_token_signed_response_alg`:
//! each client's ID tokens, and its Back-Channel Logout Tokens, are signed with the algorithm
//! it registered, else `tokens.id_token_alg` (RS256). A relying party checks the header and
//! the signature against the JWKS; a bad value is refused at registration.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{NONCE, alice, alice_id, confidential_client, resources};
use crate::flows::{
    browser, code_flow_in_browser, code_flow_tokens, redirect_uri, refreshed, str_of,
    validate_id_token, validate_logout_token,
};
use crate::harness::{Client, TestDb, TestServer, jwt_claims, jwt_header, send};
use crate::parties::Receiver;

const AFTER_LOGOUT: &str = "https://web.example.com/signed-out";

/// A web app whose ID tokens are signed with `alg` (`None`: it registers none).
async fn app(server: &TestServer, name: &str, alg: Option<&str>) -> Client {
    let mut extra = json!({ "post_logout_redirect_uris": [AFTER_LOGOUT] });
    if let Some(alg) = alg {
        extra["id_token_signed_response_alg"] = json!(alg);
    }
    confidential_client(server, name, extra).await
}

/// RP-Initiated Logout with `hint`: true when the server trusted the hint enough to send the
/// browser back to the registered URI.
async fn hint_is_accepted(server: &TestServer, hint: &str) -> bool {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ])
        .finish();
    let response = server
        .get(&format!("/logout?{query}"))
        .send()
        .await
        .unwrap();
    response.status() == 302 && response.headers()["location"] == AFTER_LOGOUT
}

async fn id_tokens_follow_the_client_registration(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let es = app(&server, "ES256 app", Some("ES256")).await;
    let ed = app(&server, "EdDSA app", Some("EdDSA")).await;
    let plain = app(&server, "default app", None).await;

    // Each client's ID token has its algorithm in the header and verifies against the JWKS
    // with it (validate_id_token also checks at_hash with that algorithm's hash); so does
    // every refreshed one.
    let mut hints = Vec::new();
    for (client, alg) in [
        (&es, Algorithm::ES256),
        (&ed, Algorithm::EdDSA),
        (&plain, Algorithm::RS256),
    ] {
        let first = code_flow_tokens(&server, client, "openid offline_access", &[]).await;
        validate_id_token(&server, client, &first, Some(NONCE), alg).await;
        let refreshed = refreshed(&server, client, &first).await;
        validate_id_token(&server, client, &refreshed, None, alg).await;
        // Access tokens keep tokens.access_token_alg: the choice is about ID tokens only.
        assert_eq!(
            jwt_header(str_of(&refreshed, "access_token"))["alg"],
            "ES256"
        );
        hints.push(str_of(&first, "id_token").to_string());
    }

    // The admin API shows what was registered; a client that registered nothing shows nothing
    // (it follows tokens.id_token_alg).
    let (status, view) = server.admin_get(&format!("/clients/{}", es.id)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["id_token_signed_response_alg"], "ES256");
    let (_, view) = server.admin_get(&format!("/clients/{}", plain.id)).await;
    assert!(view.get("id_token_signed_response_alg").is_none(), "{view}");

    // OIDC Core §3.1.2.1: a hint signed with any of our algorithms is one of our ID tokens.
    for hint in &hints {
        assert!(
            hint_is_accepted(&server, hint).await,
            "{}",
            jwt_header(hint)
        );
    }
    // A client that changes its algorithm (RFC 7592 §2.2 replacement) gets the new one, and
    // the ID tokens it holds from before are still good hints.
    let (status, replaced) = send(
        server
            .admin(reqwest::Method::PUT, &format!("/clients/{}", es.id))
            .json(&json!({
                "client_name": "ES256 app, now RS256",
                "profile": "web",
                "redirect_uris": [redirect_uri(&es)],
                "post_logout_redirect_uris": [AFTER_LOGOUT],
                "scope": es.registration["scope"],
                "allowed_resources": es.registration["allowed_resources"],
                "id_token_signed_response_alg": "RS256",
            })),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id_token_signed_response_alg"], "RS256");
    let now_rs = code_flow_tokens(&server, &es, "openid", &[]).await;
    validate_id_token(&server, &es, &now_rs, Some(NONCE), Algorithm::RS256).await;
    assert!(hint_is_accepted(&server, &hints[0]).await);
    server.stop().await;
}

async fn a_bad_algorithm_is_refused_at_registration(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let body = |alg: Value| {
        json!({
            "client_name": "web app",
            "profile": "web",
            "redirect_uris": ["https://web.example.com/cb"],
            "scope": "openid",
            "id_token_signed_response_alg": alg,
        })
    };
    let refused = [
        // OIDC Core §2: an unsigned ID token is not allowed where the token endpoint is used.
        (json!("none"), "none"),
        (json!("HS256"), "a symmetric algorithm"),
        (json!("RS384"), "an algorithm we do not sign with"),
        (json!("es256"), "the wrong case"),
        (json!(""), "empty"),
        (json!(256), "not a string"),
    ];
    for (alg, what) in &refused {
        let (status, error) = server.admin_post("/clients", body(alg.clone())).await;
        // RFC 7591 §3.2.2: invalid_client_metadata, naming the field.
        assert_eq!(status, 400, "{what}: {error}");
        assert_eq!(error["error"], "invalid_client_metadata", "{what}: {error}");
        assert!(
            str_of(&error, "error_description").contains("id_token_signed_response_alg"),
            "{what}: {error}"
        );
    }
    // The same rule on replacement.
    let client = server.client(body(json!("EdDSA"))).await;
    let (status, error) = send(
        server
            .admin(reqwest::Method::PUT, &format!("/clients/{}", client.id))
            .json(&body(json!("none"))),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"], "invalid_client_metadata");
    let (_, view) = server.admin_get(&format!("/clients/{}", client.id)).await;
    assert_eq!(view["id_token_signed_response_alg"], "EdDSA", "unchanged");
    server.stop().await;
}

/// OIDC Back-Channel Logout 1.0 §2.6: the client validates a Logout Token as it validates ID
/// tokens, so an ES256 client gets an ES256 Logout Token, and an RS256 one RS256.
async fn logout_tokens_follow_the_client_registration(db: TestDb) {
    let server = TestServer::start(&db).await;
    let rp = Receiver::start().await;
    resources(&server).await;
    alice().create(&server).await;
    let logout_app = |name: &'static str, alg: Option<&'static str>| {
        let mut extra = json!({
            "first_party": true,
            "backchannel_logout_uri": rp.uri(name),
        });
        if let Some(alg) = alg {
            extra["id_token_signed_response_alg"] = json!(alg);
        }
        confidential_client(&server, name, extra)
    };
    let es = logout_app("es", Some("ES256")).await;
    let rs = logout_app("rs", None).await;
    let sub = alice_id(&server).await;

    let b = browser();
    let es_tokens = code_flow_in_browser(&server, &b, &es).await;
    assert_eq!(jwt_header(str_of(&es_tokens, "id_token"))["alg"], "ES256");
    code_flow_in_browser(&server, &b, &rs).await;
    let sid = jwt_claims(str_of(&es_tokens, "id_token"))["sid"]
        .as_str()
        .expect("sid")
        .to_string();

    let page = b.get(server.url("/logout")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let got = rp.drain().await;
    let apps: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(apps, ["es", "rs"]);
    assert_eq!(jwt_header(&got[0].1)["alg"], "ES256");
    validate_logout_token(&server, &es, &got[0].1, &sub, &sid, Algorithm::ES256).await;
    assert_eq!(jwt_header(&got[1].1)["alg"], "RS256");
    validate_logout_token(&server, &rs, &got[1].1, &sub, &sid, Algorithm::RS256).await;
    server.stop().await;
}

both_stores!(
    id_tokens_follow_the_client_registration,
    a_bad_algorithm_is_refused_at_registration,
    logout_tokens_follow_the_client_registration,
);
