//! Runs every program in `examples/` against a server started here, as a developer would run
//! it (its own process, `PORTCULLIS_URL` and `PORTCULLIS_ADMIN_TOKEN`), and plays the person
//! at the browser where the flow needs one: it reads the URL and username (or the device's user
//! code) the example prints, signs in and allows over HTTP with a cookie jar, and the browser's
//! last redirect lands on the example's loopback listener (once also with headless Chromium).
//! Each must exit 0 and print its final claims.
//!
//! `cargo test` builds the examples before the tests run; `cargo test --test it` alone does
//! not, so run `cargo build --examples` first then.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::both_stores;
use crate::browser::Browser;
use crate::flows::{browser, decide_device_as, submit_consent, submit_sign_in_as};
use crate::harness::{ADMIN_TOKEN, Backend, TestDb, TestServer};

/// Every example, by the name `cargo run --example` takes. A file in `examples/` missing here
/// fails `every_example_is_run_here`.
const EXAMPLES: [&str; 8] = [
    "web_app_code_flow",
    "native_pkce_loopback",
    "service_client_credentials",
    "api_on_behalf_of",
    "cli_device_flow",
    "jwt_bearer",
    "saml_bearer",
    "refresh",
];

/// The longest wait for one line of output, and for the exit after the last step.
const PATIENCE: Duration = Duration::from_secs(90);

/// The compiled example beside this test binary (`target/debug/deps/it-…` →
/// `target/debug/examples/<name>`).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = debug
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is not built. `cargo test` builds the examples; with `cargo test --test it`, run \
         `cargo build --examples` first.",
        path.display()
    );
    path
}

/// An example running against `server`, its stdout read line by line.
struct Running {
    name: &'static str,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: tokio::task::JoinHandle<String>,
    transcript: Vec<String>,
}

impl Running {
    fn start(name: &'static str, server: &TestServer, admin_token: &str) -> Running {
        let mut child = Command::new(binary(name))
            .env("PORTCULLIS_URL", &server.base)
            .env("PORTCULLIS_ADMIN_TOKEN", admin_token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start example {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (send, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Running {
            name,
            child,
            lines,
            stderr,
            transcript: Vec::new(),
        }
    }

    /// Reads output until a line satisfies `wanted`, and returns it.
    async fn line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match tokio::time::timeout(PATIENCE, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.transcript.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Ok(None) => self.fail(&format!("ended before printing {what}")).await,
                Err(_) => {
                    self.fail(&format!("printed no {what} in {PATIENCE:?}"))
                        .await
                }
            }
        }
    }

    /// Waits for the exit; returns the status and the whole output.
    async fn exit(mut self) -> (bool, String, String) {
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("example {} did not finish", self.name))
            .expect("wait");
        while let Some(line) = self.lines.recv().await {
            self.transcript.push(line);
        }
        let stderr = self.stderr.await.unwrap_or_default();
        (status.success(), self.transcript.join("\n"), stderr)
    }

    /// Waits for a successful exit and returns the output.
    async fn succeeded(self) -> String {
        let name = self.name;
        let (ok, out, err) = self.exit().await;
        assert!(
            ok,
            "example {name} failed\n--- stdout\n{out}\n--- stderr\n{err}"
        );
        out
    }

    async fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill().await;
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        panic!(
            "example {} {why}\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.name,
            self.transcript.join("\n")
        );
    }

    /// The sign-in instructions: the URL to open, the username and the password.
    async fn sign_in_instructions(&mut self) -> (String, String, String) {
        let url = self
            .line("a URL to open", |l| {
                l.trim_start().starts_with("http") && l.contains("/authorize?")
            })
            .await;
        let (username, password) = self.credentials().await;
        (url.trim().to_string(), username, password)
    }

    /// `Sign in as username "…", password "…".`
    async fn credentials(&mut self) -> (String, String) {
        let line = self
            .line("the credentials", |l| l.contains("Sign in as username \""))
            .await;
        let quoted: Vec<&str> = line.split('"').collect();
        assert!(quoted.len() >= 5, "{line}");
        (quoted[1].to_string(), quoted[3].to_string())
    }
}

/// The person at the browser: opens `url`, signs in, allows, and follows the last redirect to
/// the example's loopback listener (where the example takes over).
async fn sign_in_and_allow(server: &TestServer, url: &str, username: &str, password: &str) {
    let b = browser();
    let mut response = b.get(url).send().await.expect("open the authorization URL");
    for _ in 0..6 {
        if response.status().is_redirection() {
            let to = response.headers()["location"]
                .to_str()
                .expect("location")
                .to_string();
            let landing = b.get(&to).send().await.expect("follow the redirect");
            if to.starts_with(&server.base) {
                response = landing;
                continue;
            }
            assert_eq!(landing.status(), 200, "the example's redirect URI answered");
            return;
        }
        let status = response.status();
        let page = response.text().await.expect("page");
        assert_eq!(status, 200, "{page}");
        response = if page.contains("name=\"password\"") {
            submit_sign_in_as(server, &b, &page, username, password).await
        } else if page.contains("name=\"decision\"") {
            submit_consent(server, &b, &page, "allow").await
        } else {
            panic!("neither a sign-in nor a consent page: {page}");
        };
    }
    panic!("the browser never got back to the example");
}

async fn sqlite_server(test: &str) -> (TestDb, TestServer) {
    let db = Backend::Sqlite.db(test).await.expect("a SQLite database");
    let server = TestServer::start(&db).await;
    (db, server)
}

