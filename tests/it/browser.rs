//! Headless Chromium for end-to-end page tests: Debian's `chromium` and `chromium-driver`,
//! driven over WebDriver with fantoccini. Nothing is downloaded at run time.
//!
//! `Browser::start` runs `chromedriver` on a free port with a fresh profile and connects to it.
//! Without `/usr/bin/chromedriver` (or `/usr/bin/chromium`) the browser tests are skipped, and
//! say so on stderr, unless `PORTCULLIS_TEST_REQUIRE_BROWSER=1` (CI sets it): then they fail.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::fixtures::{Registration, alice};
use crate::harness::{Backend, TestServer};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const REQUIRE_BROWSER_ENV: &str = "PORTCULLIS_TEST_REQUIRE_BROWSER";

/// How long a page or a chromedriver start may take on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn loud_skip(test: &str, why: &str) {
    static BANNER: Once = Once::new();
    let mut err = std::io::stderr().lock();
    BANNER.call_once(|| {
        let _ = writeln!(
            err,
            "\n!!! BROWSER TESTS SKIPPED: {why}. Install Debian's chromium and chromium-driver, \
             or set {REQUIRE_BROWSER_ENV}=1 to make this a failure !!!\n"
        );
    });
    let _ = writeln!(err, "skipped (no browser): {test}");
}

