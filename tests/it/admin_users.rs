//! Local user accounts as an operator and the sign-in code see them: the admin API (create,
//! list, show, replace, delete; errors naming the field), the `user` CLI, passwords stored as
//! argon2id at the OWASP parameters and never shown, `authenticate`, and the audit trail.

use std::time::{Duration, Instant};

use portcullis::admin::Actor;
use portcullis::admin::users;
use portcullis::secret::Secret;
use portcullis::store::Store;
use portcullis::users::authenticate;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{PASSWORD, alice, alice_with_email, create_user, id_of, user};
use crate::harness::{TestDb, TestServer, admin_cli, header, send_full};

const NEW_PASSWORD: &str = "Tr0ub4dor&3 is worse";

/// No key that names a password, and neither a password nor a hash anywhere in the text.
fn assert_no_password(what: &str, body: &Value) {
    let text = body.to_string();
    for secret in [PASSWORD, NEW_PASSWORD, "$argon2", "password"] {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

/// The stored PHC string, read with plain SQL rather than through the store's own methods.
async fn stored_hash(store: &Store, id: &str) -> Option<String> {
    let sql = "SELECT password_hash FROM users WHERE id = $1";
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        Store::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
    }
    .expect("user row")
}

async fn user_audit_events(server: &TestServer, id: &str) -> Vec<Value> {
    let (status, body) = server.admin_get("/audit?limit=200").await;
    assert_eq!(status, 200, "{body}");
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["target"] == id && e["action"].as_str().unwrap().starts_with("user."))
        .cloned()
        .collect()
}

async fn users_are_created_listed_shown_replaced_and_deleted(db: TestDb) {
    let server = TestServer::start(&db).await;
    let now = server.state.now();
    let (status, headers, alice) = send_full(server.admin(Method::POST, "/users").json(&json!({
        "username": "Alice",
        "password": PASSWORD,
        "name": "Alice Liddell",
        "email": "alice@example.com",
        "email_verified": true,
        "locale": "en-GB",
        "zoneinfo": "Europe/London",
        "birthdate": "0000-05-04",
        "address": { "locality": "Oxford", "country": "UK" },
    })))
    .await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    uuid::Uuid::parse_str(&id_of(&alice)).expect("the id (the `sub`) is a UUID");
    // Usernames are case-insensitive, so they are kept lower-cased.
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["disabled"], false);
    let created = alice["created_at"].as_i64().expect("created_at");
    assert!(created >= now, "{alice}");
    assert_eq!(alice["updated_at"], json!(created));
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["email_verified"], true);
    assert_eq!(
        alice["address"],
        json!({ "locality": "Oxford", "country": "UK" })
    );
    assert!(
        alice.get("phone_number").is_none(),
        "unset claims are omitted: {alice}"
    );
    let alice_path = format!("/users/{}", id_of(&alice));
    let (status, shown) = server.admin_get(&alice_path).await;
    assert_eq!((status, &shown), (200, &alice));

    let bob = user("bob").create(&server).await;
    let carol = create_user(&server, json!({ "username": "carol" })).await;
    let mut all = vec![id_of(&alice), id_of(&bob), id_of(&carol)];
    all.sort();

    // Keyset pagination by id, like clients.
    let (status, page1) = server.admin_get("/users?limit=2").await;
    assert_eq!(status, 200, "{page1}");
    let next = page1["next"].as_str().expect("a second page").to_string();
    let (status, page2) = server
        .admin_get(&format!("/users?limit=2&after={next}"))
        .await;
    assert_eq!(status, 200, "{page2}");
    assert!(page2.get("next").is_none(), "{page2}");
    let listed: Vec<String> = [&page1, &page2]
        .iter()
        .flat_map(|p| p["users"].as_array().unwrap().iter().map(id_of))
        .collect();
    assert_eq!(listed, all);

    // PUT replaces the claims; username and `disabled` stay unless given.
    server.state.clock.advance(10);
    let (status, replaced) = server
        .admin_put(&alice_path, json!({ "name": "Alice L.", "disabled": true }))
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["name"], "Alice L.");
    assert!(
        replaced.get("email").is_none(),
        "claims are replaced: {replaced}"
    );
    assert_eq!(replaced["username"], "alice");
    assert_eq!(replaced["disabled"], true);
    assert_eq!(replaced["created_at"], json!(created));
    assert!(
        replaced["updated_at"].as_i64().unwrap() >= created + 10,
        "{replaced}"
    );
    let (_, shown) = server.admin_get(&alice_path).await;
    assert_eq!(shown, replaced);
    let (status, replaced) = server
        .admin_put(
            &alice_path,
            json!({ "username": "Alice2", "email": "a@example.com" }),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["disabled"], true, "left out, so kept: {replaced}");
    assert_eq!(replaced["username"], "alice2");
    assert_eq!(replaced["id"], alice["id"], "the sub never changes");

    let (status, body) = server.admin_delete(&alice_path).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = server.admin_get(&alice_path).await;
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (_, list) = server.admin_get("/users").await;
    assert_eq!(list["users"].as_array().unwrap().len(), 2, "{list}");
    server.stop().await;
}

