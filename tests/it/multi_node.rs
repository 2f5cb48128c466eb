//! Two server processes on one Postgres database, as behind a load balancer: every flow starts
//! on one node and finishes on the other. Nodes share nothing but the database (and the
//! configuration), so whatever one node issues, remembers or revokes, the other must see.
//!
//! Postgres only (SQLite is one node's file); skipped loudly without
//! `PORTCULLIS_TEST_POSTGRES_URL`, like every Postgres test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::Response;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};

use crate::authorize::{PASSWORD, field, location, param};
use crate::code_flow::{Pkce, pkce};
use crate::harness::{Backend, Client, jwks_kids, jwt_claims, jwt_header, send};
use crate::node::{Node, client_form, node_env, set};

/// The name clients know the service by, whichever node answers (a load balancer's).
pub const ISSUER: &str = "http://localhost";
pub const API_A: &str = "https://a.example.com";
pub const API_B: &str = "https://b.example.com";
pub const LEDGER: &str = "https://ledger.example.com";
pub const WEB_CB: &str = "https://web.example.com/cb";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `keys.reload_interval` in these tests: the longest a node may take to see a rotation.
const RELOAD_INTERVAL: u64 = 1;

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
    let api_b = node
        .client(json!({ "client_name": "API B", "profile": "api" }))
        .await;
    node.resource(API_B, &["b.read"], json!({ "client_id": api_b.id }))
        .await;
    let api_a = node
        .client(json!({
            "client_name": "API A",
            "profile": "api",
            "grant_types": [TOKEN_EXCHANGE],
            "scope": "b.read",
            "token_exchange_audiences": [API_B],
        }))
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
        .client(json!({
            "client_name": "web app",
            "profile": "web",
            "redirect_uris": [WEB_CB],
            "scope": "openid profile offline_access a.read ledger.read",
            "allowed_resources": [API_A, LEDGER],
        }))
        .await;
    let tv = node
        .client(json!({
            "client_name": "living-room TV",
            "profile": "device",
            "scope": "openid offline_access a.read",
            "allowed_resources": [API_A],
        }))
        .await;
    let service = node
        .client(json!({
            "client_name": "billing service",
            "profile": "service",
            "scope": "ledger.read a.read",
            "allowed_resources": [LEDGER, API_A],
        }))
        .await;
    let (status, user) = node
        .admin_post(
            "/users",
            json!({ "username": "alice", "password": PASSWORD, "email": "alice@example.com" }),
        )
        .await;
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

    pub async fn post(&self, node: &Node, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(node.url(path))
            .form(form)
            .send()
            .await
            .expect("browser POST")
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

/// Signs in on a sign-in page `html` (served for `signin_node`'s request) at `node`.
pub async fn sign_in(b: &Browser, node: &Node, html: &str) -> Response {
    let csrf = field(html, "csrf_token").expect("csrf field");
    let id = field(html, "request_id").expect("request field");
    b.post(
        node,
        "/authorize/signin",
        &[
            ("csrf_token", &csrf),
            ("request_id", &id),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await
}

pub async fn consent(b: &Browser, node: &Node, html: &str) -> Response {
    let csrf = field(html, "csrf_token").expect("csrf field");
    let id = field(html, "request_id").expect("request field");
    b.post(
        node,
        "/authorize/consent",
        &[
            ("csrf_token", &csrf),
            ("request_id", &id),
            ("decision", "allow"),
        ],
    )
    .await
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

pub async fn refresh(node: &Node, w: &World, refresh_token: &str) -> (u16, Value) {
    node.token(
        &w.web,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

async fn two_nodes(test: &str) -> Option<(crate::harness::TestDb, Node, Node)> {
    let db = Backend::Postgres.db(test).await?;
    let mut env = node_env(&db, ISSUER);
    set(&mut env, "PORTCULLIS_KEYS_RELOAD_INTERVAL", RELOAD_INTERVAL);
    set(&mut env, "PORTCULLIS_DEVICE_INTERVAL", 1);
    // Both start at once on the empty database: migrations and first keys race as well.
    let (a, b) = tokio::join!(Node::start(&env), Node::start(&env));
    // Each may have generated first keys the other has not loaded yet: within the reload
    // interval they publish (and verify with) the same set. Tokens cross nodes from then on.
    agreed_jwks(&a, &b).await;
    Some((db, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_flows_cross_nodes() {
    let Some((_db, a, b)) = two_nodes("user_flows_cross_nodes").await else {
        return;
    };
    let w = world(&a).await;

    // Code + PKCE: /authorize, sign-in and consent on A; the code redeemed on B.
    let browser = Browser::new();
    let p = pkce();
    let page = browser
        .get(&authorize_url(
            &a,
            &w,
            &p,
            "openid profile offline_access",
            &[],
        ))
        .await;
    assert_eq!(page.status(), 200);
    let consent_page = sign_in(&browser, &a, &page.text().await.unwrap()).await;
    assert_eq!(consent_page.status(), 200);
    let done = consent(&browser, &a, &consent_page.text().await.unwrap()).await;
    let code = code_of(&done);
    let (status, tokens) = redeem(&b, &w, &code, &p).await;
    assert_eq!(status, 200, "{tokens}");
    // Refresh on A; userinfo on B with the new access token.
    let (status, refreshed) = refresh(&a, &w, str_of(&tokens, "refresh_token")).await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, me) = send(
        b.get("/userinfo")
            .bearer_auth(str_of(&refreshed, "access_token")),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sub"], jwt_claims(str_of(&refreshed, "id_token"))["sub"]);

    // The session and the consent made on A count on B: a new request there needs neither
    // the sign-in page nor the consent page.
    let p2 = pkce();
    let again = browser
        .get(&authorize_url(&b, &w, &p2, "openid profile", &[]))
        .await;
    let code2 = code_of(&again);
    let (status, body) = redeem(&a, &w, &code2, &p2).await;
    assert_eq!(status, 200, "{body}");
    // Single use holds across nodes: B refuses the code A took (and revokes its grant).
    let (status, replay) = redeem(&b, &w, &code2, &p2).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = send(
        a.get("/userinfo")
            .bearer_auth(str_of(&body, "access_token")),
    )
    .await;
    assert_eq!(status, 401, "the grant's access token died with it");

    // Device flow: authorization on A, the user's pages on B, the poll on A.
    let (status, started) = send(client_form(
        a.post("/device_authorization"),
        &w.tv,
        &[("scope", "openid offline_access a.read")],
    ))
    .await;
    assert_eq!(status, 200, "{started}");
    approve_device(&b, str_of(&started, "user_code")).await;
    let (status, device_tokens) = a
        .token(
            &w.tv,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", str_of(&started, "device_code")),
            ],
        )
        .await;
    assert_eq!(status, 200, "{device_tokens}");
    let (status, me) = send(
        b.get("/userinfo")
            .bearer_auth(str_of(&device_tokens, "access_token")),
    )
    .await;
    assert_eq!(status, 200, "{me}");

    // Logout on A ends the session everywhere: B, shown the same session cookie, asks the
    // user to sign in again.
    let kept = browser.copy(&a);
    let out = browser.get(&a.url("/logout")).await;
    assert!(out.status().is_success(), "{}", out.status());
    let p3 = pkce();
    let after = kept
        .get(&authorize_url(&b, &w, &p3, "openid profile", &[]))
        .await;
    assert_eq!(after.status(), 200, "the sign-in page, not a code");
    let html = after.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");

    a.assert_no_panic();
    b.assert_no_panic();
}

/// The kids both nodes publish, once they agree (each reloads every `RELOAD_INTERVAL`).
async fn agreed_jwks(a: &Node, b: &Node) -> Vec<String> {
    let started = Instant::now();
    loop {
        let (on_a, on_b) = (jwks_kids(&a.jwks().await), jwks_kids(&b.jwks().await));
        if on_a == on_b {
            return on_a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2 * RELOAD_INTERVAL + 2),
            "the nodes publish different keys: {on_a:?} and {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The user's side of the device flow on `node`: enter the code, sign in, approve.
async fn approve_device(node: &Node, user_code: &str) {
    let b = Browser::new();
    let page = b.get(&node.url("/device")).await.text().await.unwrap();
    let csrf = field(&page, "csrf_token").expect("csrf");
    let signin = b
        .post(
            node,
            "/device",
            &[("csrf_token", &csrf), ("user_code", user_code)],
        )
        .await
        .text()
        .await
        .unwrap();
    let shown = field(&signin, "user_code").expect("user_code carried");
    let approval = b
        .post(
            node,
            "/device/signin",
            &[
                ("csrf_token", &csrf),
                ("user_code", &shown),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(approval.contains("approve"), "{approval}");
    let done = b
        .post(
            node,
            "/device/approve",
            &[
                ("csrf_token", &csrf),
                ("user_code", &shown),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_cross_nodes() {
    let Some((_db, a, b)) = two_nodes("tokens_and_keys_cross_nodes").await else {
        return;
    };
    let w = world(&b).await;

    // Client credentials on A, introspected on B; revoked on A, inactive on B within
    // `tokens.revocation_cache_ttl` (1 s: B's copy of the deny-list answer; the deny-list and
    // the opaque rows are in the database, not in a node's memory).
    for resource in [LEDGER, API_A] {
        let (status, issued) = a
            .token(
                &w.service,
                &[("grant_type", "client_credentials"), ("resource", resource)],
            )
            .await;
        assert_eq!(status, 200, "{issued}");
        let token = str_of(&issued, "access_token");
        let (_, info) = b.introspect(&w.service, token).await;
        assert_eq!(info["active"], true, "{resource}: {info}");
        let (status, _) = send(client_form(
            a.post("/revoke"),
            &w.service,
            &[("token", token)],
        ))
        .await;
        assert_eq!(status, 200);
        let revoked_at = Instant::now();
        loop {
            let (_, info) = b.introspect(&w.service, token).await;
            if info == json!({ "active": false }) {
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_millis(2_500),
                "{resource}: still active on B after the bound: {info}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Token exchange across nodes: a token for API A issued on A, exchanged by API A on B
    // for API B, and read by API B on A.
    let (status, issued) = a
        .token(
            &w.service,
            &[("grant_type", "client_credentials"), ("resource", API_A)],
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let (status, exchanged) = b
        .token(
            &w.api_a,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", str_of(&issued, "access_token")),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", API_B),
            ],
        )
        .await;
    assert_eq!(status, 200, "{exchanged}");
    let (_, info) = a
        .introspect(&w.api_b, str_of(&exchanged, "access_token"))
        .await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["act"], json!({ "sub": w.api_a.id }));

    // Key rotation through A's admin API: B publishes the new keys within
    // `keys.reload_interval`, and verifies what A signs with them.
    // Both nodes generated first keys at once; within the reload interval they publish the
    // same set.
    let before = agreed_jwks(&a, &b).await;
    let (status, rotated) = a
        .admin_post("/keys/rotate", json!({ "algs": ["ES256"] }))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let on_a = jwks_kids(&a.jwks().await);
    let new: Vec<String> = on_a
        .iter()
        .filter(|k| !before.contains(k))
        .cloned()
        .collect();
    assert_eq!(new.len(), 1, "one new ES256 key: {on_a:?} after {before:?}");
    let rotated_at = Instant::now();
    let bound = Duration::from_secs(RELOAD_INTERVAL) + Duration::from_millis(1500);
    let jwks_b = loop {
        let jwks = b.jwks().await;
        if jwks_kids(&jwks).contains(&new[0]) {
            break jwks;
        }
        assert!(
            rotated_at.elapsed() < bound,
            "B did not publish {} within {bound:?}",
            new[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, issued) = a
        .token(
            &w.service,
            &[("grant_type", "client_credentials"), ("resource", API_A)],
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let token = str_of(&issued, "access_token");
    assert_eq!(
        jwt_header(token)["kid"],
        new[0].as_str(),
        "A signs with the new key"
    );
    let (_, info) = b.introspect(&w.service, token).await;
    assert_eq!(info["active"], true, "B verifies the new key: {info}");
    // And a relying party holding only B's JWKS verifies it too.
    let set: JwkSet = serde_json::from_value(jwks_b).expect("JWK set");
    let key = DecodingKey::from_jwk(set.find(&new[0]).expect("published")).expect("key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[API_A]);
    validation.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies with B's JWKS");

    a.assert_no_panic();
    b.assert_no_panic();
}
