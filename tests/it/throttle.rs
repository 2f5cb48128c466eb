//! Sign-in throttling (and the admin's clear) as the sign-in page uses it: free
//! attempts, then growing delays per account and per IP, counters kept in the store (so
//! concurrent failures all count), unknown usernames counted like known ones, the window, and
//! `DELETE /admin/users/{id}/lockout` and `portcullis user unlock`; and that an unknown user or
//! client is told apart from a wrong password or secret neither by the answer nor by the work
//! done (the dummy argon2 verification and SHA-256 compare happen).

use std::net::IpAddr;

use portcullis::store::Backoff;
use portcullis::throttle::{self, SignIn, Throttled, account_key, ip_key};
use reqwest::Method;
use serde_json::json;

use crate::both_stores;
use crate::fixtures::{PASSWORD, alice, ip, spa_with_alice};
use crate::flows::{browser, field, get_authorize, pkce, spa_request, throttled_sign_in};
use crate::harness::{TestDb, TestServer, admin_cli, header, send, send_full};

/// The seconds a sign-in must wait now, or 0 when it may go ahead.
async fn wait(server: &TestServer, username: &str, from: IpAddr) -> u64 {
    match throttle::check(&server.state.store, username, from, server.state.now()).await {
        Ok(()) => 0,
        Err(Throttled { retry_after }) => retry_after,
    }
}

async fn fail(server: &TestServer, username: &str, from: IpAddr) {
    throttle::record_failure(
        &server.state.store,
        &server.state.config.throttle,
        username,
        None,
        from,
        server.state.now(),
    )
    .await
    .expect("record_failure");
}

async fn failures(server: &TestServer, key: &str) -> i64 {
    server
        .state
        .store
        .find_sign_in_throttle(key)
        .await
        .expect("read counter")
        .map_or(0, |row| row.failures)
}

/// Fails `username` until it is blocked after each failure, waiting out each block; returns
/// the delays seen.
async fn delays(server: &TestServer, username: &str, from: IpAddr, n: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let w = wait(server, username, from).await;
        server.state.clock.advance(w as i64);
        assert_eq!(wait(server, username, from).await, 0);
        fail(server, username, from).await;
        seen.push(wait(server, username, from).await);
    }
    seen
}

async fn free_attempts_pass_then_delays_grow(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.throttle.max_delay = 10).await;
    server.state.clock.freeze();
    let home = ip("192.0.2.1");
    let seen = delays(&server, "alice", home, 10).await;
    // Five free failures, then base · 2^(failures − 5), at most max_delay.
    assert_eq!(seen, [0, 0, 0, 0, 0, 2, 4, 8, 10, 10]);
    assert_eq!(failures(&server, &account_key("alice")).await, 10);

    // While blocked, the account is blocked from everywhere (and under any spelling)...
    assert_eq!(wait(&server, "ALICE", ip("198.51.100.9")).await, 10);
    // ...but the address is not blocked for other accounts: it has 10 of its 20 free failures.
    assert_eq!(wait(&server, "bob", home).await, 0);
    server.state.clock.advance(4);
    assert_eq!(wait(&server, "alice", home).await, 6);
    server.state.clock.advance(6);
    assert_eq!(wait(&server, "alice", home).await, 0);
    server.stop().await;
}

async fn success_clears_the_account_counter(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let home = ip("192.0.2.1");
    assert_eq!(delays(&server, "alice", home, 5).await, [0; 5]);
    throttle::record_success(&server.state.store, "Alice", home, server.state.now())
        .await
        .expect("record_success");
    assert_eq!(failures(&server, &account_key("alice")).await, 0);
    // The address keeps its count: one right password does not excuse a spray of wrong ones.
    assert_eq!(failures(&server, &ip_key(home)).await, 5);
    // The account starts again with all its free attempts.
    assert_eq!(delays(&server, "alice", home, 6).await, [0, 0, 0, 0, 0, 2]);
    assert_eq!(failures(&server, &ip_key(home)).await, 11);
    server.stop().await;
}