/// A headless Chromium session. Dropping it stops chromedriver and its browser; `close` does
/// the same gracefully and should end every test.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser, or `None` (after saying so loudly) when none is installed and
    /// `PORTCULLIS_TEST_REQUIRE_BROWSER` is not `1`.
    pub async fn start(test: &str) -> Option<Browser> {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(binary).exists() {
                let why = format!("{binary} is not installed");
                if std::env::var(REQUIRE_BROWSER_ENV).as_deref() == Ok("1") {
                    panic!("{REQUIRE_BROWSER_ENV}=1 but {why}");
                }
                loud_skip(test, &why);
                return None;
            }
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        // The port is free when chosen but may be taken before chromedriver binds it: then
        // chromedriver exits at once, and another port is tried.
        let mut attempts = 0;
        let (driver, webdriver) = loop {
            attempts += 1;
            let port = free_port();
            let mut driver = spawn_driver(port, &log);
            let webdriver = format!("http://127.0.0.1:{port}");
            match wait_for_driver(&mut driver, &webdriver, &log).await {
                Ok(()) => break (driver, webdriver),
                Err(why) if attempts < 3 => eprintln!("retrying chromedriver: {why}"),
                Err(why) => panic!("{why}"),
            }
        };
        let mut browser = Browser {
            client: None,
            driver,
            _profile: profile,
        };
        let profile_dir = browser._profile.path().join("chromium");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile_dir.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = tokio::time::timeout(
            PATIENCE,
            ClientBuilder::rustls()
                .expect("rustls connector")
                .capabilities(capabilities)
                .connect(&webdriver),
        )
        .await
        .unwrap_or_else(|_| panic!("no browser session within {PATIENCE:?}; {}", tail(&log)))
        .unwrap_or_else(|e| panic!("no browser session: {e}; {}", tail(&log)));
        browser.client = Some(client);
        Some(browser)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a browser session")
    }

    /// Loads `url` and waits for the page.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The page's URL now (after any redirects).
    pub async fn current_url(&self) -> url::Url {
        self.client().current_url().await.expect("current URL")
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.client().source().await.expect("page source")
    }

    /// The `<title>`.
    pub async fn title(&self) -> String {
        self.client().title().await.expect("title")
    }

    /// The element matching the CSS `selector`, waiting for it to appear.
    pub async fn find(&self, selector: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector} within {PATIENCE:?}: {e}"))
    }

    /// Whether an element matches `selector` now (no waiting).
    pub async fn exists(&self, selector: &str) -> bool {
        !self
            .client()
            .find_all(Locator::Css(selector))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// How many elements match `selector` now (no waiting).
    pub async fn count(&self, selector: &str) -> usize {
        self.client()
            .find_all(Locator::Css(selector))
            .await
            .expect("find_all")
            .len()
    }

    /// The visible text of the element matching `selector`.
    pub async fn text(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {selector}: {e}"))
    }

    /// An attribute of the element matching `selector`.
    #[allow(dead_code, reason = "for the end-to-end sign-in test (/authorize)")]
    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.find(selector)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("{name} of {selector}: {e}"))
    }

    /// Replaces the value of the input matching `selector` with `value`, as typed.
    pub async fn fill(&self, selector: &str, value: &str) {
        let input = self.find(selector).await;
        input
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {selector}: {e}"));
        input
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {selector}: {e}"));
    }

    /// Clicks the element matching `selector` (a submit button follows its form).
    pub async fn click(&self, selector: &str) {
        self.find(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Waits until the browser is at a URL for which `arrived` holds (after a submission
    /// that redirects), and returns it.
    pub async fn wait_for_url(&self, arrived: impl Fn(&url::Url) -> bool) -> url::Url {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.current_url().await;
            if arrived(&url) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "still at {url} after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The browser's cookies for the current page, as `(name, value)`.
    pub async fn cookies(&self) -> Vec<(String, String)> {
        self.client()
            .get_all_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect()
    }

    /// Ends the session (the browser quits) and stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(PATIENCE, client.close()).await;
        }
        // Drop stops chromedriver.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the Chromium it started (a test that
        // panicked never closed its session).
        kill_group(&mut self.driver);
    }
}

/// Starts chromedriver on `port` in a process group of its own, so that `Browser`'s Drop can
/// stop it and the Chromium it starts together.
fn spawn_driver(port: u16, log: &Path) -> Child {
    let mut command = Command::new(CHROMEDRIVER);
    command
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().expect("start chromedriver")
}

/// Stops a process group we started (chromedriver's), by its id.
fn kill_group(driver: &mut Child) {
    let group = format!("-{}", driver.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

/// Waits until chromedriver answers `/status` with `ready`. On failure it has been stopped.
async fn wait_for_driver(driver: &mut Child, webdriver: &str, log: &Path) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ready = http
            .get(format!("{webdriver}/status"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        if let Some(response) = ready {
            let status: Value = response.json().await.unwrap_or_default();
            if status["value"]["ready"] == json!(true) {
                return Ok(());
            }
        }
        if let Ok(Some(exit)) = driver.try_wait() {
            kill_group(driver);
            return Err(format!("chromedriver exited with {exit}; {}", tail(log)));
        }
        if Instant::now() >= deadline {
            kill_group(driver);
            return Err(format!(
                "chromedriver not ready within {PATIENCE:?}; {}",
                tail(log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port nobody listens on now; chromedriver binds it right after.
fn free_port() -> u16 {
    crate::harness::unused_port().port()
}

/// The end of chromedriver's log, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    format!("chromedriver log tail:\n{}", &text[start..])
}

/// The headers every page is sent with (pages/mod.rs).
fn assert_page_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{what}"
    );
}

/// Smoke test: Chromium renders the signed-out page, and logging out in the browser lands on
/// it. (The pages' headers are read with reqwest: WebDriver does not expose them.)
/// One store is enough: this tests the pages in a browser, not the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_signed_out_page_and_logs_out() {
    let Some(browser) = Browser::start("chromium_shows_the_signed_out_page_and_logs_out").await
    else {
        return;
    };
    let db = Backend::Sqlite.db("browser").await.expect("sqlite");
    let server = TestServer::start(&db).await;

    browser.goto(&server.url("/signed-out")).await;
    assert_eq!(browser.text("h1").await, "You are signed out");
    assert_eq!(browser.title().await, "You are signed out");
    assert!(!browser.source().await.contains("<script"));

    // A logout that names an unregistered redirect: the browser stays on the signed-out page.
    let logout = format!(
        "{}?post_logout_redirect_uri=https%3A%2F%2Fevil.example.net%2F&state=x",
        server.url("/logout")
    );
    browser.goto(&logout).await;
    let url = browser.current_url().await;
    assert_eq!(url.path(), "/logout", "{url}");
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert_eq!(browser.text("h1").await, "You are signed out");
    assert!(!browser.exists("form").await);
    assert!(
        !browser
            .cookies()
            .await
            .iter()
            .any(|(name, _)| name == "portcullis_session"),
        "no session cookie left"
    );
    browser.close().await;

    for path in ["/signed-out", "/logout"] {
        let response = server.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_page_headers(response.headers(), path);
    }
    server.stop().await;
}

/// The legacy implicit flow in Chromium: sign in, consent, and land on the client's
/// redirect URI with the tokens in the fragment, which the browser keeps to itself (never in
/// the query, so never sent to any server). The redirect URI is one of this server's own pages,
/// so the browser has somewhere to land. One store is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_implicit_flow_lands_with_tokens_in_the_fragment() {
    let Some(browser) =
        Browser::start("chromium_implicit_flow_lands_with_tokens_in_the_fragment").await
    else {
        return;
    };
    let db = Backend::Sqlite
        .db("browser-implicit")
        .await
        .expect("sqlite");
    let server = TestServer::start_with(&db, |c| c.legacy.implicit = true).await;
    let user = alice().create(&server).await;
    let redirect_uri = server.url("/signed-out");
    let client = Registration::new("old SPA", "spa")
        .public()
        .grant_types(&["implicit"])
        .set("response_types", json!(["id_token token"]))
        .redirect_uris(&[&redirect_uri])
        .scope("openid")
        .register(&server)
        .await;
    let mut authorize = url::Url::parse(&server.url("/authorize")).expect("url");
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "id_token token"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", "openid"),
        ("state", "browser-state"),
        ("nonce", "browser-nonce"),
    ]);
    browser.goto(authorize.as_str()).await;
    browser.fill("#username", "alice").await;
    browser
        .fill("#password", "correct horse battery staple")
        .await;
    browser.click("button[type=submit]").await;
    browser.find("button[value=allow]").await;
    browser.click("button[value=allow]").await;
    let landed = browser.wait_for_url(|u| u.path() == "/signed-out").await;
    assert_eq!(landed.query(), None, "{landed}");
    let fragment: Vec<(String, String)> =
        form_urlencoded::parse(landed.fragment().expect("a fragment").as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        fragment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("state").as_deref(), Some("browser-state"));
    assert_eq!(get("token_type").as_deref(), Some("Bearer"));
    assert!(get("refresh_token").is_none(), "{fragment:?}");
    let access_token = get("access_token").expect("access_token");
    let id = crate::harness::jwt_claims(&get("id_token").expect("id_token"));
    assert_eq!(id["nonce"], "browser-nonce");
    assert!(id["at_hash"].is_string(), "{id}");
    browser.close().await;

    // The token the browser received works at userinfo.
    let (status, info) =
        crate::harness::send(server.get("/userinfo").bearer_auth(&access_token)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], user["id"]);
    server.stop().await;
}

impl Browser {
    /// Waits until the element matching `selector` has text containing `expected` (after a
    /// submission, the old page may still be shown for a moment), and returns that text.
    pub async fn wait_for_text(&self, selector: &str, expected: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.client().find(Locator::Css(selector)).await.ok();
            if let Some(element) = found
                && let Ok(text) = element.text().await
                && text.contains(expected)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {selector} with {expected:?} after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
