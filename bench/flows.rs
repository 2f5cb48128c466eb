//! Benchmark: full authorization-code + PKCE flows (RFC 6749 §4.1, RFC 7636) and refreshes
//! (RFC 6749 §6) per second over plain HTTP, against a server that is already running.
//!
//!   BENCH_URL=http://127.0.0.1:8080 BENCH_ADMIN_TOKEN=… cargo bench --bench flows
//!
//! bench/run.sh starts the release server and runs this after its wrk runs. It registers its
//! own user and clients through the admin API, then for each scenario and each worker count
//! runs N workers for BENCH_DURATION seconds and prints a Markdown table (diagnostics go to
//! stderr). Scenarios:
//!
//! * `flow+consent`: a public SPA client with `prompt=consent`, so every flow shows the
//!   consent page: GET /authorize → POST /authorize/signin (the form's CSRF token and request
//!   id) → POST /authorize/consent (allow) → 302 with the code → POST /token (PKCE verifier).
//! * `flow first-party`: a confidential first-party web client, whose flows skip consent:
//!   GET /authorize → POST /authorize/signin → 302 with the code → POST /token (Basic + PKCE).
//! * `flow SSO`: the first-party client in a browser that already has a session (each worker
//!   signs in once, untimed): GET /authorize → 302 with the code → POST /token (Basic + PKCE).
//!   No password check: this is what most logins cost once a user has signed in anywhere.
//! * `refresh`: the first-party client rotating its refresh token (each worker starts from a
//!   refresh token got by one untimed flow and always sends the newest one).
//!
//! Every flow but SSO is a new browser (an empty cookie jar) and therefore a real sign-in with an
//! argon2id password check, which is what bounds the flow rate. Each worker keeps its own
//! keep-alive connection. A flow or refresh counts as done only when every step answered as
//! the protocol says (status, `state`, `iss`, tokens present); anything else is an error,
//! counted by kind and never hidden.
//!
//! Knobs (the same names as bench/run.sh): BENCH_CONNECTIONS, space-separated worker counts
//! (default "1 16 64"); BENCH_DURATION, seconds per row (default 10); BENCH_SCENARIOS, which
//! scenarios (default "consent signin sso refresh").

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "https://bench.portcullis.test/cb";
const SCOPE: &str = "openid profile offline_access";
const WARMUP: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    FlowWithConsent,
    FlowFirstParty,
    FlowSso,
    Refresh,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::FlowWithConsent,
        Scenario::FlowFirstParty,
        Scenario::FlowSso,
        Scenario::Refresh,
    ];

    /// The name `BENCH_SCENARIOS` selects it by.
    fn key(self) -> &'static str {
        match self {
            Scenario::FlowWithConsent => "consent",
            Scenario::FlowFirstParty => "signin",
            Scenario::FlowSso => "sso",
            Scenario::Refresh => "refresh",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::FlowWithConsent => "code+PKCE flow, sign-in + consent (public SPA)",
            Scenario::FlowFirstParty => "code+PKCE flow, sign-in only (first-party web)",
            Scenario::FlowSso => "code+PKCE flow, existing session (SSO, first-party web)",
            Scenario::Refresh => "refresh (rotation, first-party web)",
        }
    }
}

/// What the bench registered: one user, a public SPA and a confidential first-party web app.
#[derive(Clone)]
struct Setup {
    base: String,
    username: String,
    password: String,
    spa_id: String,
    web_id: String,
    web_secret: String,
}

/// One failed operation, by kind (e.g. `signin: 503`, `token: timeout`).
#[derive(Debug)]
struct Failure(String);

fn fail(step: &str, what: impl std::fmt::Display) -> Failure {
    Failure(format!("{step}: {what}"))
}

fn transport(step: &str, e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "transport error"
    };
    fail(step, kind)
}

/// A browser's cookies for the one server: name → value, from `Set-Cookie`.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn store(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = text
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if expired || value.is_empty() {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().into(), value.trim().into());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of the form field `name` in a page.
fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + "value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

/// One worker's HTTP client: its own keep-alive connection, no redirects followed.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client")
}

