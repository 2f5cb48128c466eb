//! Housekeeping (`src/tasks.rs`): one pass deletes exactly the rows that expired, in
//! batches, keeps used codes and refresh rows while tokens of their grant may live (so
//! `revoke_user` still finds those grants), and the `portcullis purge` CLI reports its counts.

use portcullis::secret::sha256_hex;
use portcullis::store::{
    AuthorizationRequestRow, Backoff, Consumed, DeviceCodeRow, DeviceCodeStatus, IssuedRows,
    OpaqueTokenRow, Rotation, SessionClientRow, SessionRow, Store, grant_key, jti_key,
};
use portcullis::tasks::{PurgeCounts, TABLES, purge_once};

use crate::both_stores;
use crate::fixtures::{Registration, code_row, refresh_row, stored_user};
use crate::harness::{TestDb, TestServer, admin_cli, count};

/// How far the tests move the clock between writing rows and purging.
const LATER: i64 = 1_000;

/// Whether the row of `table` whose `key` column is `value` is still there.
async fn exists(store: &Store, table: &str, key: &str, value: &str) -> bool {
    count(
        store,
        &format!("SELECT COUNT(*) FROM {table} WHERE {key} = '{value}'"),
    )
    .await
        == 1
}

async fn server(db: &TestDb, batch_size: u64) -> TestServer {
    let server = TestServer::start_with(db, |c| {
        // The pass under test is called directly; the timer must not race it.
        c.housekeeping.enabled = false;
        c.housekeeping.batch_size = batch_size;
    })
    .await;
    server.state.clock.freeze();
    server
}

fn opaque(name: &str, client_id: &str, now: i64, expires_at: i64) -> OpaqueTokenRow {
    OpaqueTokenRow {
        token_hash: sha256_hex(name),
        jti: name.into(),
        grant_id: None,
        client_id: client_id.into(),
        subject: client_id.into(),
        scope: "read".into(),
        audience: "[]".into(),
        claims: "{}".into(),
        issued_at: now,
        expires_at,
    }
}

fn device(name: &str, client_id: &str, now: i64, expires_at: i64) -> DeviceCodeRow {
    DeviceCodeRow {
        device_code_hash: sha256_hex(name),
        user_code_hash: sha256_hex(&format!("user-{name}")),
        grant_id: format!("grant-{name}"),
        client_id: client_id.into(),
        scope: "openid".into(),
        audience: "[]".into(),
        status: DeviceCodeStatus::Pending.as_str().into(),
        user_id: None,
        auth_time: None,
        poll_interval: 5,
        last_polled_at: None,
        slow_down: 0,
        issued_at: now,
        expires_at,
        consumed_at: None,
    }
}