async fn one_address_is_limited_across_many_usernames(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let sprayer = ip("203.0.113.5");
    for i in 0..20 {
        let user = format!("user{i}");
        assert_eq!(wait(&server, &user, sprayer).await, 0, "{user}");
        fail(&server, &user, sprayer).await;
    }
    // Twenty free failures per address: the 21st blocks it, whatever the username.
    assert_eq!(wait(&server, "fresh", sprayer).await, 0);
    fail(&server, "user20", sprayer).await;
    assert_eq!(wait(&server, "fresh", sprayer).await, 2);
    assert_eq!(wait(&server, "user0", sprayer).await, 2);
    // Other addresses, and the accounts themselves (one failure each), are not blocked.
    assert_eq!(wait(&server, "user0", ip("203.0.113.6")).await, 0);

    // IPv6: one /64 is one counter, so a host cannot rotate through its addresses.
    for i in 0..21u16 {
        let from = IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0x1234, i]);
        fail(&server, &format!("v6user{i}"), from).await;
    }
    assert_eq!(wait(&server, "fresh", ip("2001:db8:1:2:ffff::1")).await, 2);
    assert_eq!(wait(&server, "fresh", ip("2001:db8:1:3::1")).await, 0);
    assert_eq!(failures(&server, "ip:2001:db8:1:2::/64").await, 21);
    server.stop().await;
}

async fn unknown_usernames_are_throttled_like_known_ones(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    alice().create(&server).await;
    let known = delays(&server, "Alice", ip("192.0.2.1"), 8).await;
    let unknown = delays(&server, "nobody", ip("192.0.2.2"), 8).await;
    assert_eq!(known, [0, 0, 0, 0, 0, 2, 4, 8]);
    assert_eq!(known, unknown);
    // Not even a name that could never be a username is told apart.
    let invalid = delays(&server, "no such user", ip("192.0.2.3"), 8).await;
    assert_eq!(known, invalid);
    server.stop().await;
}

async fn failures_are_forgotten_after_the_window(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let window = server.state.config.throttle.window as i64;
    let home = ip("192.0.2.1");
    assert_eq!(delays(&server, "alice", home, 6).await, [0, 0, 0, 0, 0, 2]);
    // A failure within the window keeps counting...
    server.state.clock.advance(window);
    fail(&server, "alice", home).await;
    assert_eq!(failures(&server, &account_key("alice")).await, 7);
    assert_eq!(wait(&server, "alice", home).await, 4);
    // ...one after a quiet window starts again from one.
    server.state.clock.advance(window + 1);
    fail(&server, "alice", home).await;
    assert_eq!(failures(&server, &account_key("alice")).await, 1);
    assert_eq!(failures(&server, &ip_key(home)).await, 1);
    assert_eq!(wait(&server, "alice", home).await, 0);

    // Purging drops counters that neither block nor remember anything.
    fail(&server, "bob", ip("192.0.2.2")).await;
    let config = &server.state.config.throttle;
    let purged = throttle::purge(&server.state.store, config, server.state.now(), 1000)
        .await
        .expect("purge");
    assert_eq!(purged, 0);
    server.state.clock.advance(window + 1);
    let purged = throttle::purge(&server.state.store, config, server.state.now(), 1000)
        .await
        .expect("purge");
    assert_eq!(purged, 4);
    assert_eq!(failures(&server, &account_key("alice")).await, 0);
    server.stop().await;
}