/// A page step as a browser does it: the cookies go along, new ones are kept.
async fn browse(
    http: &reqwest::Client,
    jar: &mut Jar,
    step: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Failure> {
    let request = if jar.0.is_empty() {
        request
    } else {
        request.header(COOKIE, jar.header())
    };
    let response = http
        .execute(request.build().map_err(|e| transport(step, e))?)
        .await
        .map_err(|e| transport(step, e))?;
    jar.store(&response);
    Ok(response)
}

async fn page_text(step: &str, response: reqwest::Response) -> Result<String, Failure> {
    if response.status() != StatusCode::OK {
        return Err(fail(step, response.status().as_u16()));
    }
    response.text().await.map_err(|e| transport(step, e))
}

/// The redirect back to the client: RFC 6749 §4.1.2 `code` with our `state`, RFC 9207 `iss`.
fn code_from(
    step: &str,
    response: &reqwest::Response,
    setup: &Setup,
    state: &str,
) -> Result<String, Failure> {
    if response.status() != StatusCode::FOUND {
        return Err(fail(step, response.status().as_u16()));
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
        .ok_or_else(|| fail(step, "no Location"))?;
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    if let Some(error) = q.get("error") {
        return Err(fail(step, format!("error={error}")));
    }
    if q.get("state").map(String::as_str) != Some(state)
        || q.get("iss").map(String::as_str) != Some(setup.base.as_str())
    {
        return Err(fail(step, "state or iss wrong"));
    }
    q.get("code").cloned().ok_or_else(|| fail(step, "no code"))
}

/// One full flow in a new browser; returns the token response.
async fn flow(http: &reqwest::Client, setup: &Setup, consent: bool) -> Result<Value, Failure> {
    flow_in(http, setup, consent, &mut Jar::default()).await
}

/// One full flow in the browser whose cookies are `jar` (the session cookie stays in it).
async fn flow_in(
    http: &reqwest::Client,
    setup: &Setup,
    consent: bool,
    jar: &mut Jar,
) -> Result<Value, Failure> {
    let verifier = random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_token();
    let client_id = if consent {
        &setup.spa_id
    } else {
        &setup.web_id
    };
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SCOPE),
        ("state", state.as_str()),
        ("nonce", "bench-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if consent {
        // OIDC Core §3.1.2.1: ask for consent even though it was given before.
        query.push(("prompt", "consent"));
    }
    let url = url::Url::parse_with_params(&format!("{}/authorize", setup.base), &query)
        .map_err(|e| fail("authorize", e))?;
    let authorize = http.get(url);
    let page = browse(http, jar, "authorize", authorize).await?;
    let html = page_text("authorize", page).await?;
    let form = |html: &str, step: &str| -> Result<(String, String), Failure> {
        let csrf = field(html, "csrf_token").ok_or_else(|| fail(step, "no csrf_token"))?;
        let id = field(html, "request_id").ok_or_else(|| fail(step, "no request_id"))?;
        Ok((csrf, id))
    };
    let (csrf, request_id) = form(&html, "authorize")?;
    let signin = http
        .post(format!("{}/authorize/signin", setup.base))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("request_id", request_id.as_str()),
            ("username", setup.username.as_str()),
            ("password", setup.password.as_str()),
        ]);
    let mut answer = browse(http, jar, "signin", signin).await?;
    if consent {
        let html = page_text("signin", answer).await?;
        let (csrf, request_id) = form(&html, "consent page")?;
        let decide = http
            .post(format!("{}/authorize/consent", setup.base))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("request_id", request_id.as_str()),
                ("decision", "allow"),
            ]);
        answer = browse(http, jar, "consent", decide).await?;
    }
    let step = if consent { "consent" } else { "signin" };
    let code = code_from(step, &answer, setup, &state)?;
    exchange_code(http, setup, consent, &code, &verifier).await
}

/// A flow in a browser that already has a session (OIDC Core §3.1.2.3: no prompt, so the
/// server answers /authorize with the code at once): GET /authorize → 302 → POST /token.
async fn sso_flow(http: &reqwest::Client, setup: &Setup, jar: &mut Jar) -> Result<Value, Failure> {
    let verifier = random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_token();
    let query = [
        ("response_type", "code"),
        ("client_id", setup.web_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SCOPE),
        ("state", state.as_str()),
        ("nonce", "bench-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let url = url::Url::parse_with_params(&format!("{}/authorize", setup.base), &query)
        .map_err(|e| fail("authorize", e))?;
    let answer = browse(http, jar, "authorize (session)", http.get(url)).await?;
    let code = code_from("authorize (session)", &answer, setup, &state)?;
    exchange_code(http, setup, false, &code, &verifier).await
}

/// RFC 6749 §4.1.3 with the PKCE verifier: the SPA by `client_id`, the web app by Basic.
async fn exchange_code(
    http: &reqwest::Client,
    setup: &Setup,
    consent: bool,
    code: &str,
    verifier: &str,
) -> Result<Value, Failure> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ];
    let token = http.post(format!("{}/token", setup.base));
    let token = if consent {
        let mut form = form.to_vec();
        form.push(("client_id", setup.spa_id.as_str()));
        token.form(&form)
    } else {
        token
            .basic_auth(&setup.web_id, Some(&setup.web_secret))
            .form(&form)
    };
    tokens(
        "token",
        token,
        &["access_token", "id_token", "refresh_token"],
    )
    .await
}