async fn purges_exactly_what_expired(db: TestDb) {
    let server = server(&db, 1000).await;
    let state = &server.state;
    let store = &state.store;
    let t0 = state.now();
    let then = t0 + LATER;
    // Nothing registers a resource, so the longest access token lives the configured 300 s.
    let longest = state.longest_access_token_lifetime().await.unwrap() as i64;
    assert_eq!(longest, 300);
    // Used codes and refresh rows: expired long enough ago that no token of theirs lives, and
    // expired so recently that one may.
    let long_ago = then - longest - 1;
    let recently = then - longest + 100;
    let client = Registration::new("app", "web")
        .redirect_uris(&["https://app.example.com/cb"])
        .register(&server)
        .await
        .id;
    let alice = stored_user(&server, "alice").await;
    let bob = stored_user(&server, "bob").await;

    // authorization_requests
    for (name, expires_at) in [("req-old", t0 + 10), ("req-live", then + 60)] {
        store
            .insert_authorization_request(&AuthorizationRequestRow {
                id_hash: sha256_hex(name),
                client_id: client.clone(),
                request: "{}".into(),
                created_at: t0,
                expires_at,
            })
            .await
            .unwrap();
    }
    // authorization_codes: unused and expired; used long ago; used recently (bob's, whose
    // grant revoke_user must still find); unused and live.
    for (name, who, expires_at, used) in [
        ("code-unused-old", &alice, t0 + 60, false),
        ("code-used-long-ago", &alice, long_ago, true),
        ("code-used-recently", &bob, recently, true),
        ("code-live", &alice, then + 60, false),
    ] {
        store
            .insert_code(&code_row(name, &client, who, t0, expires_at))
            .await
            .unwrap();
        if used {
            let taken = store.consume_code(&sha256_hex(name), t0).await.unwrap();
            assert!(matches!(taken, Consumed::Fresh(_)), "{name}");
        }
    }
    // device_codes: the same four kinds (a used one was approved, then taken by a poll).
    for (name, expires_at, used) in [
        ("dev-unused-old", t0 + 60, false),
        ("dev-used-long-ago", long_ago, true),
        ("dev-used-recently", recently, true),
        ("dev-live", then + 60, false),
    ] {
        assert!(
            store
                .insert_device_code(&device(name, &client, t0, expires_at), t0)
                .await
                .unwrap()
        );
        if used {
            let user_code = sha256_hex(&format!("user-{name}"));
            let decided = store
                .decide_device_code(&user_code, DeviceCodeStatus::Approved, &alice, t0, t0)
                .await
                .unwrap();
            assert!(decided.is_some(), "{name}");
            let taken = store
                .take_device_code(&sha256_hex(name), &client, t0)
                .await
                .unwrap();
            assert!(matches!(taken, Consumed::Fresh(_)), "{name}");
        }
    }
    // access_tokens (opaque)
    for (name, expires_at) in [("at-old", t0 + 10), ("at-live", then + 10)] {
        store
            .insert_opaque_token(&opaque(name, &client, t0, expires_at))
            .await
            .unwrap();
    }
    // refresh_tokens: expired long ago (one used, one not), expired recently, live.
    for (name, who, expires_at, used) in [
        ("rt-long-ago", &alice, long_ago, false),
        ("rt-used-long-ago", &alice, long_ago, true),
        ("rt-recently", &bob, recently, false),
        ("rt-live", &alice, then + 1_000, false),
    ] {
        store
            .insert_refresh_token(&refresh_row(name, &client, who, t0, expires_at))
            .await
            .unwrap();
        if used {
            let taken = store
                .rotate_refresh_token(&sha256_hex(name), t0, &IssuedRows::default())
                .await
                .unwrap();
            assert_eq!(taken, Rotation::Rotated, "{name}");
        }
    }
    // revocations
    store.revoke(&jti_key("denied-old"), t0 + 10).await.unwrap();
    store
        .revoke(&jti_key("denied-live"), then + 10)
        .await
        .unwrap();
    // used_jtis
    assert!(store.record_jti("iss", "jti-old", t0 + 10).await.unwrap());
    assert!(
        store
            .record_jti("iss", "jti-live", then + 10)
            .await
            .unwrap()
    );
    // sessions: past the absolute end; idle too long; live.
    let idle = state.config.session.idle_lifetime as i64;
    for (name, last_seen_at, expires_at) in [
        ("sess-ended", then - 5, t0 + 10),
        ("sess-idle", then - idle - 1, then + 3_600),
        ("sess-live", then - 5, then + 3_600),
    ] {
        store
            .insert_session(&SessionRow {
                id_hash: sha256_hex(name),
                user_id: alice.clone(),
                auth_time: t0,
                last_seen_at,
                expires_at,
            })
            .await
            .unwrap();
    }
    // session_clients
    for (sid, expires_at) in [("sid-old", t0 + 10), ("sid-live", then + 10)] {
        store
            .record_session_client(&SessionClientRow {
                sid: sid.into(),
                client_id: client.clone(),
                user_id: alice.clone(),
                created_at: t0,
                expires_at,
            })
            .await
            .unwrap();
    }
    // sign_in_throttle: a failure outside the counting window at purge time, and one inside.
    let window = state.config.throttle.window as i64;
    let backoff = Backoff {
        free_attempts: 5,
        base_delay: 1,
        max_delay: 900,
        window,
    };
    store
        .record_sign_in_failure("ip:192.0.2.1", then - window - 1, &backoff)
        .await
        .unwrap();
    store
        .record_sign_in_failure("ip:192.0.2.2", then - 10, &backoff)
        .await
        .unwrap();

    state.clock.advance(LATER);
    assert_eq!(state.now(), then);
    let mut heard = Vec::new();
    let counts = purge_once(state, |table, n| heard.push((table, n)))
        .await
        .unwrap();
    let expected = PurgeCounts(vec![
        ("authorization_requests", 1),
        ("authorization_codes", 2),
        ("device_codes", 2),
        ("access_tokens", 1),
        ("refresh_tokens", 2),
        ("revocations", 1),
        ("used_jtis", 1),
        ("sessions", 2),
        ("session_clients", 1),
        ("sign_in_throttle", 1),
        ("token_rate_limit", 0),
        ("audit_events", 0),
    ]);
    assert_eq!(counts, expected);
    assert_eq!(heard, expected.0, "progress hears every table in order");
    assert_eq!(counts.0.iter().map(|(t, _)| *t).collect::<Vec<_>>(), TABLES);

    for (table, key, gone, kept) in [
        (
            "authorization_requests",
            "id_hash",
            &["req-old"][..],
            &["req-live"][..],
        ),
        (
            "authorization_codes",
            "code_hash",
            &["code-unused-old", "code-used-long-ago"][..],
            &["code-used-recently", "code-live"][..],
        ),
        (
            "device_codes",
            "device_code_hash",
            &["dev-unused-old", "dev-used-long-ago"][..],
            &["dev-used-recently", "dev-live"][..],
        ),
        (
            "access_tokens",
            "token_hash",
            &["at-old"][..],
            &["at-live"][..],
        ),
        (
            "refresh_tokens",
            "token_hash",
            &["rt-long-ago", "rt-used-long-ago"][..],
            &["rt-recently", "rt-live"][..],
        ),
        (
            "sessions",
            "id_hash",
            &["sess-ended", "sess-idle"][..],
            &["sess-live"][..],
        ),
    ] {
        for name in gone {
            assert!(
                !exists(store, table, key, &sha256_hex(name)).await,
                "{name} purged"
            );
        }
        for name in kept {
            assert!(
                exists(store, table, key, &sha256_hex(name)).await,
                "{name} kept"
            );
        }
    }
    for (table, key, gone, kept) in [
        (
            "revocations",
            "revoked_key",
            "jti:denied-old",
            "jti:denied-live",
        ),
        ("used_jtis", "jti", "jti-old", "jti-live"),
        ("session_clients", "sid", "sid-old", "sid-live"),
        (
            "sign_in_throttle",
            "throttle_key",
            "ip:192.0.2.1",
            "ip:192.0.2.2",
        ),
    ] {
        assert!(!exists(store, table, key, gone).await, "{gone} purged");
        assert!(exists(store, table, key, kept).await, "{kept} kept");
    }
    // The replay cache forgot only the expired id.
    assert!(store.record_jti("iss", "jti-old", then + 10).await.unwrap());
    assert!(
        !store
            .record_jti("iss", "jti-live", then + 10)
            .await
            .unwrap()
    );
    // A replay of the recently used code is still told, so its grant would be revoked.
    let replay = store
        .consume_code(&sha256_hex("code-used-recently"), then)
        .await
        .unwrap();
    assert!(matches!(replay, Consumed::Replayed { .. }));

    // The revoke_user rule: cutting bob off still finds the grants of his recently used code
    // and of his refresh row, whose access tokens may live.
    store.revoke_user(&bob, then + longest).await.unwrap();
    for name in ["code-used-recently", "rt-recently"] {
        assert!(
            store
                .is_grant_revoked(&format!("grant-{name}"))
                .await
                .unwrap(),
            "{name}'s grant revoked"
        );
    }

    // A second pass right away finds nothing more.
    let again = purge_once(state, |_, _| {}).await.unwrap();
    assert_eq!(again.total(), 0, "{again:?}");

    // Once those tokens are dead too, the rows kept for them go.
    state.clock.advance(longest);
    let later = purge_once(state, |_, _| {}).await.unwrap();
    // (The live unused ones have expired by now as well.)
    assert_eq!(later.get("authorization_codes"), 2);
    assert_eq!(later.get("device_codes"), 2);
    assert!(
        !exists(
            store,
            "authorization_codes",
            "code_hash",
            &sha256_hex("code-used-recently")
        )
        .await
    );
    assert!(
        !exists(
            store,
            "device_codes",
            "device_code_hash",
            &sha256_hex("dev-used-recently")
        )
        .await
    );
    assert_eq!(
        later.get("refresh_tokens"),
        0,
        "revoke_user deleted bob's row"
    );
    // And bob's grant entries leave the deny-list when they expire.
    // (jti:denied-live, and the two grant entries revoke_user wrote until now.)
    assert_eq!(later.get("revocations"), 3, "{later:?}");
    assert!(
        !exists(
            store,
            "revocations",
            "revoked_key",
            &grant_key("grant-rt-recently")
        )
        .await
    );
    server.stop().await;
}

