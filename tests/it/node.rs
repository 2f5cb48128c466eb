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

use reqwest::RequestBuilder;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{ADMIN_TOKEN, Client, TestDb, send};

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
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
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
