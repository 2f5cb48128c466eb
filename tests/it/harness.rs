//! The test harness: a real server on an ephemeral port over a fresh database of either
//! backend, and helpers that read like a client's story.
//!
//! Postgres: set `PORTCULLIS_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test creates its own database from it and drops it afterwards. Without the variable
//! the Postgres half of every store test is skipped, and says so on stderr.

use std::io::Write;
use std::sync::{Arc, Once};

use base64::Engine;
use portcullis::config::Config;
use portcullis::secret::Secret;
use portcullis::state::AppState;
use portcullis::store::Store;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123";
pub const POSTGRES_ENV: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// The Postgres server tests create their databases on, or `None` after a loud skip message.
/// With `PORTCULLIS_TEST_REQUIRE_POSTGRES=1` (CI) a missing Postgres is a failure instead.
pub fn postgres_url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var(POSTGRES_ENV) {
        return Some(url);
    }
    if std::env::var("PORTCULLIS_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!(
            "PORTCULLIS_TEST_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set: \
             {test} cannot run its Postgres half"
        );
    }
    loud_skip(test);
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// The same KEK across restarts of the server over this database.
    pub kek: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

fn loud_skip(test: &str) {
    static BANNER: Once = Once::new();
    // Straight to stderr: libtest captures print macros, not this, so the skip is seen.
    let mut err = std::io::stderr().lock();
    BANNER.call_once(|| {
        let _ = writeln!(
            err,
            "\n!!! POSTGRES TESTS SKIPPED: {POSTGRES_ENV} is not set. Only the SQLite half of the \
             store tests ran. Set it, e.g. {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/postgres !!!\n"
        );
    });
    let _ = writeln!(err, "skipped (no Postgres): {test}");
}

impl Backend {
    /// A fresh database, or `None` (after saying so loudly) when Postgres is not configured.
    pub async fn db(self, test: &str) -> Option<TestDb> {
        let kek = base64::engine::general_purpose::STANDARD
            .encode(portcullis::secret::random_bytes::<32>());
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
                Some(TestDb {
                    backend: self,
                    url,
                    kek,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_url(test)?;
                let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = connect_pg(&admin_url).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("postgres url");
                url.set_path(&name);
                Some(TestDb {
                    backend: self,
                    url: url.to_string(),
                    kek,
                    _dir: None,
                    pg: Some((admin_url, name)),
                })
            }
        }
    }
}

async fn connect_pg(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but Postgres is unreachable: {e}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg.take() else {
            return;
        };
        // Drop is synchronous; run the DROP on a runtime of its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = connect_pg(&admin_url).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// Runs a store test against both backends: `both_stores!(name)` for `async fn name(db: TestDb)`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::harness::Backend::Sqlite.db(stringify!($name)).await.unwrap();
                super::$name(db).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::harness::Backend::Postgres.db(stringify!($name)).await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

/// A running server.
pub struct TestServer {
    pub base: String,
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn config_for(db: &TestDb) -> Config {
    Config {
        database_url: db.url.clone(),
        key_encryption_key: Some(portcullis::config::KekBytes::from_base64(&db.kek).expect("kek")),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server on 127.0.0.1:0; `tweak` adjusts the config first.
    pub async fn start_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = config_for(db);
        config.bind = addr;
        tweak(&mut config);
        let (state, _) = portcullis::bootstrap(config).await.expect("bootstrap");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(portcullis::run(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            state,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.store.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(&format!("/admin{path}")))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// POSTs JSON to the admin API and returns status and body.
    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.admin(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        send(self.admin(reqwest::Method::GET, path)).await
    }

    /// PUTs JSON to the admin API and returns status and body.
    pub async fn admin_put(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.admin(reqwest::Method::PUT, path).json(&body)).await
    }

    pub async fn admin_delete(&self, path: &str) -> (u16, Value) {
        send(self.admin(reqwest::Method::DELETE, path)).await
    }

    /// Registers a resource server and returns its JSON.
    pub async fn resource(&self, identifier: &str, scopes: &[&str], extra: Value) -> Value {
        let mut body = json!({ "identifier": identifier, "scopes": scopes });
        merge(&mut body, extra);
        let (status, created) = self.admin_post("/resources", body).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// Registers a client and returns the registration response (with the secret).
    pub async fn client(&self, body: Value) -> Client {
        let (status, created) = self.admin_post("/clients", body).await;
        assert_eq!(status, 201, "{created}");
        Client::from_registration(&created)
    }

    /// A confidential service client allowed `scope` on `resource`, which is created too.
    pub async fn service_client(&self, resource: &str, scope: &str) -> Client {
        let scopes: Vec<&str> = scope.split(' ').collect();
        self.resource(resource, &scopes, json!({})).await;
        self.client(json!({
            "client_name": "billing service",
            "profile": "service",
            "scope": scope,
            "allowed_resources": [resource],
        }))
        .await
    }

    /// POSTs a form to the token endpoint with Basic authentication.
    pub async fn client_credentials(&self, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend_from_slice(form);
        send(
            self.post("/token")
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&fields),
        )
        .await
    }
}

/// Sends a request and returns status and JSON body (`Null` when the body is empty).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    json_of(response).await
}

pub async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}, not JSON: {text}"))
    };
    (status, body)
}

/// Adds (or replaces) the fields of `extra` in `into`.
pub fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// A registered client as a test holds it.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub registration: Value,
}

impl Client {
    pub fn from_registration(v: &Value) -> Client {
        Client {
            id: v["client_id"].as_str().expect("client_id").to_string(),
            secret: v["client_secret"].as_str().map(str::to_string),
            registration: v.clone(),
        }
    }
}

