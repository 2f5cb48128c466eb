//! Signing keys as a relying party and an operator see them: the JWKS (RFC 7517), rotation
//! through the admin API, delayed activation, and rotations reaching every node.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::both_stores;
use crate::flows::{API, kid_of, verify_with_jwks};
use crate::harness::{
    TestDb, TestServer, header, jwks_kids, jwt_claims, jwt_header, send, send_full,
};

/// The published key of `alg` that is not `except`.
fn kid_for(jwks: &Value, alg: &str, except: Option<&str>) -> String {
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg && Some(k["kid"].as_str().unwrap()) != except)
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 1, "{alg} keys other than {except:?}: {jwks}");
    kids[0].to_string()
}

/// What `GET /admin/keys` says of `kid`.
async fn status_of(server: &TestServer, kid: &str) -> Value {
    let (status, body) = server.admin_get("/keys").await;
    assert_eq!(status, 200, "{body}");
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .cloned()
        .unwrap_or_else(|| panic!("{kid} not listed: {body}"))
}

async fn jwks_publishes_one_public_key_per_algorithm(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, headers, jwks) = send_full(server.get("/.well-known/jwks.json")).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("application/json"));
    let cache = header(&headers, "cache-control");
    assert!(cache.contains("max-age="), "Cache-Control: {cache:?}");

    let keys = jwks["keys"].as_array().expect("keys");
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"], "{jwks}");
    for key in keys {
        let kty = match key["alg"].as_str().unwrap() {
            "ES256" => "EC",
            "RS256" => "RSA",
            _ => "OKP",
        };
        assert_eq!(key["kty"], kty, "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
        // RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2: the private members.
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} in {key}"
            );
        }
    }
    // The operator's view lists the same keys, all signing.
    let (status, listed) = server.admin_get("/keys").await;
    assert_eq!(status, 200);
    let listed = listed["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for k in listed {
        assert_eq!(k["status"], "active", "{k}");
        assert!(keys.iter().any(|p| p["kid"] == k["kid"]), "{k}");
        assert!(k.get("private_key").is_none(), "{k}");
    }

    // A token verifies with the published key of its kid.
    let client = server.service_client(API, "read").await;
    let token = server.access_token(&client, &[]).await;
    assert_eq!(jwt_header(&token)["typ"], "at+jwt");
    let claims = verify_with_jwks(&jwks, &token, &server.base);
    assert_eq!(claims["client_id"], client.id.as_str());
    server.stop().await;
}

