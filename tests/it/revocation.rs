//! RFC 7009 token revocation: a client revokes its own tokens, and introspection agrees.

use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{ORDERS, REPORTS, Registration, reports_api};
use crate::flows::is_active;
use crate::harness::{Client, TestDb, TestServer, send_full};

async fn setup(server: &TestServer) -> (Client, Client) {
    server.resource(ORDERS, &["read"], json!({})).await;
    reports_api(server).await;
    let client = |name: &str| {
        Registration::new(name, "service")
            .scope("read report")
            .allowed_resources(&[ORDERS, REPORTS])
    };
    (
        client("reporting job").register(server).await,
        client("another job").register(server).await,
    )
}

async fn revoke(server: &TestServer, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    server.post_as("/revoke", client, form).await
}

async fn clients_revoke_their_own_tokens(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (client, _) = setup(&server).await;

    // A JWT access token goes on the deny-list; a sibling token is unaffected.
    let jwt = server.access_token(&client, &[("resource", ORDERS)]).await;
    let sibling = server.access_token(&client, &[("resource", ORDERS)]).await;
    assert!(is_active(&server, &client, &jwt).await);
    let (status, body) = revoke(&server, &client, &[("token", &jwt)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!is_active(&server, &client, &jwt).await);
    assert!(is_active(&server, &client, &sibling).await);
    // §2.2: revoking it again, or a token the server never issued, is still a 200.
    let (status, body) = revoke(&server, &client, &[("token", &jwt)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = revoke(&server, &client, &[("token", "never-issued")]).await;
    assert_eq!(status, 200, "{body}");

    // An opaque access token, with a hint that is wrong (§2.1: the search extends).
    let opaque = server.access_token(&client, &[("resource", REPORTS)]).await;
    assert!(is_active(&server, &client, &opaque).await);
    let (status, body) = revoke(
        &server,
        &client,
        &[("token", &opaque), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!is_active(&server, &client, &opaque).await);
    server.stop().await;
}

async fn only_the_owner_may_revoke(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (client, other) = setup(&server).await;
    let jwt = server.access_token(&client, &[("resource", ORDERS)]).await;
    let opaque = server.access_token(&client, &[("resource", REPORTS)]).await;

    // §2.1: the token was not issued to the caller: refused, and the token lives on.
    for token in [&jwt, &opaque] {
        let (status, body) = revoke(&server, &other, &[("token", token)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{body}"
        );
        assert!(is_active(&server, &client, token).await);
    }

    // §2.1: the client authenticates.
    let (status, _, body) =
        send_full(server.post("/revoke").form(&[("token", jwt.as_str())])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, body) = send_full(
        server
            .post("/revoke")
            .basic_auth(&client.id, Some("not-the-secret"))
            .form(&[("token", jwt.as_str())]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(is_active(&server, &client, &jwt).await);

    // §2.1: `token` is required.
    let (status, body) = revoke(&server, &client, &[("token_type_hint", "access_token")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    server.stop().await;
}

/// Two servers over one database stand for two nodes (`oauth/deny_list.rs`): a JWT revoked
/// on one is inactive there at once and on the other within `tokens.revocation_cache_ttl`
/// (1 s by default, RFC 7009 §2.2's propagation delay), at once with the copy off.
async fn a_revocation_reaches_other_nodes_within_the_bound(db: TestDb) {
    // One issuer, as behind a load balancer: each node takes the others' tokens as its own.
    let one_issuer = |c: &mut portcullis::config::Config| {
        c.issuer = Some("https://id.example.test".into());
    };
    let a = TestServer::start_with(&db, one_issuer).await;
    let b = TestServer::start_with(&db, one_issuer).await;
    let exact = TestServer::start_with(&db, |c| {
        one_issuer(c);
        c.tokens.revocation_cache_ttl = 0;
    })
    .await;
    for node in [&a, &b, &exact] {
        node.state.clock.freeze();
    }
    let (client, _) = setup(&a).await;
    let jwt = a.access_token(&client, &[("resource", ORDERS)]).await;
    for node in [&a, &b, &exact] {
        assert!(is_active(node, &client, &jwt).await);
    }
    let (status, body) = revoke(&a, &client, &[("token", &jwt)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!is_active(&a, &client, &jwt).await, "the revoking node");
    assert!(
        !is_active(&exact, &client, &jwt).await,
        "a node without copies"
    );
    assert!(
        is_active(&b, &client, &jwt).await,
        "copy younger than the bound"
    );
    b.state.clock.advance(1);
    assert!(
        !is_active(&b, &client, &jwt).await,
        "copy as old as the bound"
    );
    for node in [a, b, exact] {
        node.stop().await;
    }
}

both_stores!(
    clients_revoke_their_own_tokens,
    only_the_owner_may_revoke,
    a_revocation_reaches_other_nodes_within_the_bound,
);
