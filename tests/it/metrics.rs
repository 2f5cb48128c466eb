//! Prometheus metrics at `/metrics`: off by default, on the main port behind an
//! optional bearer token, or on a separate address; counters that name routes and clients but
//! never secrets or usernames.
//!
//! The recorder is global to the process and every test server records into it, so these
//! tests look for series that only they can have made (their own client ids) or for presence,
//! never for absolute totals shared with other tests.

use portcullis::config::Config;
use portcullis::secret::Secret;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::both_stores;
use crate::fixtures::{PASSWORD, spa_with_alice};
use crate::flows::{browser, get_authorize, pkce, spa_request, submit_sign_in};
use crate::harness::{TestDb, TestServer, send};

const METRICS_TOKEN: &str = "metrics-scraper-token-0123456789abcdef";

fn enabled(c: &mut Config) {
    c.metrics.enabled = true;
}

/// The value of the first sample of `name` whose labels include every `key="value"` given.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    let response = server
        .get("/metrics")
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("body")
}

async fn disabled_by_default_is_an_unknown_path(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, body) = send(server.get("/metrics")).await;
    let (unknown_status, unknown_body) = send(server.get("/no-such-endpoint")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!((status, &body), (unknown_status, &unknown_body));
    assert_eq!(body["error"], "not_found", "{body}");
    server.stop().await;
}

async fn main_port_counts_tokens_and_requests(db: TestDb) {
    let server = TestServer::start_with(&db, enabled).await;
    let client = server
        .service_client("https://api.example.com", "read")
        .await;
    let (status, body) = server.client_credentials(&client, &[]).await;
    assert_eq!(status, 200, "{body}");
    let (refused, _) = server
        .client_credentials(&client, &[("scope", "not-granted")])
        .await;
    assert_eq!(refused, 400);

    let response = server.get("/metrics").send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[CONTENT_TYPE].to_str().expect("type");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    // Our client id is ours alone, so this count is exactly this test's.
    let issued = sample(
        &text,
        "portcullis_tokens_issued_total",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
        ],
    );
    assert_eq!(issued, Some(1.0), "{text}");
    let requests = sample(
        &text,
        "portcullis_http_requests_total",
        &[("method", "POST"), ("route", "/token"), ("status", "200")],
    );
    assert!(requests.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        sample(
            &text,
            "portcullis_oauth_errors_total",
            &[("error", "invalid_scope")]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        text.contains("portcullis_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "portcullis_db_pool_connections",
            &[("backend", server.state.store.backend())]
        )
        .is_some(),
        "{text}"
    );
    for alg in ["ES256", "RS256", "EdDSA"] {
        let age = sample(&text, "portcullis_signing_key_age_seconds", &[("alg", alg)]);
        assert!(age.is_some_and(|s| s >= 0.0), "{alg}: {text}");
    }

    // An unrouted path is counted as `unmatched`, never under its raw path.
    send(server.get("/scan/for/secret-admin-page")).await;
    let text = server
        .get("/metrics")
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    assert!(!text.contains("secret-admin-page"), "{text}");
    assert!(
        sample(
            &text,
            "portcullis_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some(),
        "{text}"
    );
    server.stop().await;
}

async fn bearer_token_guards_the_main_port(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.metrics.enabled = true;
        c.metrics.bearer_token = Some(Secret::new(METRICS_TOKEN));
    })
    .await;
    let (status, body) = send(server.get("/metrics")).await;
    assert_eq!(status, 401, "{body}");
    let wrong = server
        .get("/metrics")
        .bearer_auth("metrics-scraper-token-0123456789abcdeX")
        .send()
        .await
        .expect("scrape");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let basic = server
        .get("/metrics")
        .header(AUTHORIZATION, format!("Basic {METRICS_TOKEN}"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(basic.status(), 401);
    let text = scrape(&server).await;
    assert!(text.contains("portcullis_http_requests_total"), "{text}");
    server.stop().await;
}

async fn separate_address_serves_it_there_only(db: TestDb) {
    let addr = crate::harness::unused_port();
    let server = TestServer::start_with(&db, |c| {
        c.metrics.enabled = true;
        c.metrics.bind = Some(addr);
    })
    .await;
    let (status, _) = send(server.get("/healthz")).await;
    assert_eq!(status, 200);
    let (main, body) = send(server.get("/metrics")).await;
    assert_eq!(main, 404, "{body}");
    let response = server
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    // The main port's requests are counted and shown on the metrics port.
    assert!(
        sample(
            &text,
            "portcullis_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        )
        .is_some(),
        "{text}"
    );
    // The metrics port serves nothing else.
    let other = server
        .http
        .get(format!("http://{addr}/token"))
        .send()
        .await
        .expect("other");
    assert_eq!(other.status(), 404);
    server.stop().await;
}

async fn no_username_or_secret_in_the_output(db: TestDb) {
    let server = TestServer::start_with(&db, enabled).await;
    let spa = spa_with_alice(&server).await;
    let b = browser();
    let p = pkce();
    let page = get_authorize(&server, &b, &spa_request(&spa, &p, &[]))
        .await
        .text()
        .await
        .expect("page");
    let wrong = submit_sign_in(&server, &b, &page, "not the password").await;
    assert_eq!(wrong.status(), 200);
    let wrong = wrong.text().await.expect("page");
    let consent = submit_sign_in(&server, &b, &wrong, PASSWORD).await;
    assert_eq!(consent.status(), 200);
    let service = server
        .service_client("https://api.example.com", "read")
        .await;
    let secret = service.secret.clone().expect("a confidential client");
    let (status, token) = server.client_credentials(&service, &[]).await;
    assert_eq!(status, 200, "{token}");
    let access_token = token["access_token"].as_str().expect("token");

    let text = server
        .get("/metrics")
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    for (what, value) in [
        ("the username", "alice"),
        ("the password", PASSWORD),
        ("the client secret", secret.as_str()),
        ("the access token", access_token),
    ] {
        assert!(!text.contains(value), "{what} is in the metrics:\n{text}");
    }
    for outcome in ["success", "failure"] {
        assert!(
            sample(&text, "portcullis_sign_ins_total", &[("outcome", outcome)])
                .is_some_and(|n| n >= 1.0),
            "{outcome}: {text}"
        );
    }
    assert!(
        sample(
            &text,
            "portcullis_http_requests_total",
            &[("route", "/authorize/signin"), ("method", "POST")]
        )
        .is_some(),
        "{text}"
    );
    server.stop().await;
}

both_stores!(
    disabled_by_default_is_an_unknown_path,
    main_port_counts_tokens_and_requests,
    bearer_token_guards_the_main_port,
    separate_address_serves_it_there_only,
    no_username_or_secret_in_the_output,
);
