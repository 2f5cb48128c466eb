//! Faults a deployment meets: the database going away under load, and a node killed
//! with SIGKILL in the middle of its work. The server runs as a real process (node.rs); the
//! database is cut through a TCP proxy (db_proxy.rs), never stopped, since other tests use it.
//!
//! What touches the database, and so answers 503 while it is away: every token request (client
//! authentication reads the client), introspection, revocation, userinfo, the admin API and
//! every page past its first render. What does not, and keeps answering 200: `/healthz`,
//! discovery and JWKS (the key ring is in memory and reloaded on a timer; a failed reload
//! keeps the keys it had).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::db_proxy::{DbProxy, Mode};
use crate::fixtures::PASSWORD;
use crate::flows::{Pkce, field, pkce, refresh, str_of, submit_consent, submit_sign_in};
use crate::harness::{Backend, Client, POSTGRES_ENV, TestDb, jwks_kids, send};
use crate::node::{
    Browser, ISSUER, LEDGER, Node, World, authorize_url, code_of, node_env, redeem, set, world,
};

/// `database.acquire_timeout` in the outage test, seconds.
const ACQUIRE_TIMEOUT: u64 = 1;

/// The longest any answer may take while the database is away: the acquire timeout plus
/// scheduling slack on a busy test machine.
fn bound() -> Duration {
    Duration::from_secs(ACQUIRE_TIMEOUT) + Duration::from_millis(1500)
}

/// One answer the load saw.
#[derive(Debug)]
struct Answer {
    what: &'static str,
    status: u16,
    /// The OAuth `error` code, when there is one.
    error: Option<String>,
    retry_after: bool,
    took: Duration,
}

/// Service clients asking for opaque tokens and introspecting them: both touch the database.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<Vec<Answer>>,
}

impl Load {
    fn start(node: Arc<Node>, client: Client, workers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (node, client, stop) = (node.clone(), client.clone(), stop.clone());
            tasks.spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let form = [("grant_type", "client_credentials"), ("resource", LEDGER)];
                    let (answer, body) = timed("token", node.token_request(&client, &form)).await;
                    let ok = answer.status == 200;
                    answers.push(answer);
                    if let Some(token) = body["access_token"].as_str().filter(|_| ok) {
                        let request = crate::harness::client_form(
                            node.post("/introspect"),
                            &client,
                            &[("token", token)],
                        );
                        let (answer, body) = timed("introspect", request).await;
                        if answer.status == 200 {
                            assert_eq!(body["active"], true, "a token just issued: {body}");
                        }
                        answers.push(answer);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answers
            });
        }
        Load { stop, tasks }
    }

    async fn stop(mut self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        while let Some(answers) = self.tasks.join_next().await {
            all.extend(answers.expect("load worker"));
        }
        all
    }
}

/// Sends `request`; a transport error (a hang past the client's timeout, a reset) fails the
/// test, since the server promised an answer.
async fn timed(what: &'static str, request: reqwest::RequestBuilder) -> (Answer, Value) {
    let started = Instant::now();
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let text = response.text().await.expect("body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{what}: status {status}, not JSON: {text}"));
    let answer = Answer {
        what,
        status,
        error: body["error"].as_str().map(str::to_string),
        retry_after,
        took: started.elapsed(),
    };
    (answer, body)
}