/// Runs an example that needs a browser sign-in, does it, and returns its output.
async fn run_with_sign_in(name: &'static str) -> String {
    let (_db, server) = sqlite_server(name).await;
    let mut example = Running::start(name, &server, ADMIN_TOKEN);
    let (url, username, password) = example.sign_in_instructions().await;
    sign_in_and_allow(&server, &url, &username, &password).await;
    let out = example.succeeded().await;
    server.stop().await;
    out
}

/// Runs an example that needs no person, and returns its output.
async fn run_alone(name: &'static str, server: &TestServer) -> String {
    Running::start(name, server, ADMIN_TOKEN).succeeded().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_code_flow() {
    let out = run_with_sign_in("web_app_code_flow").await;
    assert!(
        out.contains("\"nonce\""),
        "the verified ID token is shown: {out}"
    );
    assert!(
        out.contains("\"email\": \"alice-"),
        "userinfo is shown: {out}"
    );
    assert!(out.contains("Signed in as alice-"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_pkce_loopback() {
    let out = run_with_sign_in("native_pkce_loopback").await;
    assert!(out.contains("(no secret)"), "{out}");
    assert!(
        out.contains("\"email\": \"alice-"),
        "userinfo is shown: {out}"
    );
    assert!(out.contains("Signed in as alice-"), "{out}");
}

/// The same app with a real browser: headless Chromium signs in and consents, and its last
/// redirect lands on the example's loopback listener, which shows its closing page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_pkce_loopback_in_chromium() {
    let test = "native_pkce_loopback_in_chromium";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let (_db, server) = sqlite_server(test).await;
    let mut example = Running::start("native_pkce_loopback", &server, ADMIN_TOKEN);
    let (url, username, password) = example.sign_in_instructions().await;
    browser.goto(&url).await;
    browser.fill("input[name=username]", &username).await;
    browser.fill("input[name=password]", &password).await;
    browser.click("button[type=submit]").await;
    browser.click("button[name=decision][value=allow]").await;
    browser
        .wait_for_url(|u| u.host_str() == Some("127.0.0.1") && u.path() == "/callback")
        .await;
    browser
        .wait_for_text("p", "Signed in. You can close this window")
        .await;
    let out = example.succeeded().await;
    assert!(out.contains("Signed in as alice-"), "{out}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh() {
    let out = run_with_sign_in("refresh").await;
    assert!(
        out.contains("Claims of the refreshed access token"),
        "{out}"
    );
    assert_eq!(out.matches("refused: invalid_grant").count(), 2, "{out}");
    assert!(
        out.contains("Refresh, rotation and replay detection all behaved."),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_behalf_of() {
    let out = run_with_sign_in("api_on_behalf_of").await;
    assert!(
        out.contains("\"act\""),
        "the exchanged token's actor is shown: {out}"
    );
    assert!(out.contains("acted for by the Orders API"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_device_flow() {
    let (_db, server) = sqlite_server("cli_device_flow").await;
    let mut example = Running::start("cli_device_flow", &server, ADMIN_TOKEN);
    let line = example
        .line("a user code", |l| l.contains("enter the code: "))
        .await;
    let user_code = line.rsplit(' ').next().expect("the code").to_string();
    let (username, password) = example.credentials().await;
    let (status, _) = decide_device_as(&server, &user_code, &username, &password, "allow").await;
    assert_eq!(status, 200);
    let out = example.succeeded().await;
    assert!(out.contains("The CLI is signed in as alice-"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer() {
    let (_db, server) = sqlite_server("jwt_bearer").await;
    let out = run_alone("jwt_bearer", &server).await;
    assert!(out.contains("\"aud\": \"https://reports-"), "{out}");
    assert!(out.contains("The service holds a token for"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_bearer() {
    let (_db, server) = sqlite_server("saml_bearer").await;
    let out = run_alone("saml_bearer", &server).await;
    assert!(out.contains("\"aud\": \"https://payroll-"), "{out}");
    assert!(out.contains("The service holds a token for"), "{out}");
    server.stop().await;
}

/// The one example run on both stores: the examples test the examples, not the store.
async fn service_client_credentials(db: TestDb) {
    let server = TestServer::start(&db).await;
    let out = run_alone("service_client_credentials", &server).await;
    assert!(out.contains("active: true"), "{out}");
    assert!(out.contains("\"scope\": \"invoices:read\""), "{out}");
    // Run twice against the same server: each run registers its own names.
    run_alone("service_client_credentials", &server).await;
    server.stop().await;
}

both_stores!(service_client_credentials);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_example_that_fails_exits_non_zero() {
    let (_db, server) = sqlite_server("an_example_that_fails_exits_non_zero").await;
    let wrong = "not-the-admin-token-0123456789abcdef";
    let (ok, out, err) = Running::start("service_client_credentials", &server, wrong)
        .exit()
        .await;
    assert!(!ok, "a refused registration must fail the example: {out}");
    assert!(err.contains("401"), "the error names the refusal: {err}");
    server.stop().await;
}

/// Each file in `examples/` is run above, and starts with what it is for and how to run it.
#[test]
fn every_example_is_run_here() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "examples/ and EXAMPLES differ");
    for name in EXAMPLES {
        let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).expect("example");
        assert!(
            text.starts_with("//! "),
            "{name}.rs starts with a doc comment"
        );
        assert!(
            text.contains(&format!("cargo run --example {name}\n")),
            "{name}.rs says how to run it"
        );
        assert!(text.contains("RFC "), "{name}.rs names its RFC");
    }
}
