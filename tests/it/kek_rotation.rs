//! `portcullis keys rotate-kek` re-encrypts every private signing key under a new
//! key-encryption key. Tokens signed before still verify, new ones are signed, the old KEK
//! opens nothing, and a wrong KEK is refused naming the setting.

use portcullis::config::KekBytes;
use portcullis::keys::kek::Kek;
use portcullis::keys::kek_file;

use crate::both_stores;
use crate::fixtures::fixed_issuer;
use crate::harness::{TestDb, TestServer, config_for, db_env, portcullis};

const API: &str = "https://api.example.com";

/// The fixed issuer and `kek` as key_encryption_key.
fn with_kek(kek: &str) -> impl FnOnce(&mut portcullis::config::Config) {
    let kek = KekBytes::from_base64(kek).expect("kek");
    move |c| {
        fixed_issuer(c);
        c.key_encryption_key = Some(kek);
    }
}

fn fresh_kek() -> String {
    kek_file::random_kek_base64()
}

/// Every stored key opens under `kek`, or none does.
async fn all_open_under(server_db: &TestDb, kek: &str) -> Vec<bool> {
    let store = portcullis::store::Store::connect(&server_db.url)
        .await
        .expect("connect");
    let kek = Kek::from_base64(kek).expect("kek");
    let opened: Vec<bool> = store
        .all_signing_keys()
        .await
        .expect("keys")
        .iter()
        .map(|row| kek.opens(&row.private_key, &row.kid))
        .collect();
    store.close().await;
    // An empty list would make every "all open" and "none opens" below hold by default.
    assert!(!opened.is_empty(), "there are stored signing keys to open");
    opened
}