async fn unknown_users_are_404_json(db: TestDb) {
    let server = TestServer::start(&db).await;
    for id in [uuid::Uuid::new_v4().to_string(), "no-such-user".to_string()] {
        let path = format!("/users/{id}");
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(json!({ "name": "x" }))),
            (Method::DELETE, None),
        ] {
            let mut request = server.admin(method.clone(), &path);
            if let Some(b) = body {
                request = request.json(&b);
            }
            let (status, headers, body) = send_full(request).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert_eq!(body["error"], "not_found", "{method} {path}");
            assert!(header(&headers, "content-type").starts_with("application/json"));
        }
    }
    server.stop().await;
}

async fn passwords_are_never_returned(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = alice().create(&server).await;
    assert_no_password("create", &alice);
    let path = format!("/users/{}", id_of(&alice));
    let (_, shown) = server.admin_get(&path).await;
    assert_no_password("show", &shown);
    let (_, list) = server.admin_get("/users").await;
    assert_no_password("list", &list);
    let (status, replaced) = server
        .admin_put(&path, json!({ "password": NEW_PASSWORD }))
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_no_password("replace", &replaced);
    // Nor do the types the sign-in code handles.
    let user = authenticate(
        &server.state.store,
        &server.state.passwords,
        "alice",
        NEW_PASSWORD,
    )
    .await
    .unwrap()
    .expect("signed in");
    assert_no_password("User", &serde_json::to_value(&user).unwrap());
    assert_no_password("oidc_claims", &Value::Object(user.oidc_claims()));
    let row = server
        .state
        .store
        .get_user(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{row:?}").contains("$argon2"), "{row:?}");
    server.stop().await;
}

async fn invalid_users_are_400_naming_the_field(db: TestDb) {
    let server = TestServer::start(&db).await;
    let existing = create_user(&server, json!({ "username": "existing" })).await;
    let with = |extra: Value| {
        let mut body = json!({ "username": "newcomer" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (json!({}), "username"),
        (json!({ "username": "" }), "username"),
        (json!({ "username": "two words" }), "username"),
        (json!({ "username": "tab\there" }), "username"),
        (json!({ "username": "bell\u{7}" }), "username"),
        (json!({ "username": "x".repeat(201) }), "username"),
        (json!({ "username": 42 }), "username"),
        (with(json!({ "password": "7 chars" })), "password"),
        (with(json!({ "password": "p".repeat(1025) })), "password"),
        (with(json!({ "password": 12345678 })), "password"),
        (with(json!({ "email": "not-an-email" })), "email"),
        (with(json!({ "email": "a b@example.com" })), "email"),
        (with(json!({ "email_verified": "yes" })), "email_verified"),
        (with(json!({ "locale": "en US" })), "locale"),
        (with(json!({ "zoneinfo": "Mars/Olympus Mons" })), "zoneinfo"),
        (with(json!({ "birthdate": "1999-02-29" })), "birthdate"),
        (with(json!({ "birthdate": "04/05/1999" })), "birthdate"),
        (with(json!({ "website": "javascript:alert(1)" })), "website"),
        (with(json!({ "picture": "not a url" })), "picture"),
        (with(json!({ "phone_number": "call me" })), "phone_number"),
        (
            with(json!({ "phone_number_verified": 1 })),
            "phone_number_verified",
        ),
        (with(json!({ "name": "line\u{1}feed" })), "name"),
        (with(json!({ "nickname": "n".repeat(2001) })), "nickname"),
        (with(json!({ "address": "221B Baker Street" })), "address"),
        (with(json!({ "address": { "planet": "Mars" } })), "planet"),
        (
            with(json!({ "address": { "country": "\u{1b}[31m" } })),
            "address.country",
        ),
        (
            with(json!({ "favourite_colour": "blue" })),
            "favourite_colour",
        ),
        (with(json!({ "sub": "someone-else" })), "sub"),
        (with(json!({ "id": "chosen" })), "id"),
        (with(json!({ "updated_at": 5 })), "updated_at"),
        (
            with(json!({ "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA" })),
            "password_hash",
        ),
        (with(json!({ "disabled": "no" })), "disabled"),
    ];
    for (body, field) in cases {
        let (status, error) = server.admin_post("/users", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"], "invalid_request", "{body}");
        let description = error["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(field),
            "{body}: {description:?} should name {field}"
        );
    }
    let (status, error) = server.admin_post("/users", json!(["alice"])).await;
    assert_eq!(status, 400, "{error}");

    // The same rules on replace.
    let path = format!("/users/{}", id_of(&existing));
    for (body, field) in [
        (json!({ "username": "two words" }), "username"),
        (json!({ "password": "short" }), "password"),
        (json!({ "locale": "" , "email": "@" }), "email"),
    ] {
        let (status, error) = server.admin_put(&path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        let description = error["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(field),
            "{body}: {description:?} should name {field}"
        );
    }
    let (_, list) = server.admin_get("/users").await;
    assert_eq!(list["users"], json!([existing]), "nothing was written");

    // The edges of the rules are accepted; empty claims are absent ones (OIDC Core §5.3.2).
    let edge = create_user(
        &server,
        json!({
            "username": "é".repeat(200),
            "password": "p".repeat(1024),
            "name": "",
            "phone_number": "+1 (425) 555-1212;ext=5678",
            "address": { "formatted": "221B Baker Street\r\nLondon" },
            "birthdate": "0000-02-29",
            "website": "https://example.com/~alice",
        }),
    )
    .await;
    assert!(edge.get("name").is_none(), "{edge}");
    let short = create_user(
        &server,
        json!({ "username": "short", "password": "8 chars!" }),
    )
    .await;
    assert_eq!(short["username"], "short");
    server.stop().await;
}

async fn duplicate_usernames_are_409(db: TestDb) {
    let server = TestServer::start(&db).await;
    alice().create(&server).await;
    for username in ["alice", "ALICE", "Alice"] {
        let (status, error) = server
            .admin_post(
                "/users",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 409, "{username}: {error}");
        assert_eq!(error["error"], "conflict");
    }
    let bob = create_user(
        &server,
        json!({ "username": "bob", "email": "bob@example.com" }),
    )
    .await;
    let path = format!("/users/{}", id_of(&bob));
    let (status, error) = server
        .admin_put(&path, json!({ "username": "Alice" }))
        .await;
    assert_eq!(
        (status, &error["error"]),
        (409, &json!("conflict")),
        "{error}"
    );
    let (_, shown) = server.admin_get(&path).await;
    assert_eq!(shown, bob, "a refused rename changes nothing");
    server.stop().await;
}

async fn authenticate_accepts_only_the_right_password_of_an_enabled_user(db: TestDb) {
    let server = TestServer::start(&db).await;
    let store = &server.state.store;
    let passwords = &server.state.passwords;
    let alice = alice_with_email().create(&server).await;
    create_user(&server, json!({ "username": "carol" })).await;
    create_user(
        &server,
        json!({ "username": "dave", "password": PASSWORD, "disabled": true }),
    )
    .await;

    let user = authenticate(store, passwords, "alice", PASSWORD)
        .await
        .unwrap()
        .expect("alice");
    assert_eq!(user.id, id_of(&alice));
    assert_eq!(user.claims.email.as_deref(), Some("alice@example.com"));
    let claims = user.oidc_claims();
    assert_eq!(claims["sub"], alice["id"]);
    assert_eq!(
        claims["preferred_username"], "alice",
        "defaults to the username"
    );
    assert_eq!(claims["updated_at"], alice["updated_at"]);
    assert!(
        authenticate(store, passwords, "ALICE", PASSWORD)
            .await
            .unwrap()
            .is_some()
    );

    for (username, password, why) in [
        ("alice", "correct horse battery stapler", "wrong password"),
        ("alice", "", "empty password"),
        ("alice", &"x".repeat(1025)[..], "over-long password"),
        ("mallory", PASSWORD, "unknown user"),
        ("carol", PASSWORD, "user without a password"),
        ("carol", "", "user without a password, empty password"),
        ("dave", PASSWORD, "disabled user"),
        ("two words", PASSWORD, "not a username"),
    ] {
        let got = authenticate(store, passwords, username, password)
            .await
            .unwrap();
        assert!(got.is_none(), "{why}: {got:?}");
    }

    // An unknown account costs as much as a wrong password, so timing does not reveal it.
    let fastest = |username: &'static str| async move {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            let _ = authenticate(store, passwords, username, "wrong password")
                .await
                .unwrap();
            best = best.min(start.elapsed());
        }
        best
    };
    let (known, unknown) = (fastest("alice").await, fastest("mallory").await);
    assert!(
        unknown * 4 >= known,
        "unknown {unknown:?} vs known {known:?}"
    );

    // A new password replaces the old one; disabling and enabling take effect at once.
    let path = format!("/users/{}", id_of(&alice));
    let (status, _) = server
        .admin_put(&path, json!({ "password": NEW_PASSWORD }))
        .await;
    assert_eq!(status, 200);
    assert!(
        authenticate(store, passwords, "alice", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        authenticate(store, passwords, "alice", NEW_PASSWORD)
            .await
            .unwrap()
            .is_some()
    );
    let (status, _) = server.admin_put(&path, json!({ "disabled": true })).await;
    assert_eq!(status, 200);
    assert!(
        authenticate(store, passwords, "alice", NEW_PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    let (status, _) = server.admin_put(&path, json!({ "disabled": false })).await;
    assert_eq!(status, 200);
    assert!(
        authenticate(store, passwords, "alice", NEW_PASSWORD)
            .await
            .unwrap()
            .is_some()
    );
    server.stop().await;
}

async fn passwords_are_stored_as_argon2id_at_owasp_parameters(db: TestDb) {
    use argon2::password_hash::phc::PasswordHash;
    let server = TestServer::start(&db).await;
    let store = &server.state.store;
    let passwords = &server.state.passwords;
    let alice = alice().create(&server).await;
    let bob = user("bob").create(&server).await;
    let carol = create_user(&server, json!({ "username": "carol" })).await;

    let alice_hash = stored_hash(store, &id_of(&alice)).await.expect("a hash");
    let parsed = PasswordHash::new(&alice_hash).expect("a PHC string");
    assert_eq!(parsed.algorithm.as_str(), "argon2id", "{alice_hash}");
    assert_eq!(parsed.version, Some(19), "{alice_hash}");
    assert_eq!(parsed.params.get_decimal("m"), Some(19_456), "{alice_hash}");
    assert_eq!(parsed.params.get_decimal("t"), Some(2), "{alice_hash}");
    assert_eq!(parsed.params.get_decimal("p"), Some(1), "{alice_hash}");
    let salt = alice_hash.split('$').nth(4).expect("salt");
    assert!(salt.len() >= 22, "at least 16 bytes of salt: {alice_hash}");
    assert!(!alice_hash.contains(PASSWORD));

    let bob_hash = stored_hash(store, &id_of(&bob)).await.expect("a hash");
    assert_ne!(
        alice_hash, bob_hash,
        "the same password gets a different salt"
    );
    assert_eq!(stored_hash(store, &id_of(&carol)).await, None);

    users::set_password(
        store,
        passwords,
        &Actor::cli(),
        &id_of(&carol),
        Secret::new(NEW_PASSWORD),
        server.state.now(),
    )
    .await
    .unwrap();
    let carol_hash = stored_hash(store, &id_of(&carol))
        .await
        .expect("a hash now");
    assert!(
        carol_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{carol_hash}"
    );
    server.stop().await;
}

async fn user_changes_are_audited_without_the_password(db: TestDb) {
    let server = TestServer::start(&db).await;
    let third = "a third password, for the CLI";
    let alice = alice_with_email().create(&server).await;
    let id = id_of(&alice);
    let path = format!("/users/{id}");
    server.state.clock.advance(1);
    let (status, _) = server
        .admin_put(&path, json!({ "password": NEW_PASSWORD }))
        .await;
    assert_eq!(status, 200);
    server.state.clock.advance(1);
    users::set_password(
        &server.state.store,
        &server.state.passwords,
        &Actor::cli(),
        &id,
        Secret::new(third),
        server.state.now(),
    )
    .await
    .unwrap();
    server.state.clock.advance(1);
    let (status, _) = server.admin_delete(&path).await;
    assert_eq!(status, 204);

    let events = user_audit_events(&server, &id).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.delete",
            "user.set_password",
            "user.update",
            "user.create"
        ],
        "newest first"
    );
    let actors: Vec<&str> = events
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["bootstrap", "cli", "bootstrap", "bootstrap"]);
    let create = &events[3]["detail"];
    assert_eq!(create["username"], "alice", "{create}");
    assert_eq!(create["password"], "set", "whether, never what: {create}");
    assert_eq!(
        create["claims"],
        json!(["email"]),
        "claim names, not values: {create}"
    );
    assert_eq!(events[2]["detail"]["password"], "changed");
    for event in &events {
        let text = event.to_string();
        for secret in [
            PASSWORD,
            NEW_PASSWORD,
            third,
            "$argon2",
            "alice@example.com",
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
    server.stop().await;
}

async fn the_user_cli_reads_passwords_from_stdin(db: TestDb) {
    let args = [
        "user",
        "create",
        "--username",
        "Erin",
        "--password-stdin",
        "--email",
        "erin@example.com",
        "--name",
        "Erin",
    ];
    let (ok, erin, output) = admin_cli(&db, &args, &format!("{PASSWORD}\n")).await;
    assert!(ok, "{output}");
    assert_eq!(erin["username"], "erin", "{output}");
    assert_eq!(erin["email"], "erin@example.com");
    assert!(
        !output.contains(PASSWORD),
        "the password is not echoed: {output}"
    );
    let id = id_of(&erin);

    let (ok, _, output) = admin_cli(
        &db,
        &["user", "set-password", "erin"],
        &format!("{NEW_PASSWORD}\r\n"),
    )
    .await;
    assert!(ok, "{output}");
    let (ok, disabled, output) = admin_cli(&db, &["user", "disable", &id], "").await;
    assert!(ok, "{output}");
    assert_eq!(disabled["disabled"], true, "{output}");
    let (ok, list, output) = admin_cli(&db, &["user", "list"], "").await;
    assert!(ok, "{output}");
    assert_eq!(list["users"][0]["id"], json!(id), "{output}");
    let (ok, _, output) = admin_cli(&db, &["user", "set-password", "erin"], "short\n").await;
    assert!(!ok && output.contains("password"), "{output}");
    let (ok, _, output) = admin_cli(&db, &["user", "disable", "nobody"], "").await;
    assert!(!ok, "{output}");

    let server = TestServer::start(&db).await;
    let store = &server.state.store;
    let passwords = &server.state.passwords;
    assert!(
        authenticate(store, passwords, "erin", NEW_PASSWORD)
            .await
            .unwrap()
            .is_none(),
        "disabled"
    );
    let (ok, _, output) = admin_cli(&db, &["user", "enable", "ERIN"], "").await;
    assert!(ok, "{output}");
    assert!(
        authenticate(store, passwords, "erin", PASSWORD)
            .await
            .unwrap()
            .is_none(),
        "old password"
    );
    let user = authenticate(store, passwords, "erin", NEW_PASSWORD)
        .await
        .unwrap()
        .expect("erin");
    assert_eq!(user.claims.name.as_deref(), Some("Erin"));
    let actions: Vec<Value> = user_audit_events(&server, &id)
        .await
        .iter()
        .map(|e| json!([e["action"], e["actor"]]))
        .collect();
    assert_eq!(
        actions,
        [
            json!(["user.update", "cli"]),
            json!(["user.update", "cli"]),
            json!(["user.set_password", "cli"]),
            json!(["user.create", "cli"]),
        ]
    );
    server.stop().await;
}

both_stores!(
    users_are_created_listed_shown_replaced_and_deleted,
    unknown_users_are_404_json,
    passwords_are_never_returned,
    invalid_users_are_400_naming_the_field,
    duplicate_usernames_are_409,
    authenticate_accepts_only_the_right_password_of_an_enabled_user,
    passwords_are_stored_as_argon2id_at_owasp_parameters,
    user_changes_are_audited_without_the_password,
    the_user_cli_reads_passwords_from_stdin,
);