/// The claims of a JWT, without verifying it (tests verify separately where it matters).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// RFC 6749 §5.1: token responses and their errors are never cached.
pub fn assert_no_store(headers: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert_eq!(headers["pragma"], "no-cache", "{what}");
}

impl TestServer {
    /// POSTs a form to an endpoint that authenticates clients, with Basic authentication.
    pub async fn post_as(
        &self,
        path: &str,
        client: &Client,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        send(
            self.post(path)
                .basic_auth(&client.id, client.secret.as_deref())
                .form(form),
        )
        .await
    }
}

/// Sends a request and returns status, headers and JSON body (`Null` when the body is empty).
pub async fn send_full(request: RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request");
    let headers = response.headers().clone();
    let (status, body) = json_of(response).await;
    (status, headers, body)
}

/// A header as text, or "" when absent.
pub fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl TestServer {
    /// RFC 7662 introspection of `token`, authenticated as `client` with Basic.
    pub async fn introspect(&self, client: &Client, token: &str) -> (u16, Value) {
        send(
            self.post("/introspect")
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&[("token", token)]),
        )
        .await
    }

    /// A client_credentials access token; panics unless the server issues one.
    pub async fn access_token(&self, client: &Client, form: &[(&str, &str)]) -> String {
        let (status, body) = self.client_credentials(client, form).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The published JWKS.
    pub async fn jwks(&self) -> Value {
        let (status, jwks) = send(self.get("/.well-known/jwks.json")).await;
        assert_eq!(status, 200, "{jwks}");
        jwks
    }
}

/// The `kid`s of a JWKS, sorted.
pub fn jwks_kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect();
    kids.sort();
    kids
}

/// An ES256 key pair a test holds: a client's assertion key, or another server's signing key.
pub struct EcKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    /// Uncompressed P-256 point: 0x04 || X || Y.
    point: Vec<u8>,
}

impl EcKey {
    pub fn generate(kid: &str) -> EcKey {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("generate");
        EcKey {
            kid: kid.to_string(),
            pkcs8: pair.to_pkcs8v1().expect("pkcs8").as_ref().to_vec(),
            point: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK (RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Value {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": b64(&self.point[1..33]), "y": b64(&self.point[33..65]),
        })
    }

    /// A compact JWS of `claims` under this key's `kid`, `typ` JWT.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, "JWT", claims)
    }

    /// Signs with this key, naming `kid` and `typ` in the header.
    pub fn sign_as(&self, kid: &str, typ: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_string());
        header.typ = Some(typ.to_string());
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8);
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    }
}

impl TestServer {
    /// Reloads this node's key ring from the store now, as its reload timer would. A second
    /// node on the same database is just another `TestServer::start(&db)`.
    pub async fn reload_keys(&self) {
        self.state
            .keys
            .reload(&self.state.store, self.state.now())
            .await
            .expect("key ring reload");
    }
}

/// The one number a `SELECT COUNT(*) …` (or any integer scalar) statement answers.
pub async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(pool)
            .await
            .unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// A loopback address nobody listens on now, for a server the test starts itself (a metrics
/// port, chromedriver). Taken below Linux's ephemeral range (32768–60999), so no other test's
/// `bind(…:0)` can be handed the same port between this check and the bind that follows.
pub fn unused_port() -> std::net::SocketAddr {
    for _ in 0..200 {
        let port = 20_000 + u16::from_le_bytes(portcullis::secret::random_bytes::<2>()) % 12_000;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no unused port between 20000 and 31999");
}

/// Basic authentication for a confidential client, `client_id` in the form for a public one.
pub fn client_form(
    request: RequestBuilder,
    client: &Client,
    form: &[(&str, &str)],
) -> RequestBuilder {
    match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)).form(form),
        None => {
            let mut form = form.to_vec();
            form.push(("client_id", &client.id));
            request.form(&form)
        }
    }
}

/// What one run of the binary left behind.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}{}", self.stdout, self.stderr))
    }

    /// Both streams, for assertion messages and for looking for what must not be there.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `portcullis args` in an empty directory with only the `PORTCULLIS_*` variables in
/// `env` (none inherited), stdin closed and stdout a pipe.
pub async fn portcullis(env: &[(&str, &str)], args: &[&str]) -> Run {
    portcullis_with_input(env, args, None).await
}

/// `portcullis`, with `stdin` written to the binary's standard input when given.
pub async fn portcullis_with_input(
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Run {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("PORTCULLIS_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .current_dir(dir.path())
        .env("PORTCULLIS_LOG", "warn")
        .envs(env.iter().copied());
    let out = match stdin {
        None => command
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("run portcullis"),
        Some(text) => {
            let mut child = command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run portcullis");
            let mut input = child.stdin.take().expect("stdin");
            input.write_all(text.as_bytes()).await.expect("write stdin");
            drop(input);
            child.wait_with_output().await.expect("portcullis exits")
        }
    };
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The database and KEK of `db`, as the environment gives them.
pub fn db_env(db: &TestDb) -> Vec<(&'static str, &str)> {
    vec![
        ("PORTCULLIS_DATABASE_URL", db.url.as_str()),
        ("PORTCULLIS_KEY_ENCRYPTION_KEY", db.kek.as_str()),
    ]
}

/// An admin command over `db` with `stdin`: success, stdout as JSON (`Null` when it is not)
/// and both streams.
pub async fn admin_cli(db: &TestDb, args: &[&str], stdin: &str) -> (bool, Value, String) {
    let run = portcullis_with_input(&db_env(db), args, Some(stdin)).await;
    let json = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run.ok, json, run.all())
}