async fn rotate_kek_moves_every_key_to_the_new_kek(db: TestDb) {
    let first = TestServer::start_with(&db, fixed_issuer).await;
    let client = first.service_client(API, "read").await;
    let before = first.access_token(&client, &[]).await;
    // A retiring key as well as active ones: every row moves.
    let (status, _) = first
        .admin_post("/keys/rotate", serde_json::json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200);
    first.stop().await;

    let new = fresh_kek();
    let mut env = db_env(&db);
    env.push(("PORTCULLIS_NEW_KEY_ENCRYPTION_KEY", new.as_str()));
    let run = portcullis(&env, &["keys", "rotate-kek"]).await;
    assert!(run.ok, "{}", run.all());
    assert_eq!(run.stderr.matches("resealed").count(), 4, "{}", run.stderr);
    assert!(!run.all().contains(&new), "the new KEK is never printed");
    assert!(!run.all().contains(&db.kek), "nor the old one");

    assert_eq!(all_open_under(&db, &new).await, [true; 4]);
    assert_eq!(
        all_open_under(&db, &db.kek).await,
        [false; 4],
        "the old KEK opens nothing"
    );

    // Starting with the old KEK is refused, naming the setting.
    let error = match portcullis::bootstrap(config_for(&db)).await {
        Ok(_) => panic!("the old KEK still loads the keys"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("key_encryption_key") && error.contains("PORTCULLIS_KEY_ENCRYPTION_KEY"),
        "{error}"
    );
    let run = portcullis(&db_env(&db), &["keys", "list"]).await;
    assert!(
        !run.ok && run.stderr.contains("PORTCULLIS_KEY_ENCRYPTION_KEY"),
        "{}",
        run.all()
    );

    let second = TestServer::start_with(&db, with_kek(&new)).await;
    let (status, body) = second.introspect(&client, &before).await;
    assert_eq!(
        (status, &body["active"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    let after = second.access_token(&client, &[]).await;
    let (_, body) = second.introspect(&client, &after).await;
    assert_eq!(body["active"], true, "{body}");
    let (_, audit) = second.admin_get("/audit").await;
    assert!(audit.to_string().contains("keys.rotate_kek"), "{audit}");
    second.stop().await;
}

/// Several nodes: each gets key_encryption_key = new and key_encryption_key_old = old (in
/// any order, keys still open), then one run of rotate-kek, then old is dropped.
async fn a_rolling_kek_change(db: TestDb) {
    let old = db.kek.clone();
    let new = fresh_kek();
    let both = |c: &mut portcullis::config::Config| {
        fixed_issuer(c);
        c.key_encryption_key = Some(KekBytes::from_base64(&new).expect("kek"));
        c.key_encryption_key_old = Some(KekBytes::from_base64(&old).expect("kek"));
    };
    let still_old = TestServer::start_with(&db, fixed_issuer).await;
    let rolled = TestServer::start_with(&db, both).await;
    let client = still_old.service_client(API, "read").await;
    let before = still_old.access_token(&client, &[]).await;

    // Without a new key and without key_encryption_key_old there is nothing to do.
    let run = portcullis(&db_env(&db), &["keys", "rotate-kek"]).await;
    assert!(
        !run.ok && run.stderr.contains("--new-kek-file"),
        "{}",
        run.all()
    );

    let env = [
        ("PORTCULLIS_DATABASE_URL", db.url.as_str()),
        ("PORTCULLIS_KEY_ENCRYPTION_KEY", new.as_str()),
        ("PORTCULLIS_KEY_ENCRYPTION_KEY_OLD", old.as_str()),
    ];
    let run = portcullis(&env, &["keys", "rotate-kek"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(
        run.stderr.contains("remove key_encryption_key_old"),
        "{}",
        run.stderr
    );
    assert!(all_open_under(&db, &new).await.iter().all(|o| *o));
    // The rolled node reloads its ring from the re-encrypted rows.
    let now = rolled.state.now();
    rolled
        .state
        .keys
        .reload(&rolled.state.store, now)
        .await
        .expect("reload");
    still_old.stop().await;
    rolled.stop().await;

    let done = TestServer::start_with(&db, with_kek(&new)).await;
    let (_, body) = done.introspect(&client, &before).await;
    assert_eq!(body["active"], true, "{body}");
    done.stop().await;
}

/// SQLite without key_encryption_key: the generated `<db>.kek` file is replaced, and a crash
/// between the steps leaves a pair the next start settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_kek_file_rotates_and_survives_an_interrupted_rotation() {
    let db = crate::harness::Backend::Sqlite
        .db("kek_file")
        .await
        .expect("db");
    let no_kek = |c: &mut portcullis::config::Config| {
        fixed_issuer(c);
        c.key_encryption_key = None;
    };
    let file = kek_file::sqlite_kek_path(&db.url).expect("file database");
    let pending = kek_file::pending_path(&file);

    let server = TestServer::start_with(&db, no_kek).await;
    let client = server.service_client(API, "read").await;
    let before = server.access_token(&client, &[]).await;
    server.stop().await;
    let old = std::fs::read_to_string(&file).expect("generated file");

    let run = portcullis(
        &[("PORTCULLIS_DATABASE_URL", db.url.as_str())],
        &["keys", "rotate-kek"],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let new = std::fs::read_to_string(&file).expect("file");
    assert_ne!(new, old);
    assert!(!pending.exists());
    assert!(all_open_under(&db, &new).await.iter().all(|o| *o));
    assert!(all_open_under(&db, &old).await.iter().all(|o| !*o));

    // Crash before the commit: `.kek.new` exists, the keys are still under `.kek`.
    kek_file::write_private_file(&pending, &fresh_kek()).expect("write");
    let (state, warnings) = portcullis::bootstrap({
        let mut c = config_for(&db);
        no_kek(&mut c);
        c
    })
    .await
    .expect("starts");
    assert!(
        warnings.iter().any(|w| w.contains("never committed")),
        "{warnings:?}"
    );
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&file).expect("file"), new);

    // Crash after the commit, before the rename: the keys are under `.kek.new`.
    let newer = fresh_kek();
    kek_file::write_private_file(&pending, &newer).expect("write");
    portcullis::keys::kek_rotation::rotate_kek(
        &state.store,
        &Kek::from_base64(&new).expect("kek"),
        &Kek::from_base64(&newer).expect("kek"),
        "cli",
        state.now(),
        |_| {},
    )
    .await
    .expect("rotate");
    state.store.close().await;
    let server = TestServer::start_with(&db, no_kek).await;
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&file).expect("file"), newer);
    let (_, body) = server.introspect(&client, &before).await;
    assert_eq!(body["active"], true, "{body}");
    server.stop().await;
}

both_stores!(
    rotate_kek_moves_every_key_to_the_new_kek,
    a_rolling_kek_change
);
