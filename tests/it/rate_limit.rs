//! The token endpoint's per-client rate limit (`src/rate_limit.rs`): shared by two
//! servers on one database, `429` with `Retry-After` and an RFC 6749 §5.2 body, the per-client
//! override, and at most one store write per client per second per node.

use serde_json::{Value, json};

use crate::both_stores;
use crate::harness::{Client, TestDb, TestServer, header, send_full};

const API: &str = "https://orders.example.com";

/// Moves a frozen clock to exactly `t`.
fn at(server: &TestServer, t: i64) {
    let clock = &server.state.clock;
    clock.advance(t - clock.now());
}

/// The start of a window at least a minute ahead, where both clocks are stopped.
fn next_window(servers: &[&TestServer]) -> i64 {
    let now = servers.iter().map(|s| s.state.now()).max().unwrap_or(0);
    let start = now - now.rem_euclid(60) + 60;
    for s in servers {
        at(s, start);
    }
    start
}

/// One client_credentials request: the status, `Retry-After` and the body.
async fn request(server: &TestServer, client: &Client) -> (u16, String, Value) {
    let (status, headers, body) = send_full(
        server
            .post("/token")
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    (status, header(&headers, "retry-after").to_string(), body)
}

/// The fleet's count for `client` in the window at `start`, as the store holds it.
async fn stored(server: &TestServer, client: &Client, start: i64) -> i64 {
    server
        .state
        .store
        .add_token_requests(&client.id, start, 0)
        .await
        .expect("read the count")
}

async fn two_servers_share_the_limit(db: TestDb) {
    let limited = |c: &mut portcullis::config::Config| c.throttle.token_requests_per_minute = 4;
    let a = TestServer::start_with(&db, limited).await;
    let b = TestServer::start_with(&db, limited).await;
    a.state.clock.freeze();
    b.state.clock.freeze();
    let client = a.service_client(API, "read").await;
    let w = next_window(&[&a, &b]);

    // One request per node per second: each sees the other's at its flush, so the limit holds
    // exactly across the two.
    for (i, server) in [&a, &b, &a, &b].into_iter().enumerate() {
        at(server, w + i as i64);
        let (status, _, body) = request(server, &client).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    at(&a, w + 4);
    let (status, retry_after, body) = request(&a, &client).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after, "56", "the seconds left in the window");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].is_string(), "{body}");
    at(&b, w + 15);
    let (status, retry_after, _) = request(&b, &client).await;
    assert_eq!((status, retry_after.as_str()), (429, "45"));
    // Refused still, locally, in the same second.
    let (status, _, _) = request(&b, &client).await;
    assert_eq!(status, 429);

    // The next window starts afresh.
    at(&a, w + 60);
    let (status, _, body) = request(&a, &client).await;
    assert_eq!(status, 200, "{body}");
    a.stop().await;
    b.stop().await;
}

async fn a_burst_overshoots_by_at_most_one_second_of_the_other_node(db: TestDb) {
    let limited = |c: &mut portcullis::config::Config| c.throttle.token_requests_per_minute = 4;
    let a = TestServer::start_with(&db, limited).await;
    let b = TestServer::start_with(&db, limited).await;
    a.state.clock.freeze();
    b.state.clock.freeze();
    let client = a.service_client(API, "read").await;
    let w = next_window(&[&a, &b]);

    let mut admitted = [0, 0];
    for (n, server) in [&a, &b].into_iter().enumerate() {
        for _ in 0..6 {
            if request(server, &client).await.0 == 200 {
                admitted[n] += 1;
            }
        }
    }
    // a alone never passes the limit; b saw a's first request only (a's flush), not the three
    // a admitted after it in the same second.
    assert_eq!(admitted, [4, 3]);
    // One write per node in that second, not one per request.
    assert_eq!(stored(&a, &client, w).await, 2);

    // A second later each node's flush reads the fleet's total, and both refuse.
    at(&a, w + 1);
    at(&b, w + 1);
    assert_eq!(request(&a, &client).await.0, 429);
    assert_eq!(request(&b, &client).await.0, 429);
    assert_eq!(stored(&a, &client, w).await, 4 + 1 + 3 + 1);
    a.stop().await;
    b.stop().await;
}

async fn a_client_may_have_its_own_limit(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.throttle.token_requests_per_minute = 2).await;
    server.state.clock.freeze();
    server.resource(API, &["read"], json!({})).await;
    let register = |limit: Value| {
        let mut body = json!({
            "client_name": "svc",
            "profile": "service",
            "scope": "read",
            "allowed_resources": [API],
        });
        if !limit.is_null() {
            body["token_requests_per_minute"] = limit;
        }
        body
    };
    let one = server.client(register(json!(1))).await;
    let unlimited = server.client(register(json!(0))).await;
    let default = server.client(register(Value::Null)).await;
    assert_eq!(one.registration["token_requests_per_minute"], 1);
    next_window(&[&server]);

    assert_eq!(request(&server, &one).await.0, 200);
    assert_eq!(request(&server, &one).await.0, 429);
    for _ in 0..2 {
        assert_eq!(request(&server, &default).await.0, 200);
    }
    assert_eq!(request(&server, &default).await.0, 429);
    for i in 0..10 {
        assert_eq!(request(&server, &unlimited).await.0, 200, "request {i}");
    }

    // A limit past the maximum names the field.
    let (status, body) = server
        .admin_post("/clients", register(json!(10_000_001)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("token_requests_per_minute"),
        "{body}"
    );
    server.stop().await;
}

async fn no_limit_by_default_and_no_write(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let client = server.service_client(API, "read").await;
    let w = next_window(&[&server]);
    for i in 0..20 {
        assert_eq!(request(&server, &client).await.0, 200, "request {i}");
    }
    assert_eq!(stored(&server, &client, w).await, 0, "nothing written");
    server.stop().await;
}

both_stores!(
    two_servers_share_the_limit,
    a_burst_overshoots_by_at_most_one_second_of_the_other_node,
    a_client_may_have_its_own_limit,
    no_limit_by_default_and_no_write,
);
