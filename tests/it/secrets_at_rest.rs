//! Secrets at rest: after every flow that hands out a secret has run, a dump of the
//! whole database (every table, every column, as text and as hex) holds none of the secrets a
//! client, user or operator saw, in any encoding; only their hashes. Signing keys are stored
//! encrypted: no PEM and no PKCS#8 structure in the keys table.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use portcullis::admin::Actor;
use portcullis::secret::sha256_hex;
use portcullis::store::Store;
use reqwest::Response;
use serde_json::{Value, json};
use sqlx::Row;

use crate::both_stores;
use crate::fixtures::{
    PASSWORD, REPORTS, Registration, alice, confidential_client, device_client, resources,
};
use crate::flows::{
    browser, decide_device, field, location, param, pkce, poll, started, str_of, submit_consent,
    submit_sign_in, token,
};
use crate::harness::{ADMIN_TOKEN, TestDb, TestServer, send};

/// Every secret seen, with where it came from.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: &str, secret: &str) {
        assert!(secret.len() >= 8, "{what}: {secret:?} is not a secret");
        self.0.push((what.to_string(), secret.to_string()));
    }

    fn add_tokens(&mut self, flow: &str, response: &Value) {
        for name in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = response[name].as_str() {
                self.add(&format!("{flow} {name}"), t);
            }
        }
    }
}

/// The value of cookie `name` in a response's `Set-Cookie` headers.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))?
                .split(';')
                .next()
                .map(str::to_string)
        })
        .filter(|v| !v.is_empty())
}

/// The forms a secret could be stored in without hashing: itself, the signature of a JWS, the
/// bytes of a base64url body (hex, standard base64, after a prefix), a user code's letters.
fn spellings(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let segments: Vec<&str> = secret.split('.').collect();
    if segments.len() == 3 {
        out.push(segments[2].to_string());
    }
    let body = secret
        .rsplit('_')
        .next()
        .filter(|b| b.len() >= 16)
        .unwrap_or(secret);
    for part in [secret, body, segments[segments.len() - 1]] {
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part.trim_end_matches('='))
            && bytes.len() >= 12
        {
            out.push(bytes.iter().map(|b| format!("{b:02x}")).collect());
            out.push(STANDARD_NO_PAD.encode(&bytes));
        }
    }
    // A user code (`WDJB-MJHT`) without its dash.
    if secret.len() == 9 && secret.as_bytes()[4] == b'-' {
        out.push(secret.replace('-', ""));
    }
    out.retain(|s| s.len() >= 8);
    out
}

/// Every value of every column of every table, as text (and blobs as hex too), one per line.
async fn dump(store: &Store) -> String {
    let mut out = String::new();
    match store {
        Store::Sqlite(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for column in columns {
                    let sql = format!("SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\"");
                    let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                    for v in values.into_iter().flatten() {
                        out.push_str(&format!(
                            "{table}.{column}: {}\n",
                            String::from_utf8_lossy(&v)
                        ));
                        out.push_str(&format!("{table}.{column} hex: {}\n", hex(&v)));
                    }
                }
            }
        }
        Store::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = $1",
                )
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
                for column in columns {
                    // bytea as text is `\x` and hex.
                    let sql = format!("SELECT \"{column}\"::text AS v FROM \"{table}\"");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                    for row in rows {
                        if let Some(v) = row.get::<Option<String>, _>("v") {
                            out.push_str(&format!("{table}.{column}: {v}\n"));
                        }
                    }
                }
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The private keys column of `signing_keys`, as hex per row.
async fn private_keys_hex(store: &Store) -> Vec<String> {
    match store {
        Store::Sqlite(pool) => {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT private_key FROM signing_keys")
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|b| hex(b))
                .collect()
        }
        Store::Postgres(pool) => {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT private_key FROM signing_keys")
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|b| hex(b))
                .collect()
        }
    }
}