async fn an_admin_clears_a_lockout(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let (status, user) = server
        .admin_post("/users", json!({ "username": "Alice" }))
        .await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().expect("id").to_string();
    let home = ip("192.0.2.1");
    for _ in 0..9 {
        fail(&server, "alice", home).await;
    }
    assert_eq!(wait(&server, "alice", home).await, 16);

    let path = format!("/users/{id}/lockout");
    let (status, body) = send(server.admin(Method::DELETE, &path)).await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    assert_eq!(wait(&server, "alice", home).await, 0);
    assert_eq!(failures(&server, &account_key("alice")).await, 0);
    // The address's counter is not the account's lockout: it stays.
    assert_eq!(failures(&server, &ip_key(home)).await, 9);
    // Clearing again is fine: there is simply nothing to clear.
    let (status, _) = send(server.admin(Method::DELETE, &path)).await;
    assert_eq!(status, 204);

    let (status, audit) = server.admin_get("/audit?limit=200").await;
    assert_eq!(status, 200, "{audit}");
    let cleared: Vec<_> = audit["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "user.clear_lockout")
        .collect();
    assert_eq!(cleared.len(), 2, "{audit}");
    assert_eq!(cleared[0]["target"], id.as_str());
    assert_eq!(cleared[0]["actor"], "bootstrap");
    assert_eq!(cleared[0]["detail"], json!({ "username": "alice" }));

    let (status, body) = send(server.admin(Method::DELETE, "/users/no-such-user/lockout")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = send(server.http.delete(server.url(&format!("/admin{path}")))).await;
    assert_eq!(status, 401, "{body}");
    server.stop().await;
}

async fn concurrent_failures_all_count(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let home = ip("192.0.2.1");
    let now = server.state.now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let state = server.state.clone();
        tasks.spawn(async move {
            throttle::record_failure(
                &state.store,
                &state.config.throttle,
                "alice",
                None,
                home,
                now,
            )
            .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("record_failure");
    }
    let store = &server.state.store;
    let account = store.find_sign_in_throttle(&account_key("alice")).await;
    let account = account.expect("read").expect("a counter");
    assert_eq!(account.failures, 20);
    // 2^15 seconds, capped at 15 minutes.
    assert_eq!(account.blocked_until, now + 900);
    let address = store.find_sign_in_throttle(&ip_key(home)).await;
    let address = address.expect("read").expect("a counter");
    assert_eq!((address.failures, address.blocked_until), (20, 0));
    assert_eq!(
        throttle::check(&server.state.store, "alice", home, now).await,
        Err(Throttled { retry_after: 900 })
    );
    server.stop().await;
}

/// The upsert's SQL arithmetic agrees with `Backoff::blocked_until` on this backend, through
/// the doubling, the cap and the far end where the shift would overflow.
async fn the_sql_backoff_matches_the_rule(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let backoff = Backoff {
        free_attempts: 3,
        base_delay: 7,
        max_delay: 86_400,
        window: 60,
    };
    let now = server.state.now();
    for n in 1..=70 {
        let row = server
            .state
            .store
            .record_sign_in_failure("test:rule", now, &backoff)
            .await
            .expect("upsert");
        assert_eq!(row.failures, n);
        assert_eq!(
            row.blocked_until,
            backoff.blocked_until(n, now),
            "failure {n}"
        );
    }
    assert_eq!(backoff.blocked_until(4, now), now + 14);
    assert_eq!(backoff.blocked_until(70, now), now + 86_400);
    server.stop().await;
}

async fn a_store_failure_refuses_the_sign_in(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let home = ip("192.0.2.1");
    assert_eq!(wait(&server, "alice", home).await, 0);
    // Fail closed: with the counters unreadable, nobody gets to guess.
    server.state.store.close().await;
    assert_eq!(wait(&server, "alice", home).await, 1);
    server.stop().await;
}

async fn the_cli_clears_a_lockout(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, user) = server
        .admin_post("/users", json!({ "username": "alice" }))
        .await;
    assert_eq!(status, 201, "{user}");
    let home = ip("192.0.2.1");
    for _ in 0..9 {
        fail(&server, "alice", home).await;
    }
    assert!(wait(&server, "alice", home).await > 0);
    let (ok, _, output) = admin_cli(&db, &["user", "unlock", "Alice"], "").await;
    assert!(ok, "{output}");
    assert!(
        output.contains("sign-in lockout cleared for alice"),
        "{output}"
    );
    assert_eq!(wait(&server, "alice", home).await, 0);
    assert_eq!(failures(&server, &account_key("alice")).await, 0);
    let (status, events) = server.admin_get("/events?type=user.clear_lockout").await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(events["events"][0]["actor"], "cli");
    let (ok, _, output) = admin_cli(&db, &["user", "unlock", "nobody"], "").await;
    assert!(!ok, "{output}");
    server.stop().await;
}

/// An unknown username costs an argon2 verification (against the dummy hash), as a wrong
/// password does; the answer is the same `Refused`.
async fn unknown_users_cost_a_password_verification(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let state = &server.state;
    alice().create(&server).await;
    for name in ["nobody", "no such user"] {
        let before = state.passwords.dummy_checks();
        let out = throttled_sign_in(state, name, PASSWORD, ip("192.0.2.1")).await;
        assert!(matches!(out, Ok(SignIn::Refused)), "{out:?}");
        assert!(
            state.passwords.dummy_checks() > before,
            "{name}: no dummy verification"
        );
    }
    let out = throttled_sign_in(state, "alice", "wrong", ip("192.0.2.2")).await;
    assert!(matches!(out, Ok(SignIn::Refused)), "{out:?}");
    server.stop().await;
}

/// The sign-in page answers an unknown user exactly as a wrong password (but for the name typed
/// back into the form).
async fn unknown_user_and_wrong_password_get_the_same_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = browser();
    let page = signin_page(&server, &b).await;
    let (status, user) = server
        .admin_post(
            "/users",
            json!({ "username": "erin", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let mut answers = Vec::new();
    for name in ["erin", "nobody"] {
        let csrf = field(&page, "csrf_token").expect("csrf field");
        let id = field(&page, "request_id").expect("request field");
        let response = b
            .post(server.url("/authorize/signin"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("request_id", id.as_str()),
                ("username", name),
                ("password", "wrong password"),
            ])
            .send()
            .await
            .expect("sign-in");
        let status = response.status().as_u16();
        let html = response.text().await.expect("page");
        answers.push((status, html.replace(name, "NAME")));
    }
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[0], answers[1]);
    server.stop().await;
}

/// An unknown client and a wrong secret: the same status, headers and body, and the unknown
/// client's secret is hashed and compared too.
async fn unknown_client_and_wrong_secret_look_the_same(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server
        .service_client("https://orders.example.com", "read")
        .await;
    let mut answers = Vec::new();
    for (id, secret) in [
        (client.id.as_str(), "wrong secret"),
        ("no-such-client", "wrong secret"),
    ] {
        let before = server.state.unknown_client_checks();
        let (status, headers, body) = send_full(
            server
                .post("/token")
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
        if id == "no-such-client" {
            assert!(
                server.state.unknown_client_checks() > before,
                "no dummy compare"
            );
        }
        answers.push((
            status,
            header(&headers, "www-authenticate").to_string(),
            body,
        ));
    }
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0], answers[1]);
    // The same with the secret in the form (client_secret_post).
    let mut bodies = Vec::new();
    for id in [client.id.as_str(), "no-such-client"] {
        let (status, body) = send(server.post("/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "wrong secret"),
        ]))
        .await;
        bodies.push((status, body));
    }
    assert_eq!(bodies[0].0, 401);
    assert_eq!(bodies[0], bodies[1]);
    server.stop().await;
}

both_stores!(
    the_cli_clears_a_lockout,
    unknown_users_cost_a_password_verification,
    unknown_user_and_wrong_password_get_the_same_page,
    unknown_client_and_wrong_secret_look_the_same,
);

both_stores!(
    free_attempts_pass_then_delays_grow,
    success_clears_the_account_counter,
    one_address_is_limited_across_many_usernames,
    unknown_usernames_are_throttled_like_known_ones,
    failures_are_forgotten_after_the_window,
    an_admin_clears_a_lockout,
    concurrent_failures_all_count,
    the_sql_backoff_matches_the_rule,
    a_store_failure_refuses_the_sign_in,
);

/// One sign-in attempt through the page, arriving with `X-Forwarded-For: xff`; returns the
/// status and the page (which carries the fields for the next attempt).
async fn attempt_via(
    server: &TestServer,
    b: &reqwest::Client,
    page: &str,
    username: &str,
    xff: &str,
) -> (u16, String) {
    let csrf = field(page, "csrf_token").expect("csrf field");
    let id = field(page, "request_id").expect("request field");
    let response = b
        .post(server.url("/authorize/signin"))
        .header("x-forwarded-for", xff)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request_id", id.as_str()),
            ("username", username),
            ("password", "wrong password"),
        ])
        .send()
        .await
        .expect("sign-in");
    let status = response.status().as_u16();
    (status, response.text().await.expect("page"))
}

