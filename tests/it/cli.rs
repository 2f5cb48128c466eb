//! The `portcullis` binary as an operator runs it: `--output json|table` on list, show and
//! create commands, errors that name the field at fault, and progress on stderr.

use serde_json::json;

use crate::both_stores;
use crate::harness::{EcKey, Run, TestDb, db_env, portcullis};

async fn run_ok(db: &TestDb, args: &[&str]) -> Run {
    let run = portcullis(&db_env(db), args).await;
    assert!(run.ok, "portcullis {args:?}: {}", run.all());
    run
}

/// The line of a table that mentions `needle`, split into its cells.
fn row_with(table: &str, needle: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle}: {table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

async fn every_list_and_show_prints_json_or_a_table(db: TestDb) {
    // A fresh database: migrate says what it applies, one migration at a time.
    let migrated = run_ok(&db, &["migrate"]).await;
    assert!(
        migrated.stderr.contains("applying 0001"),
        "{}",
        migrated.stderr
    );

    let created = run_ok(
        &db,
        &[
            "client",
            "create",
            "--name",
            "billing",
            "--profile",
            "service",
            "--output",
            "json",
        ],
    )
    .await
    .json();
    let client_id = created["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();

    // Piped stdout without --output: JSON, as before the flag existed.
    let list = run_ok(&db, &["client", "list"]).await.json();
    assert_eq!(list["clients"][0]["client_id"], json!(client_id), "{list}");
    let list = run_ok(&db, &["client", "list", "--output", "json"])
        .await
        .json();
    assert_eq!(list["clients"].as_array().map(Vec::len), Some(1), "{list}");
    let table = run_ok(&db, &["client", "list", "--output", "table"])
        .await
        .stdout;
    assert!(table.starts_with("CLIENT_ID"), "{table}");
    let row = row_with(&table, &client_id);
    assert!(row.contains(&"billing".to_string()), "{row:?}");
    let shown = run_ok(&db, &["client", "show", &client_id, "--output", "json"])
        .await
        .json();
    assert_eq!(shown["client_name"], "billing", "{shown}");
    let shown = run_ok(&db, &["client", "show", &client_id, "--output", "table"]).await;
    assert_eq!(
        row_with(&shown.stdout, "client_name"),
        ["client_name", "billing"]
    );

    run_ok(
        &db,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.test",
        ],
    )
    .await;
    let users = run_ok(&db, &["user", "list", "--output", "json"])
        .await
        .json();
    assert_eq!(users["users"][0]["username"], "alice", "{users}");
    let table = run_ok(&db, &["user", "list", "--output", "table"])
        .await
        .stdout;
    assert!(row_with(&table, "alice").contains(&"alice@example.test".to_string()));

    let keys = run_ok(&db, &["keys", "list", "--output", "json"])
        .await
        .json();
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(3),
        "one per algorithm: {keys}"
    );
    let table = run_ok(&db, &["keys", "list", "--output", "table"])
        .await
        .stdout;
    let kid = keys[0]["kid"].as_str().expect("kid");
    let row = row_with(&table, kid);
    assert!(row.contains(&"active".to_string()), "{row:?}");
    assert!(
        row.iter().any(|c| c.ends_with('Z') && c.contains('T')),
        "times read as UTC in a table: {row:?}"
    );

    let rotated = run_ok(
        &db,
        &["keys", "rotate", "--alg", "ES256", "--output", "json"],
    )
    .await;
    assert!(
        rotated.stderr.contains("generating a ES256 key"),
        "progress: {}",
        rotated.stderr
    );
    assert_eq!(rotated.json().as_array().map(Vec::len), Some(4));

    let key = EcKey::generate("idp-key");
    let issuer = json!({
        "kind": "jwt", "name": "Example IdP", "issuer": "https://idp.example.test",
        "jwks": { "keys": [key.jwk()] }, "algorithms": ["ES256"],
        "allowed_clients": [client_id], "subject": "external",
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("issuer.json");
    std::fs::write(&file, issuer.to_string()).expect("write");
    let file = file.to_str().expect("utf-8 path");
    let created = run_ok(&db, &["issuer", "create", file, "--output", "json"])
        .await
        .json();
    let issuers = run_ok(&db, &["issuer", "list", "--output", "json"])
        .await
        .json();
    assert_eq!(issuers["issuers"][0]["id"], created["id"], "{issuers}");
    let table = run_ok(&db, &["issuer", "list", "--output", "table"])
        .await
        .stdout;
    assert!(row_with(&table, "Example IdP").contains(&"jwt".to_string()));
    let shown = run_ok(
        &db,
        &[
            "issuer",
            "show",
            created["id"].as_str().expect("id"),
            "--output",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(shown["subject"], "external", "{shown}");

    let token = run_ok(&db, &["admin-token", "create", "--output", "json"])
        .await
        .json();
    assert!(token["token"].is_string(), "{token}");

    let purged = run_ok(&db, &["purge", "--output", "json"]).await;
    assert!(purged.json().is_object(), "{}", purged.stdout);
    assert!(
        purged.stderr.contains("deleting expired rows"),
        "{}",
        purged.stderr
    );
    let table = run_ok(&db, &["purge", "--output", "table"]).await.stdout;
    assert_eq!(row_with(&table, "used_jtis"), ["used_jtis", "0"], "{table}");
}

async fn errors_name_the_field_at_fault(db: TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("issuer.json");
    let bad = json!({
        "kind": "jwt", "issuer": "https://idp.example.test", "jwks_uri": "https://idp.example.test/jwks",
        "algorithms": ["ES256"], "allowed_clients": "not-a-list", "subject": "external",
    });
    std::fs::write(&file, bad.to_string()).expect("write");
    let file = file.to_str().expect("utf-8 path");
    let run = portcullis(&db_env(&db), &["issuer", "create", file]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("allowed_clients") && run.stderr.contains(file),
        "{}",
        run.stderr
    );
    let bad = json!({ "kind": "jwt", "subject": "nobody", "issuer": "https://idp.example.test" });
    std::fs::write(file, bad.to_string()).expect("write");
    let run = portcullis(&db_env(&db), &["issuer", "create", file]).await;
    assert!(!run.ok && run.stderr.contains("subject"), "{}", run.stderr);

    let mut env = db_env(&db);
    env.push(("PORTCULLIS_TOKENS_ACCESS_TOKEN_LIFETIME", "0"));
    let run = portcullis(&env, &["client", "list"]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("tokens.access_token_lifetime")
            && run
                .stderr
                .contains("PORTCULLIS_TOKENS_ACCESS_TOKEN_LIFETIME"),
        "{}",
        run.stderr
    );
}

/// Logs written to a pipe or a file are plain text: no terminal colour codes.
async fn logs_to_a_pipe_have_no_colour_codes(db: TestDb) {
    let mut env = db_env(&db);
    // Plain http on a public host name: a configuration warning, logged at start.
    env.push(("PORTCULLIS_ISSUER", "http://id.example.com"));
    let run = portcullis(&env, &["migrate"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.stderr.contains("WARN"), "{}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "escape codes: {:?}",
        run.stderr
    );
}

both_stores!(
    every_list_and_show_prints_json_or_a_table,
    errors_name_the_field_at_fault,
    logs_to_a_pipe_have_no_colour_codes
);
