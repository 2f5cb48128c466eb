//! RFC 9068 JWT access tokens as a resource server validates them: with an independent JWT
//! library (jsonwebtoken, not the server's aws-lc-rs signer) and the keys published at
//! `/.well-known/jwks.json`, for every algorithm the server signs with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use portcullis::config::SigningAlg;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::Registration;
use crate::flows::{decoding_key, published_key};
use crate::harness::{Client, TestDb, TestServer};

const ALGS: [(SigningAlg, Algorithm); 3] = [
    (SigningAlg::ES256, Algorithm::ES256),
    (SigningAlg::RS256, Algorithm::RS256),
    (SigningAlg::EdDSA, Algorithm::EdDSA),
];

/// What the resource server expects of the token it is handed.
struct Expected<'a> {
    alg: Algorithm,
    audience: &'a str,
    client: &'a Client,
    scope: &'a str,
}

/// A resource server's validation, RFC 9068 §4: key by `kid` from the JWKS, signature, `typ`,
/// algorithm, issuer, audience, expiry; then the §2.2 claims.
fn validate(server: &TestServer, jwks: &Value, token: &str, expected: &Expected<'_>) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWS header");
    // RFC 9068 §2.1 / §4: `typ` is at+jwt, and the algorithm is the one configured.
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, expected.alg);
    let kid = header.kid.expect("kid");
    let published = published_key(jwks, &kid);
    assert_eq!(published["alg"], format!("{:?}", expected.alg));
    assert_eq!(published["use"], "sig");
    let key = decoding_key(published);

    let mut validation = Validation::new(expected.alg);
    validation.set_issuer(&[&server.base]);
    validation.set_audience(&[expected.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("{:?} token does not validate: {e}", expected.alg))
        .claims;

    // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; scope when one was granted.
    let now = server.state.now();
    let iat = claims["iat"].as_i64().expect("iat is a NumericDate");
    let exp = claims["exp"].as_i64().expect("exp is a NumericDate");
    assert!(iat <= now && now < exp, "iat {iat} exp {exp} now {now}");
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], expected.audience);
    // §2.2: with no resource owner, the subject is the client.
    assert_eq!(claims["sub"], expected.client.id);
    assert_eq!(claims["client_id"], expected.client.id);
    assert_eq!(claims["scope"], expected.scope);
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{claims}"
    );

    // The same validation refuses the token once its payload is changed…
    let mut escalated = claims.clone();
    escalated["scope"] = json!(format!("{} admin", expected.scope));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(escalated.to_string()),
        parts[2]
    );
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
    // …and when the token is meant for another API.
    let mut elsewhere = validation.clone();
    elsewhere.set_audience(&["https://elsewhere.example.com"]);
    assert!(jsonwebtoken::decode::<Value>(token, &key, &elsewhere).is_err());
    claims
}

async fn every_resource_algorithm_validates(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut resources = Vec::new();
    for (alg, _) in ALGS {
        let identifier = format!("https://{}.api.example.com", alg.as_str().to_lowercase());
        server
            .resource(&identifier, &["read"], json!({ "signing_alg": alg }))
            .await;
        resources.push(identifier);
    }
    let client = Registration::new("multi-API job", "service")
        .scope("read")
        .set("allowed_resources", json!(resources))
        .register(&server)
        .await;
    let jwks = server.jwks().await;
    let mut kids = Vec::new();
    for ((_, alg), resource) in ALGS.into_iter().zip(&resources) {
        let token = server
            .access_token(&client, &[("resource", resource.as_str())])
            .await;
        let expected = Expected {
            alg,
            audience: resource,
            client: &client,
            scope: "read",
        };
        validate(&server, &jwks, &token, &expected);
        kids.push(crate::harness::jwt_header(&token)["kid"].clone());
    }
    // One key per algorithm: no key signs for two.
    kids.sort_by_key(|k| k.to_string());
    kids.dedup();
    assert_eq!(kids.len(), ALGS.len());
    server.stop().await;
}

async fn configured_default_algorithm_validates(db: TestDb) {
    for (signing_alg, alg) in ALGS {
        let server = TestServer::start_with(&db, |c| c.tokens.access_token_alg = signing_alg).await;
        // Resources and clients outlive a restart; each round registers its own.
        let resource = format!(
            "https://default-{}.example.com",
            signing_alg.as_str().to_lowercase()
        );
        let client = server.service_client(&resource, "read").await;
        let token = server
            .access_token(&client, &[("resource", resource.as_str())])
            .await;
        let jwks = server.jwks().await;
        let expected = Expected {
            alg,
            audience: &resource,
            client: &client,
            scope: "read",
        };
        let claims = validate(&server, &jwks, &token, &expected);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            server.state.config.tokens.access_token_lifetime as i64
        );
        server.stop().await;
    }
}

both_stores!(
    every_resource_algorithm_validates,
    configured_default_algorithm_validates,
);
