//! The per-node client and resource copies (`clients.cache_ttl`, `oauth/client_cache.rs`,
//! `oauth/resource_cache.rs`): two servers over one database stand for two nodes. A change made through one node is seen there at once and
//! on the other within the bound, measured on the other node's clock.

use serde_json::json;

use crate::both_stores;
use crate::harness::{Client, TestDb, TestServer, send};

const API: &str = "https://ledger.example.com";
const TTL: u64 = 5;

async fn two_nodes(db: &TestDb) -> (TestServer, TestServer) {
    let a = TestServer::start_with(db, |c| c.clients.cache_ttl = TTL).await;
    let b = TestServer::start_with(db, |c| c.clients.cache_ttl = TTL).await;
    a.state.clock.freeze();
    b.state.clock.freeze();
    (a, b)
}

async fn token_status(server: &TestServer, client: &Client) -> u16 {
    server.client_credentials(client, &[]).await.0
}

/// `node` (its clock frozen at the change) still answers `client` from its copy one second
/// before the bound, and refuses it (with `refused`) once the copy is as old as the bound.
async fn accepted_until_the_bound(node: &TestServer, client: &Client, refused: u16) {
    node.state.clock.advance(TTL as i64 - 1);
    assert_eq!(
        token_status(node, client).await,
        200,
        "copy younger than the bound"
    );
    node.state.clock.advance(1);
    assert_eq!(
        token_status(node, client).await,
        refused,
        "copy as old as the bound"
    );
}

