//! `portcullis doctor` against a running server, and against broken setups: every
//! check is ok, warn or fail with what to do, and a failure makes the exit status non-zero.

use serde_json::Value;

use crate::both_stores;
use crate::harness::{ADMIN_TOKEN, TestDb, TestServer, db_env, portcullis};
use portcullis::store::Store;

/// `check name → status` from `doctor --output json`, with the whole report for messages.
fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {report}"))
        .iter()
        .map(|c| {
            (
                c["check"].as_str().expect("check").to_string(),
                c["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn status_of<'a>(statuses: &'a [(String, String)], check: &str) -> &'a str {
    statuses
        .iter()
        .find(|(c, _)| c == check)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no {check} check in {statuses:?}"))
}

async fn doctor_passes_a_healthy_deployment(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut env = db_env(&db);
    env.extend([
        ("PORTCULLIS_ISSUER", server.base.as_str()),
        ("PORTCULLIS_ADMIN_TOKEN", ADMIN_TOKEN),
    ]);
    let run = portcullis(&env, &["doctor", "--output", "json"]).await;
    assert!(run.ok, "{}", run.all());
    let report = run.json();
    let found = statuses(&report);
    for (check, status) in &found {
        // Loopback http is fine for development, and the doctor says so.
        let expected = if check == "issuer https" {
            "warn"
        } else {
            "ok"
        };
        assert_eq!(status, expected, "{check}: {report}");
    }
    for check in [
        "config",
        "issuer discovery",
        "database",
        "migrations",
        "key-encryption key",
        "signing key ES256",
        "signing key RS256",
        "signing key EdDSA",
        "clock (database)",
        "clock (issuer)",
    ] {
        assert_eq!(status_of(&found, check), "ok", "{report}");
    }
    let table = portcullis(&env, &["doctor", "--output", "table"]).await;
    assert!(table.ok, "{}", table.all());
    assert!(table.stdout.starts_with("CHECK"), "{}", table.stdout);
    let https = table
        .stdout
        .lines()
        .find(|l| l.starts_with("issuer https"))
        .expect("issuer https row");
    assert!(https.contains("warn") && https.contains("https"), "{https}");
    for secret in [db.kek.as_str(), ADMIN_TOKEN] {
        assert!(!run.all().contains(secret), "a secret in: {}", run.all());
        assert!(
            !table.all().contains(secret),
            "a secret in: {}",
            table.all()
        );
    }
    server.stop().await;
}

async fn doctor_fails_a_wrong_issuer_and_a_missing_migration(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.issuer = Some("https://id.example.test".into());
    })
    .await;
    let mut env = db_env(&db);
    env.push(("PORTCULLIS_ISSUER", server.base.as_str()));
    let run = portcullis(&env, &["doctor", "--output", "json"]).await;
    assert!(!run.ok, "a failed check fails the run: {}", run.all());
    let report = run.json();
    let found = statuses(&report);
    assert_eq!(status_of(&found, "issuer discovery"), "fail", "{report}");
    assert_eq!(status_of(&found, "migrations"), "ok", "{report}");
    let discovery = &report["checks"][2];
    assert!(
        discovery["detail"]
            .as_str()
            .is_some_and(|d| d.contains("https://id.example.test")),
        "{discovery}"
    );
    assert!(
        !discovery["fix"].as_str().unwrap_or("").is_empty(),
        "{discovery}"
    );

    // A migration this build carries that the database has not applied.
    let forget =
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    match &server.state.store {
        Store::Sqlite(pool) => sqlx::query(forget).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::query(forget).execute(pool).await.map(|_| ()),
    }
    .expect("forget a migration");
    let run = portcullis(&env, &["doctor", "--output", "table"]).await;
    assert!(!run.ok, "{}", run.all());
    let migrations = run
        .stdout
        .lines()
        .find(|l| l.starts_with("migrations"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        migrations.contains("fail") && migrations.contains("portcullis migrate"),
        "{migrations}"
    );
    assert!(run.stderr.contains("checks failed"), "{}", run.stderr);
    server.stop().await;
}

/// No server to reach and no database to open: both fail, and nothing is created.
#[tokio::test]
async fn doctor_fails_without_a_database_or_a_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("missing.db");
    let url = format!("sqlite://{}", file.display());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let mut urls = vec![url];
    if let Some(pg) = crate::harness::postgres_url("doctor_fails_without_a_database_or_a_server") {
        let mut pg = url::Url::parse(&pg).expect("postgres url");
        pg.set_path("portcullis_no_such_database");
        urls.push(pg.to_string());
    }
    for url in &urls {
        let env = [
            ("PORTCULLIS_DATABASE_URL", url.as_str()),
            ("PORTCULLIS_ISSUER", closed.as_str()),
            (
                "PORTCULLIS_KEY_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ];
        let run = portcullis(&env, &["doctor", "--output", "json"]).await;
        assert!(!run.ok, "{}", run.all());
        let report = run.json();
        let found = statuses(&report);
        assert_eq!(status_of(&found, "database"), "fail", "{report}");
        assert_eq!(status_of(&found, "issuer discovery"), "fail", "{report}");
    }
    assert!(!file.exists(), "the doctor created the database file");

    // A configuration that does not load is the one failed check.
    let run = portcullis(
        &[("PORTCULLIS_TOKENS_ACCESS_TOKEN_LIFETIME", "0")],
        &["doctor", "--output", "json"],
    )
    .await;
    assert!(!run.ok);
    let report = run.json();
    assert_eq!(statuses(&report), [("config".into(), "fail".into())]);
    assert!(
        report["checks"][0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("tokens.access_token_lifetime")),
        "{report}"
    );
}

both_stores!(
    doctor_passes_a_healthy_deployment,
    doctor_fails_a_wrong_issuer_and_a_missing_migration
);
