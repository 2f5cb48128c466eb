//! RFC 7522 SAML 2.0 bearer assertion grant, with assertions signed by an independent
//! implementation (Python signxml; tests/fixtures/saml/make_fixtures.py made them): a valid
//! assertion accepted once; each RFC 7522 §3 rule broken once and refused; and the attacks on
//! XML signatures — a tampered value, a key the IdP does not have, signature wrapping
//! (Advice, an evil assertion first, a moved signature, duplicate IDs), comment injection in
//! NameID, an XXE DOCTYPE, an oversized document, a replayed ID.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{
    ORDERS, SAML_AS, SAML_BEARER, SamlBearerSetup, saml_bearer_client, saml_bearer_setup,
    saml_encoded, saml_fixture, saml_issuer, set_saml_clock,
};
use crate::harness::{Client, TestDb, TestServer, jwt_claims, send};

pub async fn exchange(server: &TestServer, client: &Client, assertion: &str) -> (u16, Value) {
    server
        .post_as(
            "/token",
            client,
            &[("grant_type", SAML_BEARER), ("assertion", assertion)],
        )
        .await
}

fn assert_refused(answer: (u16, Value), description: &str, what: &str) {
    let (status, body) = answer;
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
    assert_eq!(body["error_description"], description, "{what}: {body}");
}