async fn signin_page(server: &TestServer, b: &reqwest::Client) -> String {
    let client = spa_with_alice(server).await;
    let page = get_authorize(server, b, &spa_request(&client, &pkce(), &[])).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

async fn forwarded_for_is_ignored_from_untrusted_peers(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.throttle.ip_free_attempts = 1).await;
    server.state.clock.freeze();
    let b = browser();
    let page = signin_page(&server, &b).await;
    // Each attempt claims another address; the peer (127.0.0.1) is not a trusted proxy.
    let (status, page) = attempt_via(&server, &b, &page, "u1", "198.51.100.1").await;
    assert_eq!(status, 200);
    let (status, page) = attempt_via(&server, &b, &page, "u2", "198.51.100.2").await;
    assert_eq!(status, 200);
    let (status, _) = attempt_via(&server, &b, &page, "u3", "198.51.100.3").await;
    assert_eq!(
        status, 429,
        "the real address is blocked, whatever the header says"
    );
    assert_eq!(failures(&server, &ip_key(ip("127.0.0.1"))).await, 2);
    for spoofed in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_eq!(
            failures(&server, &ip_key(ip(spoofed))).await,
            0,
            "{spoofed}"
        );
    }
    server.stop().await;
}

async fn clients_behind_a_trusted_proxy_are_throttled_apart(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.throttle.ip_free_attempts = 1;
        c.http.trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]
            .map(|c| portcullis::proxy::Cidr::parse(c).expect("cidr"))
            .to_vec();
    })
    .await;
    server.state.clock.freeze();
    let b = browser();
    let page = signin_page(&server, &b).await;
    // The client wrote a spoofed entry on the left; the proxies appended the real ones.
    let (status, page) =
        attempt_via(&server, &b, &page, "u1", "6.6.6.6, 198.51.100.1, 10.0.0.7").await;
    assert_eq!(status, 200);
    let (status, page) = attempt_via(&server, &b, &page, "u2", "6.6.6.6, 198.51.100.1").await;
    assert_eq!(status, 200);
    let (status, page) = attempt_via(&server, &b, &page, "u3", "198.51.100.1").await;
    assert_eq!(status, 429, "198.51.100.1 used its free attempt");
    // Another client through the same proxy is counted on its own.
    let (status, _) = attempt_via(&server, &b, &page, "u4", "203.0.113.9").await;
    assert_eq!(status, 200, "203.0.113.9 is not blocked by its neighbour");
    assert_eq!(failures(&server, &ip_key(ip("198.51.100.1"))).await, 2);
    assert_eq!(failures(&server, &ip_key(ip("203.0.113.9"))).await, 1);
    assert_eq!(failures(&server, &ip_key(ip("127.0.0.1"))).await, 0);
    assert_eq!(failures(&server, &ip_key(ip("6.6.6.6"))).await, 0);
    assert_eq!(failures(&server, &ip_key(ip("10.0.0.7"))).await, 0);
    server.stop().await;
}

both_stores!(
    forwarded_for_is_ignored_from_untrusted_peers,
    clients_behind_a_trusted_proxy_are_throttled_apart,
);