/// A token endpoint answer: 200 with each of the `expected` tokens.
async fn tokens(
    step: &str,
    request: reqwest::RequestBuilder,
    expected: &[&str],
) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|e| transport(step, e))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != StatusCode::OK {
        let error = body["error"].as_str().unwrap_or("?");
        return Err(fail(step, format!("{} {error}", status.as_u16())));
    }
    for name in expected {
        if !body[name].is_string() {
            return Err(fail(step, format!("no {name}")));
        }
    }
    Ok(body)
}

async fn refresh(http: &reqwest::Client, setup: &Setup, token: &str) -> Result<Value, Failure> {
    let request = http
        .post(format!("{}/token", setup.base))
        .basic_auth(&setup.web_id, Some(&setup.web_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)]);
    tokens("refresh", request, &["access_token", "refresh_token"]).await
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<Value, Failure>) -> Option<Value> {
        match outcome {
            Ok(v) => {
                self.latencies.push(started.elapsed());
                Some(v)
            }
            Err(Failure(kind)) => {
                *self.errors.entry(kind).or_default() += 1;
                None
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }
}

async fn worker(setup: Setup, scenario: Scenario, until: Instant) -> Tally {
    let http = http_client();
    let mut tally = Tally::default();
    if scenario == Scenario::Refresh {
        // Untimed: each worker's starting refresh token, and a new one after a failure.
        let mut current: Option<String> = None;
        while Instant::now() < until {
            let token = match current.take() {
                Some(t) => t,
                None => match flow(&http, &setup, false).await {
                    Ok(v) => v["refresh_token"].as_str().unwrap_or_default().to_string(),
                    Err(Failure(kind)) => {
                        *tally
                            .errors
                            .entry(format!("(setup flow) {kind}"))
                            .or_default() += 1;
                        continue;
                    }
                },
            };
            let started = Instant::now();
            let outcome = refresh(&http, &setup, &token).await;
            current = tally
                .record(started, outcome)
                .and_then(|v| v["refresh_token"].as_str().map(str::to_string));
        }
        return tally;
    }
    if scenario == Scenario::FlowSso {
        // Untimed: one sign-in per worker; its session then serves every timed flow.
        let mut jar = Jar::default();
        let mut signed_in = false;
        while Instant::now() < until {
            if !signed_in {
                match flow_in(&http, &setup, false, &mut jar).await {
                    Ok(_) => signed_in = true,
                    Err(Failure(kind)) => {
                        *tally
                            .errors
                            .entry(format!("(setup sign-in) {kind}"))
                            .or_default() += 1;
                        jar = Jar::default();
                    }
                }
                continue;
            }
            let started = Instant::now();
            let outcome = sso_flow(&http, &setup, &mut jar).await;
            signed_in = tally.record(started, outcome).is_some();
        }
        return tally;
    }
    while Instant::now() < until {
        let started = Instant::now();
        let outcome = flow(&http, &setup, scenario == Scenario::FlowWithConsent).await;
        tally.record(started, outcome);
    }
    tally
}

/// Runs `workers` workers for `duration`; the rate counts what finished, over the time until
/// the last worker stopped.
async fn run(
    setup: &Setup,
    scenario: Scenario,
    workers: usize,
    duration: Duration,
) -> (Tally, Duration) {
    let started = Instant::now();
    let until = started + duration;
    let handles: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(worker(setup.clone(), scenario, until)))
        .collect();
    let mut total = Tally::default();
    for h in handles {
        match h.await {
            Ok(t) => total.merge(t),
            Err(e) => {
                *total
                    .errors
                    .entry(format!("worker panicked: {e}"))
                    .or_default() += 1
            }
        }
    }
    (total, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

async fn admin_post(
    admin: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let response = admin
        .post(format!("{base}/admin{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| die(&format!("POST /admin{path}: {e}")));
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != StatusCode::CREATED {
        die(&format!("POST /admin{path} answered {status}: {body}"));
    }
    body
}

async fn register(base: &str, admin_token: &str) -> Setup {
    let admin = http_client();
    let username = format!("bench-{}", &random_token()[..12]);
    let password = random_token();
    admin_post(
        &admin,
        base,
        admin_token,
        "/users",
        json!({ "username": username, "password": password, "name": "Bench User" }),
    )
    .await;
    let spa = admin_post(
        &admin,
        base,
        admin_token,
        "/clients",
        json!({
            "client_name": "bench SPA", "profile": "spa", "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI], "scope": SCOPE,
        }),
    )
    .await;
    let web = admin_post(
        &admin,
        base,
        admin_token,
        "/clients",
        json!({
            "client_name": "bench web app", "profile": "web", "first_party": true,
            "redirect_uris": [REDIRECT_URI], "scope": SCOPE,
        }),
    )
    .await;
    let text = |v: &Value, k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| die(&format!("no {k} in {v}")))
            .to_string()
    };
    Setup {
        base: base.to_string(),
        username,
        password,
        spa_id: text(&spa, "client_id"),
        web_id: text(&web, "client_id"),
        web_secret: text(&web, "client_secret"),
    }
}

fn die(message: &str) -> ! {
    eprintln!("flows bench: error: {message}");
    std::process::exit(2)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.into())
}

#[tokio::main]
async fn main() {
    let base = std::env::var("BENCH_URL")
        .unwrap_or_else(|_| die("set BENCH_URL (e.g. http://127.0.0.1:8080)"));
    let base = base.trim_end_matches('/').to_string();
    let admin_token =
        std::env::var("BENCH_ADMIN_TOKEN").unwrap_or_else(|_| die("set BENCH_ADMIN_TOKEN"));
    let workers: Vec<usize> = env_or("BENCH_CONNECTIONS", "1 16 64")
        .split_whitespace()
        .map(|w| {
            w.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                die(&format!(
                    "BENCH_CONNECTIONS: {w:?} is not a positive number"
                ))
            })
        })
        .collect();
    let seconds: u64 = env_or("BENCH_DURATION", "10")
        .trim_end_matches('s')
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .unwrap_or_else(|| die("BENCH_DURATION must be a whole number of seconds"));
    let duration = Duration::from_secs(seconds);
    let wanted = env_or("BENCH_SCENARIOS", "consent signin sso refresh");
    let scenarios: Vec<Scenario> = wanted
        .split_whitespace()
        .map(|w| {
            Scenario::ALL
                .into_iter()
                .find(|s| s.key() == w)
                .unwrap_or_else(|| die(&format!("BENCH_SCENARIOS: unknown scenario {w:?}")))
        })
        .collect();

    let setup = register(&base, &admin_token).await;
    // One checked flow of each kind before anything is timed: a broken server fails loudly.
    let http = http_client();
    for consent in [true, false] {
        if let Err(Failure(kind)) = flow(&http, &setup, consent).await {
            die(&format!("sanity flow (consent={consent}) failed: {kind}"));
        }
    }
    let mut jar = Jar::default();
    let sso = match flow_in(&http, &setup, false, &mut jar).await {
        Ok(_) => sso_flow(&http, &setup, &mut jar).await,
        Err(e) => Err(e),
    };
    if let Err(Failure(kind)) = sso {
        die(&format!("sanity SSO flow failed: {kind}"));
    }
    eprintln!("flows bench: warming up for {WARMUP:?}");
    run(&setup, Scenario::FlowFirstParty, 4, WARMUP).await;

    println!("| scenario | workers | per s | p50 ms | p99 ms | done | errors |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let mut failed = false;
    for &scenario in &scenarios {
        for &n in &workers {
            eprintln!(
                "flows bench: {} with {n} worker(s) for {seconds} s",
                scenario.label()
            );
            let (mut tally, elapsed) = run(&setup, scenario, n, duration).await;
            tally.latencies.sort();
            let done = tally.latencies.len();
            let rate = done as f64 / elapsed.as_secs_f64();
            let errors: u64 = tally.errors.values().sum();
            let error_cell = if errors == 0 {
                "0".to_string()
            } else {
                failed = true;
                let kinds: Vec<String> = tally
                    .errors
                    .iter()
                    .map(|(k, n)| format!("{n}× {k}"))
                    .collect();
                format!("⚠ {errors} ({})", kinds.join("; "))
            };
            println!(
                "| {} | {n} | {}{rate:.1} | {:.1} | {:.1} | {done} | {error_cell} |",
                scenario.label(),
                if errors > 0 { "⚠ " } else { "" },
                percentile(&tally.latencies, 50.0),
                percentile(&tally.latencies, 99.0),
            );
        }
    }
    if failed {
        eprintln!("flows bench: some operations failed (⚠ above): those rates are not throughput");
        std::process::exit(1);
    }
}