async fn saml_bearer_accepts_a_signed_assertion_once(db: TestDb) {
    let SamlBearerSetup {
        server,
        client,
        alice,
        ..
    } = saml_bearer_setup(&db).await;
    let valid = saml_encoded(&saml_fixture("valid.xml"));
    let (status, body) = exchange(&server, &client, &valid).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    let token = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["sub"], alice["id"]);
    assert_eq!(token["aud"], ORDERS);
    assert_eq!(token["iss"], SAML_AS);
    assert_eq!(token["client_id"], client.id);

    // RFC 7522 §3 item 9: the assertion ID is used once.
    assert_refused(
        exchange(&server, &client, &valid).await,
        "the assertion has already been used",
        "replayed ID",
    );
    // Another assertion from the IdP is fine, and standard base64url with padding too.
    let second = base64::engine::general_purpose::URL_SAFE.encode(saml_fixture("valid_second.xml"));
    let (status, body) = exchange(&server, &client, &second).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn saml_bearer_refuses_each_broken_rule(db: TestDb) {
    let SamlBearerSetup {
        server,
        client,
        issuer,
        ..
    } = saml_bearer_setup(&db).await;
    const SIGNATURE: &str = "the assertion signature is not valid";
    const CONFIRMATION: &str =
        "the assertion has no bearer SubjectConfirmation for this token endpoint";
    const AUDIENCE: &str = "the assertion's AudienceRestriction does not name this server";
    let cases = [
        (
            "untrusted_issuer.xml",
            "the assertion issuer is not trusted",
        ),
        (
            "no_name_id.xml",
            "the assertion has no Subject with a NameID",
        ),
        ("not_bearer.xml", CONFIRMATION),
        ("wrong_recipient.xml", CONFIRMATION),
        ("wrong_audience.xml", AUDIENCE),
        ("no_audience.xml", AUDIENCE),
        (
            "too_long.xml",
            "the assertion expires too far in the future",
        ),
        ("unsigned.xml", "the assertion is not signed"),
        (
            "rsa_sha1.xml",
            "the assertion's signature uses an algorithm or transform that is not accepted",
        ),
        // A value changed after signing.
        ("tampered.xml", SIGNATURE),
        // Signed by a key the IdP does not have, whose certificate rides along in KeyInfo.
        ("untrusted_key.xml", SIGNATURE),
        // Wrapping: the signed assertion hidden in an evil one's Advice…
        ("wrapped_in_advice.xml", "the assertion is not signed"),
        // …after an evil one in a container…
        (
            "evil_before_signed.xml",
            "the document element is not a SAML 2.0 Assertion",
        ),
        // …inside the signature moved onto an evil one…
        ("signature_moved.xml", SIGNATURE),
        // …or sharing its ID with an evil one.
        ("duplicate_ids.xml", SIGNATURE),
        (
            "xxe.xml",
            "the assertion must not contain a DOCTYPE or entity declaration",
        ),
    ];
    for (name, description) in cases {
        assert_refused(
            exchange(&server, &client, &saml_encoded(&saml_fixture(name))).await,
            description,
            name,
        );
    }
    assert_refused(
        exchange(&server, &client, "not base64 at all!").await,
        "the assertion is not base64url-encoded UTF-8 XML",
        "not base64url",
    );
    // Larger than assertions.saml_max_bytes (32 KiB), refused before parsing.
    let padded = saml_fixture("valid.xml").replace(
        "<saml:Subject>",
        &format!("<!--{}--><saml:Subject>", "x".repeat(40 * 1024)),
    );
    assert_refused(
        exchange(&server, &client, &saml_encoded(&padded)).await,
        "the assertion is too large",
        "oversized",
    );

    // Comment injection: the IdP signed alice@example.test.evil.org; the comment added after
    // signing leaves the signature valid, and the subject is still the whole text, which is
    // no local user…
    let injected = saml_encoded(&saml_fixture("comment_injection.xml"));
    assert_refused(
        exchange(&server, &client, &injected).await,
        "the assertion subject is not a known user",
        "comment injection",
    );
    // …and, passed through, is exactly what the IdP signed.
    let id = issuer["id"].as_str().unwrap();
    let (status, updated) = send(
        server
            .admin(Method::PUT, &format!("/issuers/{id}"))
            .json(&saml_issuer(&[&client.id], "external")),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let (status, body) = exchange(&server, &client, &injected).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        "alice@example.test.evil.org"
    );

    // The time window, with the default 60 s of skew. None of these spends the assertion.
    let valid = saml_encoded(&saml_fixture("valid.xml"));
    set_saml_clock(&server, -60 - 61);
    assert_refused(
        exchange(&server, &client, &valid).await,
        "the assertion is not yet valid",
        "Conditions NotBefore in the future",
    );
    set_saml_clock(&server, 300 + 60);
    assert_refused(
        exchange(&server, &client, &valid).await,
        "the assertion has expired",
        "bearer confirmation NotOnOrAfter passed",
    );
    // A client the issuer does not name.
    set_saml_clock(&server, 10);
    let stranger = server.client(saml_bearer_client("stranger")).await;
    assert_refused(
        exchange(&server, &stranger, &valid).await,
        "this client may not present assertions from this issuer",
        "client not allowed",
    );
    // The edges of the window are accepted.
    set_saml_clock(&server, -60 - 60);
    let (status, body) = exchange(&server, &client, &valid).await;
    assert_eq!(status, 200, "NotBefore at the skew: {body}");
    set_saml_clock(&server, 300 + 59);
    let second = saml_encoded(&saml_fixture("valid_second.xml"));
    let (status, body) = exchange(&server, &client, &second).await;
    assert_eq!(status, 200, "NotOnOrAfter within the skew: {body}");
    server.stop().await;
}

/// Discovery lists the SAML grant only when it is served.
async fn saml_grant_is_advertised_only_when_enabled(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap().clone();
    assert!(grants.contains(&json!(SAML_BEARER)), "{grants:?}");
    server.stop().await;

    let server = TestServer::start_with(&db, |c| c.assertions.saml2_bearer = false).await;
    server.resource(ORDERS, &["read"], json!({})).await;
    let (_, doc) = send(server.get("/.well-known/openid-configuration")).await;
    let grants = doc["grant_types_supported"].as_array().unwrap().clone();
    assert!(!grants.contains(&json!(SAML_BEARER)), "{grants:?}");
    let client = server.client(saml_bearer_client("orders job")).await;
    let (status, body) = exchange(&server, &client, "PHg+").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unsupported_grant_type");
    server.stop().await;
}

both_stores!(
    saml_bearer_accepts_a_signed_assertion_once,
    saml_bearer_refuses_each_broken_rule,
    saml_grant_is_advertised_only_when_enabled,
);