async fn purges_in_batches_until_one_is_short(db: TestDb) {
    let server = server(&db, 3).await;
    let state = &server.state;
    let store = &state.store;
    let t0 = state.now();
    let client = Registration::new("svc", "service")
        .scope("read")
        .register(&server)
        .await
        .id;
    // 10 expired rows: batches of 3, 3, 3 and a short 1; plus a batch size's exact multiple
    // (6) in another table, which ends on an empty batch.
    for i in 0..10 {
        store
            .insert_refresh_token(&refresh_row(&format!("rt-{i}"), &client, "s", t0, t0 + 1))
            .await
            .unwrap();
    }
    for i in 0..6 {
        store
            .insert_opaque_token(&opaque(&format!("at-{i}"), &client, t0, t0 + 1))
            .await
            .unwrap();
    }
    for i in 0..2 {
        store
            .insert_refresh_token(&refresh_row(
                &format!("rt-live-{i}"),
                &client,
                "s",
                t0,
                t0 + 10 * LATER,
            ))
            .await
            .unwrap();
        store
            .insert_opaque_token(&opaque(
                &format!("at-live-{i}"),
                &client,
                t0,
                t0 + 10 * LATER,
            ))
            .await
            .unwrap();
    }
    state.clock.advance(LATER);
    let counts = purge_once(state, |_, _| {}).await.unwrap();
    assert_eq!(counts.get("refresh_tokens"), 10);
    assert_eq!(counts.get("access_tokens"), 6);
    assert_eq!(count(store, "SELECT COUNT(*) FROM refresh_tokens").await, 2);
    assert_eq!(count(store, "SELECT COUNT(*) FROM access_tokens").await, 2);
    server.stop().await;
}