async fn rotation_publishes_the_new_key_and_signs_with_it(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let before = server.jwks().await;
    let old_token = server.access_token(&client, &[]).await;
    let old_kid = kid_of(&old_token);
    assert_eq!(
        old_kid,
        kid_for(&before, "ES256", None),
        "ES256 signs access tokens"
    );

    let (status, rotated) = server.admin_post("/keys/rotate", json!({})).await;
    assert_eq!(status, 200, "{rotated}");

    let after = server.jwks().await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 6, "{after}");
    for kid in jwks_kids(&before) {
        assert!(
            jwks_kids(&after).contains(&kid),
            "old key {kid} unpublished too early"
        );
    }
    let new_kid = kid_for(&after, "ES256", Some(&old_kid));

    let new_token = server.access_token(&client, &[]).await;
    assert_eq!(kid_of(&new_token), new_kid, "the new key signs");
    verify_with_jwks(&after, &new_token, &server.base);
    // Tokens signed before the rotation still verify and introspect.
    verify_with_jwks(&after, &old_token, &server.base);
    let (status, body) = server.introspect(&client, &old_token).await;
    assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    // The ring remembers tokens it verified by their exact text: the same claims under another
    // payload encoding, or other claims under the remembered signature, verify nothing.
    let keys = &server.state.keys;
    assert!(keys.verify(&old_token).is_some());
    let parts: Vec<&str> = old_token.split('.').collect();
    let mut claims = jwt_claims(&old_token);
    claims["scope"] = json!("read admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert!(keys.verify(&forged).is_none(), "forged claims verified");

    let now = server.state.now();
    let new = status_of(&server, &new_kid).await;
    assert_eq!(new["status"], "active", "{new}");
    let old = status_of(&server, &old_kid).await;
    assert_eq!(old["status"], "retiring", "{old}");
    // Published at least as long as the tokens it signed can live (300 s by default).
    let until = old["publish_until"].as_i64().expect("publish_until");
    assert!(until >= now + 300 - 5, "{old}");
    // The rotate answer is the same listing.
    assert!(
        rotated["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str() && k["status"] == "active"),
        "{rotated}"
    );

    // Rotations in quick succession (the same second): each time the newest key signs.
    let mut known = jwks_kids(&after);
    let mut newest = new_kid.clone();
    for _ in 0..3 {
        let (status, _) = server
            .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
            .await;
        assert_eq!(status, 200);
        let jwks = server.jwks().await;
        let fresh: Vec<String> = jwks_kids(&jwks)
            .into_iter()
            .filter(|k| !known.contains(k))
            .collect();
        assert_eq!(fresh.len(), 1, "{jwks}");
        let made = server.access_token(&client, &[]).await;
        assert_eq!(kid_of(&made), fresh[0], "the newest key signs");
        assert_eq!(status_of(&server, &newest).await["status"], "retiring");
        newest = fresh[0].clone();
        known = jwks_kids(&jwks);
    }

    // Once every token it signed has expired, the old key is no longer published.
    server.state.clock.advance(until - now + 1);
    server
        .state
        .keys
        .reload(&server.state.store, server.state.now())
        .await
        .unwrap();
    let later = server.jwks().await;
    assert!(!jwks_kids(&later).contains(&old_kid), "{later}");
    // Verified while its key was published, the old token verifies no more: what the ring
    // remembers belongs to the key set that checked it.
    assert!(server.state.keys.verify(&old_token).is_none());
    assert!(jwks_kids(&later).contains(&newest), "{later}");
    server.stop().await;
}

async fn delayed_activation_publishes_before_signing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server.service_client(API, "read").await;
    let before = server.jwks().await;
    let old_kid = kid_for(&before, "ES256", None);

    let (status, body) = server
        .admin_post(
            "/keys/rotate",
            json!({ "algs": ["ES256"], "activate_in": 600 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let published = server.jwks().await;
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        4,
        "only ES256 rotated"
    );
    for alg in ["RS256", "EdDSA"] {
        assert_eq!(kid_for(&published, alg, None), kid_for(&before, alg, None));
    }
    let next_kid = kid_for(&published, "ES256", Some(&old_kid));

    // Published now, so caches learn it; the old key keeps signing until it activates.
    let token = server.access_token(&client, &[]).await;
    assert_eq!(kid_of(&token), old_kid);
    assert_eq!(status_of(&server, &next_kid).await["status"], "next");
    assert_eq!(status_of(&server, &old_kid).await["status"], "active");

    server.state.clock.advance(601);
    let token = server.access_token(&client, &[]).await;
    assert_eq!(kid_of(&token), next_kid, "the new key signs once active");
    assert_eq!(status_of(&server, &next_kid).await["status"], "active");
    assert_eq!(status_of(&server, &old_kid).await["status"], "retiring");
    server.stop().await;
}

async fn rotation_reaches_every_node(db: TestDb) {
    // Two nodes behind one name, sharing nothing but the database.
    let shared = |c: &mut portcullis::config::Config| {
        c.issuer = Some("https://id.example.test".into());
        c.keys.reload_interval = 1;
    };
    let a = TestServer::start_with(&db, shared).await;
    let b = TestServer::start_with(&db, shared).await;
    assert_eq!(jwks_kids(&a.jwks().await), jwks_kids(&b.jwks().await));
    let client = a.service_client(API, "read").await;
    let old_kid = kid_of(&b.access_token(&client, &[]).await);

    let (status, body) = a
        .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200, "{body}");
    let new_kid = kid_for(&a.jwks().await, "ES256", Some(&old_kid));

    // B learns of it on its next reload: within a few seconds, never in more than ten.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if jwks_kids(&b.jwks().await).contains(&new_kid) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node B never published {new_kid}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(jwks_kids(&a.jwks().await), jwks_kids(&b.jwks().await));
    let from_b = b.access_token(&client, &[]).await;
    assert_eq!(kid_of(&from_b), new_kid, "B signs with the new key");
    // Either node accepts what the other issued.
    let from_a = a.access_token(&client, &[]).await;
    for (node, token) in [(&a, &from_b), (&b, &from_a)] {
        let (status, body) = node.introspect(&client, token).await;
        assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    }
    let (status, _) = send(b.get("/healthz")).await;
    assert_eq!(status, 200);
    a.stop().await;
    b.stop().await;
}

both_stores!(
    jwks_publishes_one_public_key_per_algorithm,
    rotation_publishes_the_new_key_and_signs_with_it,
    delayed_activation_publishes_before_signing,
    rotation_reaches_every_node,
);