/// Every answer is a success or a fast 503 `temporarily_unavailable` (RFC 6749 §5.2) with
/// `Retry-After`: no 500, nothing slower than the bound.
fn assert_fail_fast(answers: &[Answer]) {
    for a in answers {
        assert!(
            a.took < bound(),
            "{} took {:?} (bound {:?}): {a:?}",
            a.what,
            a.took,
            bound()
        );
        match a.status {
            200 => {}
            503 => {
                assert_eq!(a.error.as_deref(), Some("temporarily_unavailable"), "{a:?}");
                assert!(a.retry_after, "503 without Retry-After: {a:?}");
            }
            _ => panic!("neither 200 nor 503: {a:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_fails_fast_and_heals() {
    let Some(db) = Backend::Postgres
        .db("database_outage_fails_fast_and_heals")
        .await
    else {
        return;
    };
    let (proxy, proxied_url) = DbProxy::in_front_of(&db.url).await;
    let mut env = node_env(&db, ISSUER);
    set(&mut env, "PORTCULLIS_DATABASE_URL", proxied_url);
    set(
        &mut env,
        "PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT",
        ACQUIRE_TIMEOUT,
    );
    let node = Arc::new(Node::start(&env).await);
    let w = world(&node).await;
    let load = Load::start(node.clone(), w.service.clone(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;

    for mode in [Mode::Refuse, Mode::Blackhole] {
        // A sign-in page rendered before the outage, submitted during it.
        let browser = Browser::new();
        let p = pkce();
        let page = browser
            .get(&authorize_url(&node, &w, &p, "openid", &[]))
            .await;
        assert_eq!(page.status(), 200);
        let signin_html = page.text().await.unwrap();

        proxy.cut(mode);
        let cut_at = Instant::now();
        // Readiness goes red within the bound (the probe itself never hangs).
        loop {
            let started = Instant::now();
            let status = node.readyz().await;
            assert!(
                started.elapsed() < bound(),
                "{mode:?}: /readyz took {:?}",
                started.elapsed()
            );
            if status == 503 {
                break;
            }
            assert!(
                cut_at.elapsed() < 2 * bound(),
                "{mode:?}: /readyz still {status}"
            );
        }
        // What needs no database still answers.
        for path in [
            "/healthz",
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
        ] {
            let (status, _) = send(node.get(path)).await;
            assert_eq!(status, 200, "{mode:?}: {path}");
        }
        // Pages show the error page with 503, fast.
        for response in [
            timed_page(browser.get(&authorize_url(&node, &w, &pkce(), "openid", &[]))).await,
            timed_page(submit_sign_in(&node, &browser.http, &signin_html, PASSWORD)).await,
        ] {
            let (status, html) = response;
            assert_eq!(status, 503, "{mode:?}: {html}");
            assert!(html.contains("Temporarily unavailable"), "{html}");
        }
        // The load meets the outage for a while.
        tokio::time::sleep(bound()).await;

        proxy.restore();
        // Healed without a restart: ready again, and the sign-in form from before the outage
        // still works.
        node.wait_ready(Duration::from_secs(5)).await;
        let consent_page = submit_sign_in(&node, &browser.http, &signin_html, PASSWORD).await;
        assert_eq!(
            consent_page.status(),
            200,
            "{mode:?}: sign-in after the outage"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Postgres ending the node's sessions itself (what a restart or failover does: FATAL
    // 57P01 on every connection) is an outage too, never a 500.
    let terminated = terminate_backends(&db).await;
    assert!(terminated > 0, "the node had connections to end");
    tokio::time::sleep(Duration::from_millis(200)).await;
    terminate_backends(&db).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let answers = load.stop().await;
    assert_fail_fast(&answers);
    let unavailable = answers.iter().filter(|a| a.status == 503).count();
    assert!(unavailable > 0, "the load saw the outages");
    // And it recovered: the last answers succeed.
    let (status, body) = node
        .token(
            &w.service,
            &[("grant_type", "client_credentials"), ("resource", LEDGER)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    node.assert_no_panic();
    let ok = answers.iter().filter(|a| a.status == 200).count();
    eprintln!(
        "outage load: {} answers, {ok} × 200, {unavailable} × 503, slowest {:?}",
        answers.len(),
        answers.iter().map(|a| a.took).max().unwrap_or_default()
    );
}

/// A page's status and HTML, within the bound.
async fn timed_page(
    response: impl std::future::Future<Output = reqwest::Response>,
) -> (u16, String) {
    let started = Instant::now();
    let response = response.await;
    let status = response.status().as_u16();
    let html = response.text().await.expect("page");
    assert!(
        started.elapsed() < bound(),
        "page took {:?}",
        started.elapsed()
    );
    (status, html)
}

/// `pg_terminate_backend` on every session of the test database but ours; how many ended.
async fn terminate_backends(db: &TestDb) -> i64 {
    use sqlx::Connection;
    let admin_url = std::env::var(POSTGRES_ENV).expect("postgres url");
    let name = url::Url::parse(&db.url)
        .expect("url")
        .path()
        .trim_start_matches('/')
        .to_string();
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect");
    let ended: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    ended.iter().filter(|(ok,)| *ok).count() as i64
}

/// What the load was answered 200 for before the kill, and so must survive it.
#[derive(Default)]
struct Issued {
    /// Client-credentials access tokens (opaque and JWT).
    access_tokens: Vec<String>,
    /// Codes never redeemed, with their PKCE verifiers.
    codes: Vec<(String, Pkce)>,
    /// The latest refresh token of each family, by number. A family whose refresh was in
    /// flight at the kill is dropped: whether that rotation committed is unknowable.
    families: HashMap<usize, String>,
    /// Browsers signed in (their session cookies).
    sessions: Vec<Browser>,
    /// Kids of JWKS read after a rotation was answered.
    kids: Vec<String>,
}

impl Issued {
    fn enough(&self) -> bool {
        self.access_tokens.len() >= 4
            && self.codes.len() >= 2
            && self.families.len() >= 2
            && self.sessions.len() >= 2
            && self.kids.len() > 3
    }
}

async fn kill_9_keeps_everything_issued(db: TestDb) {
    let env = node_env(&db, ISSUER);
    let mut node = Node::start(&env).await;
    let w = Arc::new(world(&node).await);
    let initial_kids = jwks_kids(&node.jwks().await);
    // The user consents once; later sign-ins go straight back to the client.
    first_consent(&node, &w).await;

    let issued = Arc::new(Mutex::new(Issued::default()));
    let mut workers = JoinSet::new();
    let view = || NodeView(node.base.clone());
    workers.spawn(issue_access_tokens(view(), w.clone(), issued.clone()));
    workers.spawn(sign_in_and_take_codes(view(), w.clone(), issued.clone()));
    workers.spawn(rotate_refresh_tokens(view(), w.clone(), issued.clone()));
    workers.spawn(rotate_keys(view(), issued.clone()));

    let started = Instant::now();
    while !issued.lock().unwrap().enough() {
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "the load did not get going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill9().await;
    // Workers stop at their first unanswered request.
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    let issued = std::mem::take(&mut *issued.lock().unwrap());
    drop(node);

    let node = Node::start(&env).await;
    // Keys: every key published before the kill still is.
    let kids = jwks_kids(&node.jwks().await);
    for kid in issued.kids.iter().chain(&initial_kids) {
        assert!(kids.contains(kid), "{kid} lost: {kids:?}");
    }
    // Access tokens: all active.
    for token in &issued.access_tokens {
        let (_, info) = node.introspect(&w.service, token).await;
        assert_eq!(info["active"], true, "{info}");
    }
    // Codes: each redeemable, once.
    for (code, p) in &issued.codes {
        let (status, body) = redeem(&node, &w, code, p).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = redeem(&node, &w, code, p).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    // Refresh tokens: the latest of each family rotates.
    for token in issued.families.values() {
        let (status, body) = refresh(&node, &w.web, token, &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    // Sessions and the consent: each browser gets a code without signing in or consenting.
    for browser in &issued.sessions {
        let again = browser
            .get(&authorize_url(
                &node,
                &w,
                &pkce(),
                "openid offline_access",
                &[],
            ))
            .await;
        code_of(&again);
    }
    assert_no_orphans(&db, &w, &initial_kids).await;
    node.assert_no_panic();
    eprintln!(
        "kill -9 ({:?}): {} access tokens, {} codes, {} families, {} sessions, {} kids survived",
        db.backend,
        issued.access_tokens.len(),
        issued.codes.len(),
        issued.families.len(),
        issued.sessions.len(),
        issued.kids.len()
    );
}

crate::both_stores!(kill_9_keeps_everything_issued);

/// A node's address as the load workers hold it (the process itself stays with the test).
#[derive(Clone)]
struct NodeView(String);

impl NodeView {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// The first sign-in with consent, so the load's sign-ins need no consent page.
async fn first_consent(node: &Node, w: &World) {
    let browser = Browser::new();
    let p = pkce();
    let page = browser
        .get(&authorize_url(node, w, &p, "openid offline_access", &[]))
        .await;
    let consent_page =
        submit_sign_in(node, &browser.http, &page.text().await.unwrap(), PASSWORD).await;
    assert_eq!(consent_page.status(), 200);
    let done = submit_consent(
        node,
        &browser.http,
        &consent_page.text().await.unwrap(),
        "allow",
    )
    .await;
    code_of(&done);
}

type Shared = Arc<Mutex<Issued>>;

/// A request to the node that is about to die: `None` once it stops answering.
async fn call(request: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Some((status, body))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn issue_access_tokens(node: NodeView, w: Arc<World>, issued: Shared) {
    let http = http();
    for i in 0.. {
        let resource = if i % 2 == 0 {
            LEDGER
        } else {
            crate::node::API_A
        };
        let request = http
            .post(node.url("/token"))
            .basic_auth(&w.service.id, w.service.secret.as_deref())
            .form(&[("grant_type", "client_credentials"), ("resource", resource)]);
        let Some((status, body)) = call(request).await else {
            return;
        };
        assert_eq!(status, 200, "{body}");
        issued
            .lock()
            .unwrap()
            .access_tokens
            .push(str_of(&body, "access_token").to_string());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs in with a new browser each time (a new session, the consent remembered), keeping
/// every other code unredeemed and redeeming the rest into refresh-token families.
async fn sign_in_and_take_codes(node: NodeView, w: Arc<World>, issued: Shared) {
    let http = http();
    for i in 0.. {
        let browser = Browser::new();
        let p = pkce();
        let url = authorize_url_at(&node, &w, &p);
        let Ok(page) = browser.http.get(&url).send().await else {
            return;
        };
        let Ok(html) = page.text().await else { return };
        let (Some(csrf), Some(id)) = (field(&html, "csrf_token"), field(&html, "request_id"))
        else {
            panic!("a sign-in page: {html}");
        };
        let form = [
            ("csrf_token", csrf.as_str()),
            ("request_id", id.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ];
        let Ok(done) = browser
            .http
            .post(node.url("/authorize/signin"))
            .form(&form)
            .send()
            .await
        else {
            return;
        };
        let code = code_of(&done);
        issued.lock().unwrap().sessions.push(browser);
        if i % 2 == 0 {
            issued.lock().unwrap().codes.push((code, p));
            continue;
        }
        let request = http
            .post(node.url("/token"))
            .basic_auth(&w.web.id, w.web.secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", crate::node::WEB_CB),
                ("code_verifier", p.verifier.as_str()),
            ]);
        let Some((status, body)) = call(request).await else {
            return;
        };
        assert_eq!(status, 200, "{body}");
        issued
            .lock()
            .unwrap()
            .families
            .insert(i, str_of(&body, "refresh_token").to_string());
    }
}

fn authorize_url_at(node: &NodeView, w: &World, p: &Pkce) -> String {
    let mut url = url::Url::parse(&node.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &w.web.id)
        .append_pair("redirect_uri", crate::node::WEB_CB)
        .append_pair("scope", "openid offline_access")
        .append_pair("state", "s-1")
        .append_pair("code_challenge", &p.challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

/// Rotates the families' refresh tokens, one at a time.
async fn rotate_refresh_tokens(node: NodeView, w: Arc<World>, issued: Shared) {
    let http = http();
    loop {
        let next = {
            let mut issued = issued.lock().unwrap();
            let key = issued.families.keys().next().copied();
            // Taken out while in flight: if the node dies now, the family's state is unknown.
            key.and_then(|k| issued.families.remove(&k).map(|t| (k, t)))
        };
        let Some((family, token)) = next else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if http.get(node.url("/healthz")).send().await.is_err() {
                return;
            }
            continue;
        };
        let request = http
            .post(node.url("/token"))
            .basic_auth(&w.web.id, w.web.secret.as_deref())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ]);
        let Some((status, body)) = call(request).await else {
            return;
        };
        assert_eq!(status, 200, "{body}");
        issued
            .lock()
            .unwrap()
            .families
            .insert(family, str_of(&body, "refresh_token").to_string());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rotate_keys(node: NodeView, issued: Shared) {
    let http = http();
    loop {
        let request = http
            .post(node.url("/admin/keys/rotate"))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .json(&json!({ "algs": ["ES256"] }));
        let Some((status, body)) = call(request).await else {
            return;
        };
        assert_eq!(status, 200, "{body}");
        let Some((_, jwks)) = call(http.get(node.url("/.well-known/jwks.json"))).await else {
            return;
        };
        issued.lock().unwrap().kids = jwks_kids(&jwks);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Nothing half-written: each query names a state no sequence of whole writes can produce.
async fn assert_no_orphans(db: &TestDb, w: &World, initial_kids: &[String]) {
    let grant_spent = "(EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = {g} \
                       AND c.consumed_at IS NOT NULL) OR EXISTS (SELECT 1 FROM device_codes d \
                       WHERE d.grant_id = {g} AND d.consumed_at IS NOT NULL))";
    let initial = initial_kids
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let checks = [
        (
            "a refresh token whose grant never spent its code",
            format!(
                "SELECT COUNT(*) FROM refresh_tokens r WHERE NOT {}",
                grant_spent.replace("{g}", "r.grant_id")
            ),
        ),
        (
            "a family with two live refresh tokens",
            "SELECT COUNT(*) FROM (SELECT grant_id FROM refresh_tokens WHERE consumed_at IS NULL \
             GROUP BY grant_id HAVING COUNT(*) > 1) f"
                .to_string(),
        ),
        (
            "a refresh token outliving its family",
            "SELECT COUNT(*) FROM refresh_tokens WHERE expires_at > family_expires_at \
             OR family_expires_at <= issued_at"
                .to_string(),
        ),
        (
            "a user's opaque token whose grant never spent its code",
            format!(
                "SELECT COUNT(*) FROM access_tokens a WHERE a.client_id = '{}' AND NOT {}",
                w.web.id,
                grant_spent.replace("{g}", "a.grant_id")
            ),
        ),
        (
            "a code not linked to its session (back-channel logout would miss the client)",
            "SELECT COUNT(*) FROM authorization_codes c WHERE c.sid IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM session_clients s WHERE s.sid = c.sid AND s.client_id = c.client_id)"
                .to_string(),
        ),
        (
            "an algorithm with no key that is not retiring (a rotation half done)",
            "SELECT 3 - COUNT(DISTINCT alg) FROM signing_keys WHERE publish_until IS NULL"
                .to_string(),
        ),
        (
            "a rotated key without its audit event",
            format!(
                "SELECT COUNT(*) FROM signing_keys k WHERE k.kid NOT IN ({initial}) AND NOT EXISTS \
                 (SELECT 1 FROM audit_events e WHERE e.action = 'keys.rotate' \
                 AND e.target LIKE '%' || k.kid || '%')"
            ),
        ),
    ];
    for (what, sql) in checks {
        let n = count(db, &sql).await;
        assert_eq!(n, 0, "{what}: {n} ({sql})");
    }
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match db.backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("query")
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("query")
        }
    }
}
