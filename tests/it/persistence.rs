//! Everything that matters lives in the database: a restarted server (or a new node) picks up
//! where the last one stopped. And the two dialects' migrations stay in step.

use serde_json::json;

use crate::both_stores;
use crate::fixtures::{Registration, code_row, fixed_issuer, refresh_row, stored_user};
use crate::harness::{TestDb, TestServer, jwks_kids, jwt_header};

const API: &str = "https://api.example.com";

async fn state_survives_a_restart(db: TestDb) {
    let first = TestServer::start_with(&db, fixed_issuer).await;
    let client = first.service_client(API, "read write").await;
    let token = first.access_token(&client, &[("scope", "read")]).await;
    let (status, _) = first
        .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200);
    let kids = jwks_kids(&first.jwks().await);
    assert_eq!(kids.len(), 4);
    let signing_kid = jwt_header(&first.access_token(&client, &[]).await)["kid"].clone();
    let (_, audit_before) = first.admin_get("/audit").await;
    first.stop().await;

    let second = TestServer::start_with(&db, fixed_issuer).await;
    assert_eq!(
        jwks_kids(&second.jwks().await),
        kids,
        "same keys after restart"
    );
    // The client still authenticates with the secret it was given once.
    let fresh = second.access_token(&client, &[]).await;
    assert_eq!(
        jwt_header(&fresh)["kid"],
        signing_kid,
        "the rotated key still signs"
    );
    // A token issued before the restart is still valid, with what it said.
    let (status, body) = second.introspect(&client, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["scope"], "read");
    assert_eq!(body["aud"], API);
    assert_eq!(body["client_id"], client.id.as_str());
    // And the admin's records are all there.
    let (status, shown) = second.admin_get(&format!("/clients/{}", client.id)).await;
    assert_eq!(status, 200, "{shown}");
    let (_, audit_after) = second.admin_get("/audit").await;
    assert_eq!(audit_after, audit_before);
    second.stop().await;
}

/// No server: the two migration directories hold the same file names (one
/// numbering for both), so neither backend can lag behind the other.
#[test]
fn migrations_match_across_backends() {
    let list = |backend: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = list("sqlite");
    let postgres = list("postgres");
    assert!(!sqlite.is_empty(), "no migrations found");
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        // sqlx reads `<version>_<description>.sql`.
        let version = name.split('_').next().unwrap_or("");
        assert!(
            name.ends_with(".sql")
                && !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_digit()),
            "{name} is not <version>_<description>.sql"
        );
    }
}

both_stores!(state_survives_a_restart);

/// `database.sqlite_synchronous` (README): SQLite connections get the configured `PRAGMA
/// synchronous` (FULL = 2 by default, NORMAL = 1), and a write survives a reconnect either
/// way; Postgres ignores the setting and works the same.
async fn sqlite_synchronous_is_applied(db: TestDb) {
    use portcullis::config::{DatabaseConfig, SqliteSynchronous};
    use portcullis::store::Store;
    for (setting, pragma) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
        let config = DatabaseConfig {
            sqlite_synchronous: setting,
            ..DatabaseConfig::default()
        };
        let store = Store::connect_with(&db.url, &config).await.unwrap();
        store.migrate().await.unwrap();
        if let Store::Sqlite(pool) = &store {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(level, pragma, "{setting:?}");
        }
        let key = format!("jti:{setting:?}");
        store.revoke(&key, i64::MAX).await.unwrap();
        drop(store);
        let again = Store::connect_with(&db.url, &config).await.unwrap();
        let found = crate::harness::count(
            &again,
            &format!("SELECT COUNT(*) FROM revocations WHERE revoked_key = '{key}'"),
        )
        .await;
        assert_eq!(found, 1, "{setting:?}");
    }
}

both_stores!(sqlite_synchronous_is_applied);

/// A redemption stores its tokens in the transaction that takes the code or refresh token
/// (`Store::redeem_code`, `Store::rotate_refresh_token`): when the tokens cannot be written
/// (here: a refresh token whose digest is taken), the code or token is not spent either, and
/// when they can, both happen.
async fn a_redemption_takes_and_stores_all_or_nothing(db: TestDb) {
    use portcullis::secret::sha256_hex;
    use portcullis::store::{Consumed, IssuedRows, Rotation};
    let server = TestServer::start(&db).await;
    let store = &server.state.store;
    let now = server.state.now();
    let alice = stored_user(&server, "alice").await;
    let client = Registration::new("web", "web")
        .redirect_uris(&["https://app.example.com/cb"])
        .register(&server)
        .await
        .id;
    store
        .insert_code(&code_row("the-code", &client, &alice, now, now + 60))
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh_row(
            "taken-digest",
            &client,
            &alice,
            now,
            now + 600,
        ))
        .await
        .unwrap();
    let clashing = IssuedRows {
        opaque: None,
        refresh: Some(refresh_row("taken-digest", &client, &alice, now, now + 600)),
    };
    let code_hash = sha256_hex("the-code");
    assert!(store.redeem_code(&code_hash, now, &clashing).await.is_err());
    assert!(
        store.find_code(&code_hash, now).await.unwrap().is_some(),
        "the code is still unspent"
    );
    let fresh = IssuedRows {
        opaque: None,
        refresh: Some(refresh_row(
            "first-refresh",
            &client,
            &alice,
            now,
            now + 600,
        )),
    };
    assert!(matches!(
        store.redeem_code(&code_hash, now, &fresh).await.unwrap(),
        Consumed::Fresh(())
    ));
    assert!(store.find_code(&code_hash, now).await.unwrap().is_none());
    let first = sha256_hex("first-refresh");
    assert!(
        store
            .find_refresh_token(&first, now)
            .await
            .unwrap()
            .is_some()
    );

    // The same for a rotation.
    assert!(
        store
            .rotate_refresh_token(&first, now, &clashing)
            .await
            .is_err()
    );
    let unspent = store
        .find_refresh_token(&first, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        unspent.consumed_at, None,
        "the refresh token is still unspent"
    );
    let next = IssuedRows {
        opaque: None,
        refresh: Some(refresh_row(
            "second-refresh",
            &client,
            &alice,
            now,
            now + 600,
        )),
    };
    assert_eq!(
        store
            .rotate_refresh_token(&first, now, &next)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let second = sha256_hex("second-refresh");
    assert!(
        store
            .find_refresh_token(&second, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store
            .rotate_refresh_token(&first, now, &IssuedRows::default())
            .await
            .unwrap(),
        Rotation::Replayed { .. }
    ));
    server.stop().await;
}

both_stores!(a_redemption_takes_and_stores_all_or_nothing);
