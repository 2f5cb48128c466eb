//! A server as an operator runs it: the real `portcullis serve` binary in a child process,
//! configured only through `PORTCULLIS_*` environment variables, for the tests that need
//! several nodes or a process to kill (multi_node.rs, faults.rs).
//!
//! The child binds `127.0.0.1:0` and the test reads the address from its log, so there is no
//! race for a free port. Children are killed when their `Node` is dropped, panics included
//! (tokio's `kill_on_drop`), so a failing test leaves no server behind.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::fixtures::{Registration, TOKEN_EXCHANGE, alice_with_email};
use crate::flows::{Pkce, location, param};
use crate::harness::{ADMIN_TOKEN, Client, TestDb, client_form, merge, send};

/// How long a start may take (migrations, first keys) before the test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Log lines kept per node, shown when a test fails.
const LOG_LINES: usize = 400;

/// The environment every node of a test shares: one database, one KEK, one admin token and
/// one issuer (the name clients know, whichever node answers).
pub fn node_env(db: &TestDb, issuer: &str) -> Vec<(String, String)> {
    [
        ("PORTCULLIS_DATABASE_URL", db.url.as_str()),
        ("PORTCULLIS_KEY_ENCRYPTION_KEY", db.kek.as_str()),
        ("PORTCULLIS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("PORTCULLIS_ISSUER", issuer),
        ("PORTCULLIS_BIND", "127.0.0.1:0"),
        ("PORTCULLIS_LOG", "info,sqlx=warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Sets `name` in `env`, replacing an earlier value.
pub fn set(env: &mut Vec<(String, String)>, name: &str, value: impl ToString) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_string(), value.to_string()));
}

/// One running server process.
pub struct Node {
    pub base: String,
    pub http: reqwest::Client,
    child: Child,
    log: Arc<Mutex<Log>>,
}

/// What a node wrote to stderr: the last lines, and every line that reports a panic.
#[derive(Default)]
struct Log {
    tail: VecDeque<String>,
    panics: Vec<String>,
}

impl Node {
    /// Starts `portcullis serve` with exactly `env` (no inherited `PORTCULLIS_*` variable)
    /// and waits until `/readyz` answers 200.
    pub async fn start(env: &[(String, String)]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .args(["serve", "--log-format", "json"])
            // No portcullis.toml from the working directory.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, _) in std::env::vars() {
            if name.starts_with("PORTCULLIS_") {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn().expect("spawn portcullis");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Log::default()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
        tokio::spawn(read_log(stderr, log.clone(), addr_tx));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Far above every bound the server promises: a hang shows as an error here.
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut node = Node {
            base: String::new(),
            http,
            child,
            log,
        };
        match tokio::time::timeout(START_TIMEOUT, addr_rx).await {
            Ok(Ok(addr)) => node.base = format!("http://{addr}"),
            _ => panic!("the node did not start:\n{}", node.logs()),
        }
        node.wait_ready(START_TIMEOUT).await;
        node
    }

    /// Waits until `/readyz` answers 200; panics with the log after `within`.
    pub async fn wait_ready(&self, within: Duration) {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.readyz().await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} not ready after {within:?}:\n{}", self.base, self.logs());
    }

    /// `/readyz`'s status, or 0 when the request failed.
    pub async fn readyz(&self) -> u16 {
        match self
            .http
            .get(self.url("/readyz"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// SIGKILL: no graceful shutdown, no flushing, nothing after this instant.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("kill -9");
        let status = self.child.wait().await.expect("wait");
        assert!(!status.success(), "killed, not exited: {status}");
    }

    /// The last lines the node logged (stderr).
    pub fn logs(&self) -> String {
        let log = self.log.lock().expect("log");
        log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Fails the test if the node reported a panic (the panic hook writes to stderr).
    pub fn assert_no_panic(&self) {
        let panics = self.log.lock().expect("log").panics.clone();
        assert!(panics.is_empty(), "{} panicked: {panics:#?}", self.base);
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

    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            self.post(&format!("/admin{path}"))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await
    }

    /// Registers a resource server.
    pub async fn resource(&self, identifier: &str, scopes: &[&str], extra: Value) {
        let mut body = json!({ "identifier": identifier, "scopes": scopes });
        merge(&mut body, extra);
        let (status, created) = self.admin_post("/resources", body).await;
        assert_eq!(status, 201, "{created}");
    }

    /// Registers a client.
    pub async fn client(&self, body: Value) -> Client {
        let (status, created) = self.admin_post("/clients", body).await;
        assert_eq!(status, 201, "{created}");
        Client::from_registration(&created)
    }

    /// A form to the token endpoint as `client` sends it: Basic with its secret, or
    /// `client_id` in the form when it is public.
    pub fn token_request(&self, client: &Client, form: &[(&str, &str)]) -> RequestBuilder {
        client_form(self.post("/token"), client, form)
    }

    pub async fn token(&self, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
        send(self.token_request(client, form)).await
    }

    /// RFC 7662 introspection of `token` by `client`.
    pub async fn introspect(&self, client: &Client, token: &str) -> (u16, Value) {
        send(client_form(
            self.post("/introspect"),
            client,
            &[("token", token)],
        ))
        .await
    }

    pub async fn jwks(&self) -> Value {
        let (status, jwks) = send(self.get("/.well-known/jwks.json")).await;
        assert_eq!(status, 200, "{jwks}");
        jwks
    }
}

/// Keeps the last lines of the child's stderr and hands over the address it listens on.
async fn read_log(
    stderr: tokio::process::ChildStderr,
    log: Arc<Mutex<Log>>,
    addr_tx: tokio::sync::oneshot::Sender<String>,
) {
    let mut addr_tx = Some(addr_tx);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on http://".len()..];
            let addr: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
                .collect();
            if let Some(tx) = addr_tx.take() {
                let _ = tx.send(addr);
            }
        }
        let mut log = log.lock().expect("log");
        if line.contains("panicked") {
            log.panics.push(line.clone());
        }
        if log.tail.len() == LOG_LINES {
            log.tail.pop_front();
        }
        log.tail.push_back(line);
    }
}

// ---- what the multi-node tests (multi_node.rs, faults.rs) register and share ----

/// The name clients know the service by, whichever node answers (a load balancer's).
pub const ISSUER: &str = "http://localhost";
pub const API_A: &str = "https://a.example.com";
pub const API_B: &str = "https://b.example.com";
pub const LEDGER: &str = "https://ledger.example.com";
pub const WEB_CB: &str = "https://web.example.com/cb";

/// What the tests register (through whichever node): two APIs that act as clients for token
/// exchange, an API with opaque tokens, a web app, a TV app and a back-end service.
pub struct World {
    pub web: Client,
    pub tv: Client,
    pub service: Client,
    pub api_a: Client,
    pub api_b: Client,
}

pub async fn world(node: &Node) -> World {
    let api_b = node.client(Registration::new("API B", "api").json()).await;
    node.resource(API_B, &["b.read"], json!({ "client_id": api_b.id }))
        .await;
    let api_a = node
        .client(
            Registration::new("API A", "api")
                .grant_types(&[TOKEN_EXCHANGE])
                .scope("b.read")
                .set("token_exchange_audiences", json!([API_B]))
                .json(),
        )
        .await;
    node.resource(API_A, &["a.read"], json!({ "client_id": api_a.id }))
        .await;
    node.resource(
        LEDGER,
        &["ledger.read"],
        json!({ "access_token_format": "opaque" }),
    )
    .await;
    let web = node
        .client(
            Registration::new("web app", "web")
                .redirect_uris(&[WEB_CB])
                .scope("openid profile offline_access a.read ledger.read")
                .allowed_resources(&[API_A, LEDGER])
                .json(),
        )
        .await;
    let tv = node
        .client(
            Registration::new("living-room TV", "device")
                .scope("openid offline_access a.read")
                .allowed_resources(&[API_A])
                .json(),
        )
        .await;
    let service = node
        .client(
            Registration::new("billing service", "service")
                .scope("ledger.read a.read")
                .allowed_resources(&[LEDGER, API_A])
                .json(),
        )
        .await;
    let (status, user) = node.admin_post("/users", alice_with_email().json()).await;
    assert_eq!(status, 201, "{user}");
    World {
        web,
        tv,
        service,
        api_a,
        api_b,
    }
}

/// A browser whose cookie jar the test can read: one jar for every node, as for one site.
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::with_jar(Arc::new(Jar::default()))
    }
}