async fn only_hashes_of_secrets_are_stored(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut seen = Seen::default();
    seen.add("bootstrap admin token", ADMIN_TOKEN);
    seen.add("key encryption key", &db.kek);

    // Operators: an admin token, client secrets (and a rotated one), a user's password.
    let created = portcullis::admin::tokens::create(
        &server.state.store,
        &Actor::cli(),
        "secrets at rest",
        None,
        server.state.now(),
    )
    .await
    .unwrap();
    seen.add("admin token", &created.token);
    resources(&server).await;
    alice().create(&server).await;
    seen.add("password", PASSWORD);
    let web = confidential_client(&server, "web app", json!({})).await;
    seen.add("client secret", web.secret.as_deref().unwrap());
    let service = Registration::new("reports job", "service")
        .scope("report")
        .allowed_resources(&[REPORTS])
        .register(&server)
        .await;
    seen.add("service client secret", service.secret.as_deref().unwrap());
    let (status, rotated) = server
        .admin_post(
            &format!("/clients/{}/secret", service.id),
            json!({ "grace_period": 3600 }),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let rotated_secret = rotated["client_secret"].as_str().expect("new secret");
    seen.add("rotated client secret", rotated_secret);

    // Client credentials: an opaque access token (REPORTS) with each live secret.
    for secret in [service.secret.as_deref().unwrap(), rotated_secret] {
        let (status, body) = send(
            server
                .post("/token")
                .basic_auth(&service.id, Some(secret))
                .form(&[("grant_type", "client_credentials"), ("resource", REPORTS)]),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            !body["access_token"].as_str().unwrap().contains('.'),
            "opaque: {body}"
        );
        seen.add_tokens("client_credentials", &body);
    }

    // A browser: CSRF cookie and field, the pending request's id, a session cookie, a code,
    // then JWT and opaque access tokens, refresh tokens and ID tokens.
    let b = browser();
    let p = pkce();
    let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", web.id.as_str()),
        ("redirect_uri", "https://web.example.com/cb"),
        ("scope", "openid profile offline_access read"),
        ("state", "st"),
        ("nonce", "nonce-0123456789"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let page = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    seen.add(
        "CSRF cookie",
        &set_cookie(&page, "portcullis_csrf").expect("CSRF cookie"),
    );
    let html = page.text().await.unwrap();
    seen.add("CSRF field", &field(&html, "csrf_token").unwrap());
    seen.add(
        "authorization request id",
        &field(&html, "request_id").unwrap(),
    );
    let consent = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(consent.status(), 200);
    seen.add(
        "session cookie",
        &set_cookie(&consent, "portcullis_session").expect("session cookie"),
    );
    let consent_html = consent.text().await.unwrap();
    let done = submit_consent(&server, &b, &consent_html, "allow").await;
    assert_eq!(done.status(), 302);
    let (_, q) = location(&done);
    let code = param(&q, "code").expect("code").to_string();
    seen.add("authorization code", &code);
    let (status, tokens) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://web.example.com/cb"),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    seen.add_tokens("code", &tokens);
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let (status, refreshed) = token(
        &server,
        &web,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    seen.add_tokens("refresh", &refreshed);

    // A device: device code and user code, then its tokens.
    let tv = device_client(&server, "tv").await;
    let start = started(&server, &tv, "openid offline_access read").await;
    let device_code = str_of(&start, "device_code").to_string();
    let user_code = str_of(&start, "user_code").to_string();
    seen.add("device code", &device_code);
    seen.add("user code", &user_code);
    let (status, page) = decide_device(&server, &user_code, "allow").await;
    assert_eq!(status, 200, "{page}");
    let (status, device_tokens) = poll(&server, &tv, &device_code).await;
    assert_eq!(status, 200, "{device_tokens}");
    seen.add_tokens("device", &device_tokens);

    let dump = dump(&server.state.store).await;
    // Not vacuous: the rows are there, under their hashes.
    assert!(dump.contains(&web.id), "the dump holds the clients");
    for hashed in [web.secret.as_deref().unwrap(), refresh, &created.token] {
        assert!(dump.contains(&sha256_hex(hashed)), "the dump holds hashes");
    }
    let mut found = Vec::new();
    for (what, secret) in &seen.0 {
        for spelling in spellings(secret) {
            if let Some(line) = dump.lines().find(|l| l.contains(&spelling)) {
                let column = line.split(':').next().unwrap_or_default();
                found.push(format!("{what} ({spelling:.12}…) in {column}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "secrets stored in the clear:\n{}",
        found.join("\n")
    );

    // Private keys: encrypted, so no PEM and none of the PKCS#8 algorithm identifiers
    // (rsaEncryption, id-ecPublicKey, Ed25519) that a plaintext key starts with.
    assert!(!dump.contains("PRIVATE KEY"), "a PEM key in the database");
    let keys = private_keys_hex(&server.state.store).await;
    assert!(keys.len() >= 3, "one key per algorithm at least");
    for key in keys {
        for oid in ["06092a864886f70d010101", "06072a8648ce3d0201", "06032b6570"] {
            assert!(
                !key.contains(oid),
                "a plaintext PKCS#8 key ({oid}) in signing_keys"
            );
        }
    }
    server.stop().await;
}

both_stores!(only_hashes_of_secrets_are_stored);