/// Rotates `client`'s secret on `node` with no grace period; the client with the new secret.
async fn rotate_without_grace(node: &TestServer, client: &Client) -> Client {
    let (status, rotated) = send(
        node.admin(
            reqwest::Method::POST,
            &format!("/clients/{}/secret", client.id),
        )
        .json(&json!({ "grace_period": 0 })),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    Client {
        secret: rotated["client_secret"].as_str().map(str::to_string),
        ..client.clone()
    }
}

both_stores!(deleted_client_is_refused_by_every_node_within_the_bound);
async fn deleted_client_is_refused_by_every_node_within_the_bound(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let client = a.service_client(API, "ledger.read").await;
    // Both nodes have read the client.
    assert_eq!(token_status(&a, &client).await, 200);
    assert_eq!(token_status(&b, &client).await, 200);

    deleted_through_a(a, b, &client, &format!("/clients/{}", client.id), 401).await;
}

/// Deletes the admin `path` through `a`: `a` refuses `client`'s token requests (with
/// `refused`) at once; `b` answers from its copy until the bound, never after it.
async fn deleted_through_a(
    a: TestServer,
    b: TestServer,
    client: &Client,
    path: &str,
    refused: u16,
) {
    let (status, _) = send(a.admin(reqwest::Method::DELETE, path)).await;
    assert_eq!(status, 204);
    assert_eq!(token_status(&a, client).await, refused, "the deleting node");
    accepted_until_the_bound(&b, client, refused).await;
    a.stop().await;
    b.stop().await;
}

both_stores!(rotated_secret_is_refused_by_every_node_within_the_bound);
async fn rotated_secret_is_refused_by_every_node_within_the_bound(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let old = a.service_client(API, "ledger.read").await;
    assert_eq!(token_status(&a, &old).await, 200);
    assert_eq!(token_status(&b, &old).await, 200);

    // No grace period: the old secret stops working now.
    let new = rotate_without_grace(&a, &old).await;
    assert_eq!(
        token_status(&a, &old).await,
        401,
        "old secret on the rotating node"
    );
    assert_eq!(
        token_status(&a, &new).await,
        200,
        "new secret on the rotating node"
    );

    accepted_until_the_bound(&b, &old, 401).await;
    assert_eq!(token_status(&b, &new).await, 200);
    a.stop().await;
    b.stop().await;
}

both_stores!(new_secret_works_on_a_node_holding_an_older_copy);
async fn new_secret_works_on_a_node_holding_an_older_copy(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let old = a.service_client(API, "ledger.read").await;
    assert_eq!(token_status(&b, &old).await, 200);
    let new = rotate_without_grace(&a, &old).await;
    // B's copy predates the new secret; a refusal re-reads the store before it is final.
    assert_eq!(token_status(&b, &new).await, 200);
    // That read replaced the copy: the old secret is refused there now too.
    assert_eq!(token_status(&b, &old).await, 401);
    a.stop().await;
    b.stop().await;
}

both_stores!(updated_registration_is_seen_by_every_node_within_the_bound);
async fn updated_registration_is_seen_by_every_node_within_the_bound(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let client = a.service_client(API, "ledger.read").await;
    assert_eq!(token_status(&b, &client).await, 200);
    // The client loses the client_credentials grant.
    let (status, body) = send(
        a.admin(reqwest::Method::PUT, &format!("/clients/{}", client.id))
            .json(&json!({
                "client_name": "billing service",
                "profile": "service",
                "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"],
                "scope": "ledger.read",
                "allowed_resources": [API],
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        token_status(&a, &client).await,
        400,
        "the updating node at once"
    );
    accepted_until_the_bound(&b, &client, 400).await;
    a.stop().await;
    b.stop().await;
}

/// The admin id of the resource registered as `identifier`.
async fn resource_id(node: &TestServer, identifier: &str) -> String {
    let (status, list) = node.admin_get("/resources").await;
    assert_eq!(status, 200, "{list}");
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["identifier"] == identifier)
        .and_then(|r| r["id"].as_str())
        .expect("the resource is listed")
        .to_string()
}

both_stores!(deleted_resource_is_refused_by_every_node_within_the_bound);
async fn deleted_resource_is_refused_by_every_node_within_the_bound(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let client = a.service_client(API, "ledger.read").await;
    assert_eq!(token_status(&a, &client).await, 200);
    assert_eq!(token_status(&b, &client).await, 200);
    let id = resource_id(&a, API).await;
    // RFC 8707 §2: the client's API is no longer registered (400 invalid_target).
    deleted_through_a(a, b, &client, &format!("/resources/{id}"), 400).await;
}

both_stores!(updated_resource_is_seen_by_every_node_within_the_bound);
async fn updated_resource_is_seen_by_every_node_within_the_bound(db: TestDb) {
    let (a, b) = two_nodes(&db).await;
    let client = a.service_client(API, "ledger.read").await;
    let lifetime = |(status, body): (u16, serde_json::Value)| {
        assert_eq!(status, 200, "{body}");
        body["expires_in"].as_i64().unwrap()
    };
    let default = lifetime(b.client_credentials(&client, &[]).await);
    assert_ne!(default, 60);
    let id = resource_id(&a, API).await;
    let (status, body) = send(
        a.admin(reqwest::Method::PUT, &format!("/resources/{id}"))
            .json(&json!({
                "identifier": API,
                "scopes": ["ledger.read"],
                "access_token_lifetime": 60,
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(lifetime(a.client_credentials(&client, &[]).await), 60);
    b.state.clock.advance(TTL as i64 - 1);
    assert_eq!(
        lifetime(b.client_credentials(&client, &[]).await),
        default,
        "copy younger than the bound"
    );
    b.state.clock.advance(1);
    assert_eq!(
        lifetime(b.client_credentials(&client, &[]).await),
        60,
        "copy as old as the bound"
    );
    a.stop().await;
    b.stop().await;
}

both_stores!(no_copy_when_the_bound_is_zero);
async fn no_copy_when_the_bound_is_zero(db: TestDb) {
    let a = TestServer::start_with(&db, |c| c.clients.cache_ttl = 0).await;
    let b = TestServer::start_with(&db, |c| c.clients.cache_ttl = 0).await;
    let client = a.service_client(API, "ledger.read").await;
    assert_eq!(token_status(&b, &client).await, 200);
    let (status, _) =
        send(a.admin(reqwest::Method::DELETE, &format!("/clients/{}", client.id))).await;
    assert_eq!(status, 204);
    assert_eq!(token_status(&b, &client).await, 401);
    a.stop().await;
    b.stop().await;
}