impl Browser {
    pub fn new() -> Browser {
        Self::default()
    }

    fn with_jar(jar: Arc<Jar>) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("browser");
        Browser { http, jar }
    }

    /// Another browser holding this one's cookies as they are now (a stolen or kept copy).
    pub fn copy(&self, node: &Node) -> Browser {
        let url = url::Url::parse(&node.base).expect("url");
        let jar = Arc::new(Jar::default());
        if let Some(cookies) = self.jar.cookies(&url) {
            for cookie in cookies.to_str().expect("cookie header").split("; ") {
                jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
            }
        }
        Self::with_jar(jar)
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.expect("browser GET")
    }
}

/// `/authorize` on `node` for the web app with PKCE (and `resource`s when given).
pub fn authorize_url(node: &Node, w: &World, p: &Pkce, scope: &str, resources: &[&str]) -> String {
    let mut url = url::Url::parse(&node.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &w.web.id)
        .append_pair("redirect_uri", WEB_CB)
        .append_pair("scope", scope)
        .append_pair("state", "s-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &p.challenge)
        .append_pair("code_challenge_method", "S256");
    for r in resources {
        url.query_pairs_mut().append_pair("resource", r);
    }
    url.to_string()
}

/// The code from a redirect to the web app.
pub fn code_of(response: &Response) -> String {
    assert_eq!(response.status(), 302, "a redirect to the client");
    let (base, q) = location(response);
    assert_eq!(base, WEB_CB);
    assert_eq!(param(&q, "state"), Some("s-1"));
    param(&q, "code")
        .unwrap_or_else(|| panic!("a code in {q:?}"))
        .to_string()
}

/// Redeems `code` at `node` (RFC 6749 §4.1.3 with the PKCE verifier).
pub async fn redeem(node: &Node, w: &World, code: &str, p: &Pkce) -> (u16, Value) {
    node.token(
        &w.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_CB),
            ("code_verifier", &p.verifier),
        ],
    )
    .await
}
