//! Security events: each kind appears in `GET /admin/events` after the action that
//! causes it; the filters, the cursor pages, the admin token, the retention purge and
//! `portcullis events`.

use portcullis::store::AuditEvent;
use portcullis::throttle::SignIn;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{
    PASSWORD, Registration, confidential_client, id_of, ip, resources, spa_with_alice, user,
};
use crate::flows::{
    browser, code, exchange, get_authorize, grant, pkce, spa_request, submit_consent,
    submit_sign_in, throttled_sign_in, token,
};
use crate::harness::{EcKey, TestDb, TestServer, admin_cli, jwt_claims, send};

/// The events `query` (a query string, without `?`) selects, newest first.
async fn events(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = server.admin_get(&format!("/events?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().expect("events").clone()
}

/// Each event as `[action, actor, target]`, newest first.
fn triples(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| json!([e["action"], e["actor"], e["target"]]))
        .collect()
}

async fn sign_ins_failures_and_lockouts_are_recorded(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let state = &server.state;
    let id = id_of(&user("alice").create(&server).await);
    let home = ip("192.0.2.1");
    // Five free failures, then the sixth blocks the account.
    for n in 1..=6 {
        let out = throttled_sign_in(state, "alice", "wrong", home).await;
        assert!(matches!(out, Ok(SignIn::Refused)), "failure {n}: {out:?}");
    }
    let failures = events(&server, &format!("type=sign_in.failure&target={id}")).await;
    assert_eq!(failures.len(), 6);
    assert_eq!(failures[0]["actor"], "ip:192.0.2.1");
    assert_eq!(failures[0]["detail"], json!({ "known_user": true }));
    let lockouts = events(&server, "type=sign_in.lockout").await;
    assert_eq!(
        triples(&lockouts),
        [json!(["sign_in.lockout", "ip:192.0.2.1", id])]
    );
    assert_eq!(
        lockouts[0]["detail"],
        json!({ "counter": "account", "failures": 6, "blocked_until": state.now() + 2 })
    );

    // An unknown user: the event names no one, and never the typed name.
    let out = throttled_sign_in(state, "mallory", "x", ip("192.0.2.9")).await;
    assert!(matches!(out, Ok(SignIn::Refused)), "{out:?}");
    let unknown = events(&server, "actor=ip:192.0.2.9").await;
    assert_eq!(
        triples(&unknown),
        [json!(["sign_in.failure", "ip:192.0.2.9", ""])]
    );
    assert_eq!(unknown[0]["detail"], json!({ "known_user": false }));
    assert!(!unknown[0].to_string().contains("mallory"));

    // The lockout ends; the right password is a success event.
    state.clock.advance(2);
    let out = throttled_sign_in(state, "alice", PASSWORD, home).await;
    assert!(matches!(out, Ok(SignIn::User(_))), "{out:?}");
    let all = events(&server, &format!("target={id}")).await;
    assert_eq!(all[0]["action"], "sign_in.success");
    assert_eq!(all[0]["actor"], "ip:192.0.2.1");
    // No event holds a password.
    let every = events(&server, "limit=200").await;
    assert!(!Value::from(every.clone()).to_string().contains(PASSWORD));
    assert!(!Value::from(every).to_string().contains("wrong"));
    server.stop().await;
}

async fn consent_is_recorded(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = spa_with_alice(&server).await;
    server.state.clock.freeze();
    let b = browser();
    for decision in ["deny", "allow"] {
        let p = pkce();
        let page = get_authorize(&server, &b, &spa_request(&client, &p, &[])).await;
        let page = page.text().await.expect("page");
        // The second round is signed in already: the consent page comes at once.
        let consent_html = if page.contains("name=\"password\"") {
            let consent = submit_sign_in(&server, &b, &page, PASSWORD).await;
            consent.text().await.expect("consent page")
        } else {
            page
        };
        let done = submit_consent(&server, &b, &consent_html, decision).await;
        assert_eq!(done.status(), 302, "{decision}");
        // Apart by a second, so "newest first" is not left to the ids.
        server.state.clock.advance(1);
    }
    let found = events(&server, &format!("target={}", client.id)).await;
    let actions: Vec<&str> = found
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("consent."))
        .collect();
    assert_eq!(actions, ["consent.granted", "consent.denied"]);
    let granted = &found[0];
    assert_eq!(granted["action"], "consent.granted");
    assert!(granted["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(granted["detail"]["scope"], "openid profile read");
    server.stop().await;
}

async fn revocation_and_replays_are_recorded(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let actor = format!("client:{}", web.id);

    // A code redeemed twice.
    let p = pkce();
    let c = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let (status, first) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{first}");
    let grant_id = jwt_claims(first["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .expect("grant_id")
        .to_string();
    let (status, _) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    assert_eq!(status, 400);
    let replays = events(&server, "type=code.replay").await;
    assert_eq!(triples(&replays), [json!(["code.replay", actor, grant_id])]);

    // A refresh token used twice.
    let p = pkce();
    let c = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let (_, tokens) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let grant_id = jwt_claims(tokens["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, body) = token(&server, &web, &form).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = token(&server, &web, &form).await;
    assert_eq!(status, 400);
    let reuse = events(&server, "type=refresh_token.reuse").await;
    assert_eq!(
        triples(&reuse),
        [json!(["refresh_token.reuse", actor, grant_id])]
    );

    // A revocation names the grant, never the token.
    let p = pkce();
    let c = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let (_, tokens) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    let fresh = tokens["refresh_token"].as_str().expect("refresh");
    let grant_id = jwt_claims(tokens["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = send(
        server
            .post("/revoke")
            .basic_auth(&web.id, web.secret.as_deref())
            .form(&[("token", fresh)]),
    )
    .await;
    assert_eq!(status, 200);
    let revoked = events(&server, "type=token.revoked").await;
    assert_eq!(
        triples(&revoked),
        [json!(["token.revoked", actor, grant_id])]
    );
    assert_eq!(revoked[0]["detail"], json!({ "kind": "Refresh" }));
    assert!(!revoked[0].to_string().contains(fresh));
    server.stop().await;
}

async fn assertion_replay_is_recorded(db: TestDb) {
    let server = TestServer::start(&db).await;
    let api = "https://orders.example.com";
    server.resource(api, &["read"], json!({})).await;
    let key = EcKey::generate("client-key-1");
    let client = Registration::new("signing job", "service")
        .set("token_endpoint_auth_method", json!("private_key_jwt"))
        .set("jwks", json!({ "keys": [key.jwk()] }))
        .scope("read")
        .allowed_resources(&[api])
        .register(&server)
        .await;
    let now = server.state.now();
    let assertion = key.sign(&json!({
        "iss": client.id, "sub": client.id, "aud": server.url("/token"),
        "iat": now, "exp": now + 60, "jti": "once",
    }));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, body) = send(server.post("/token").form(&form)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(server.post("/token").form(&form)).await;
    assert_eq!(status, 401);
    let replays = events(&server, "type=assertion.replay").await;
    let actor = format!("client:{}", client.id);
    assert_eq!(
        triples(&replays),
        [json!(["assertion.replay", actor, client.id])]
    );
    assert_eq!(replays[0]["detail"], json!({ "kind": "client_assertion" }));
    // Routine issuance is not an event: the first request wrote none.
    assert_eq!(events(&server, &format!("actor={actor}")).await.len(), 1);
    server.stop().await;
}

async fn admin_changes_and_key_rotation_are_events(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = server
        .service_client("https://orders.example.com", "read")
        .await;
    let (status, _) = server
        .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200);
    let rotations = events(&server, "type=keys.rotate").await;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["actor"], "bootstrap");
    let created = events(&server, &format!("type=client.create&target={}", client.id)).await;
    assert_eq!(created.len(), 1);
    server.stop().await;
}

async fn events_filter_and_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let store = &server.state.store;
    let t0 = 1_000_000;
    // 25 events a second apart, alternating two actors; three in one second share `at`.
    for i in 0..25i64 {
        let at = t0 + i.min(20);
        let actor = if i % 2 == 0 {
            "ip:192.0.2.1"
        } else {
            "ip:192.0.2.2"
        };
        let action = if i % 5 == 0 {
            "sign_in.lockout"
        } else {
            "sign_in.failure"
        };
        let event = AuditEvent::new(at, actor, action, &format!("user-{i}"), json!({ "i": i }));
        store.insert_audit_event(&event).await.expect("insert");
    }
    let range = format!("since={t0}&until={}", t0 + 100);
    let all = events(&server, &format!("{range}&limit=200")).await;
    assert_eq!(all.len(), 25);
    let ats: Vec<i64> = all.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ats:?}"
    );

    // Cursor pages of 4 walk all 25 exactly once, ties in `at` included.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/events?{range}&limit=4");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = server.admin_get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let ids: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, ids);

    // Each filter, and `type` / `subject` as the names of `action` / `target`.
    assert_eq!(
        events(&server, &format!("{range}&type=sign_in.lockout"))
            .await
            .len(),
        5
    );
    assert_eq!(
        events(&server, &format!("{range}&action=sign_in.lockout"))
            .await
            .len(),
        5
    );
    assert_eq!(
        events(&server, &format!("{range}&actor=ip:192.0.2.2"))
            .await
            .len(),
        12
    );
    let one = events(&server, "subject=user-7").await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["detail"], json!({ "i": 7 }));
    assert_eq!(events(&server, "target=user-7").await, one);
    let window = events(&server, &format!("since={}&until={}", t0 + 3, t0 + 6)).await;
    let ats: Vec<i64> = window.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert_eq!(ats, [t0 + 5, t0 + 4, t0 + 3]);
    let both = events(
        &server,
        &format!("{range}&type=sign_in.lockout&actor=ip:192.0.2.1&limit=200"),
    )
    .await;
    assert_eq!(both.len(), 3, "i = 0, 10, 20");

    // A cursor we did not give, and no admin token.
    let (status, body) = server.admin_get("/events?cursor=nonsense").await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_request"))
    );
    let (status, body) = server.admin_get("/events?colour=red").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = send(server.get("/admin/events")).await;
    assert_eq!(status, 401);
    let (status, _) = send(
        server
            .get("/admin/events")
            .bearer_auth("not-an-admin-token"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(server.admin(Method::GET, "/events")).await;
    assert_eq!(status, 200);
    server.stop().await;
}

async fn old_events_are_purged_after_the_retention(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.audit.retention = 100).await;
    server.state.clock.freeze();
    let state = &server.state;
    let now = state.now();
    for (id, at) in [("old", now - 101), ("edge", now - 100), ("new", now)] {
        let event = AuditEvent::new(at, "ip:192.0.2.1", "sign_in.failure", id, json!({}));
        state
            .store
            .insert_audit_event(&event)
            .await
            .expect("insert");
    }
    let counts = portcullis::tasks::purge_once(state, |_, _| {})
        .await
        .expect("purge");
    assert_eq!(counts.get("audit_events"), 1);
    let left: Vec<Value> = events(&server, "type=sign_in.failure")
        .await
        .iter()
        .map(|e| e["target"].clone())
        .collect();
    assert_eq!(left, [json!("new"), json!("edge")]);
    server.stop().await;

    // Retention 0 keeps everything.
    let server = TestServer::start_with(&db, |c| c.audit.retention = 0).await;
    server.state.clock.advance(10 * 365 * 86_400);
    let counts = portcullis::tasks::purge_once(&server.state, |_, _| {})
        .await
        .expect("purge");
    assert_eq!(counts.get("audit_events"), 0);
    assert_eq!(events(&server, "type=sign_in.failure").await.len(), 2);
    server.stop().await;
}

async fn the_events_cli_filters_and_pages(db: TestDb) {
    let server = TestServer::start(&db).await;
    for i in 0..3i64 {
        let event = AuditEvent::new(100 + i, "ip:192.0.2.1", "sign_in.failure", "u", json!({}));
        server
            .state
            .store
            .insert_audit_event(&event)
            .await
            .expect("insert");
    }
    server.stop().await;
    let args = ["events", "--type", "sign_in.failure", "--limit", "2"];
    let (ok, page, output) = admin_cli(&db, &args, "").await;
    assert!(ok, "{output}");
    let ats: Vec<&Value> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["at"])
        .collect();
    assert_eq!(ats, [&json!(102), &json!(101)]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let args = ["events", "--type", "sign_in.failure", "--cursor", &cursor];
    let (ok, page, output) = admin_cli(&db, &args, "").await;
    assert!(ok, "{output}");
    assert_eq!(page["events"][0]["at"], 100);
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert!(page.get("next_cursor").is_none());
    let (ok, _, output) = admin_cli(&db, &["events", "--until", "101"], "").await;
    assert!(ok, "{output}");
    assert!(output.contains("\"at\": 100"), "{output}");
    assert!(!output.contains("\"at\": 101"), "{output}");
}

both_stores!(
    sign_ins_failures_and_lockouts_are_recorded,
    consent_is_recorded,
    revocation_and_replays_are_recorded,
    assertion_replay_is_recorded,
    admin_changes_and_key_rotation_are_events,
    events_filter_and_page,
    old_events_are_purged_after_the_retention,
    the_events_cli_filters_and_pages,
);