async fn the_purge_cli_prints_its_counts(db: TestDb) {
    let server = server(&db, 1000).await;
    let store = &server.state.store;
    // The CLI reads the real clock: these rows expired a day ago.
    let day_ago = server.state.now() - 86_400;
    let client = Registration::new("svc", "service")
        .scope("read")
        .register(&server)
        .await
        .id;
    for i in 0..3 {
        store
            .insert_refresh_token(&refresh_row(
                &format!("rt-{i}"),
                &client,
                "s",
                day_ago - 60,
                day_ago,
            ))
            .await
            .unwrap();
    }
    store
        .insert_opaque_token(&opaque("at", &client, day_ago - 60, day_ago))
        .await
        .unwrap();
    server.stop().await;

    let (ok, counts, output) = admin_cli(&db, &["purge"], "").await;
    assert!(ok, "{output}");
    assert_eq!(counts["refresh_tokens"], 3, "{output}");
    assert_eq!(counts["access_tokens"], 1, "{output}");
    assert_eq!(counts["sessions"], 0, "{output}");
    for table in TABLES {
        assert!(counts.get(table).is_some(), "{table} in {counts}");
    }
    assert!(
        output.contains("refresh_tokens: 3 expired rows deleted"),
        "{output}"
    );
    // Run again: nothing left.
    let (ok, counts, output) = admin_cli(&db, &["purge"], "").await;
    assert!(ok, "{output}");
    assert_eq!(counts["refresh_tokens"], 0, "{output}");
}

both_stores!(
    purges_exactly_what_expired,
    purges_in_batches_until_one_is_short,
    the_purge_cli_prints_its_counts,
);
