//! OpenID Connect RP-Initiated Logout 1.0 as a browser and a relying party see it: the session
//! ends, and the user goes back to the client only at a URI it registered, with `state`.

use axum::http::{HeaderMap, HeaderValue, header};
use portcullis::session;
use reqwest::Response;
use serde_json::{Value, json};

use crate::both_stores;
use crate::fixtures::{confidential_client, resources};
use crate::flows::code_flow_tokens;
use crate::harness::{Client, EcKey, TestDb, TestServer, jwks_kids, jwt_claims};

const AFTER_LOGOUT: &str = "https://web.example.com/signed-out";
const ELSEWHERE: &str = "https://evil.example.net/";

/// A web app that registered `AFTER_LOGOUT` (and the APIs the code flow's apps may call).
async fn app(server: &TestServer) -> Client {
    resources(server).await;
    confidential_client(
        server,
        "photo prints",
        json!({ "post_logout_redirect_uris": [AFTER_LOGOUT] }),
    )
    .await
}

/// A signed-in browser: a session for a new user, and the `Cookie` header that carries it.
struct SignedIn {
    cookie: String,
}

impl SignedIn {
    async fn signed_in(server: &TestServer, username: &str) -> SignedIn {
        let (status, user) = server
            .admin_post("/users", json!({ "username": username }))
            .await;
        assert_eq!(status, 201, "{user}");
        let now = server.state.now();
        let (_, set_cookie) =
            session::create_session(&server.state, user["id"].as_str().unwrap(), now, now)
                .await
                .expect("session");
        let cookie = set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        SignedIn { cookie }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&self.cookie).unwrap());
        h
    }

    async fn is_signed_in(&self, server: &TestServer) -> bool {
        session::current_session(&server.state, &self.headers(), server.state.now())
            .await
            .expect("store")
            .is_some()
    }

    async fn logout(&self, server: &TestServer, query: &[(&str, &str)]) -> Response {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        server
            .get(&format!("/logout?{query}"))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("request")
    }
}

/// The response cleared the session cookie.
fn assert_cookie_cleared(response: &Response, what: &str) {
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("portcullis_session=;") && c.contains("Max-Age=0"));
    assert!(cleared, "{what}: {:?}", response.headers());
}

/// The signed-out page, with no redirect.
async fn assert_signed_out_page(response: Response, what: &str) {
    assert_eq!(response.status(), 200, "{what}");
    assert!(response.headers().get("location").is_none(), "{what}");
    assert_cookie_cleared(&response, what);
    assert_eq!(response.headers()["x-frame-options"], "DENY", "{what}");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<h1>You are signed out</h1>"),
        "{what}: {html}"
    );
}

fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn id_token(server: &TestServer, client: &Client) -> String {
    let tokens: Value = code_flow_tokens(server, client, "openid", &[]).await;
    tokens["id_token"].as_str().expect("id_token").to_string()
}

async fn logout_ends_the_session_and_shows_the_signed_out_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let browser = SignedIn::signed_in(&server, "alice").await;
    let other = SignedIn::signed_in(&server, "bob").await;
    assert!(browser.is_signed_in(&server).await);

    let response = browser.logout(&server, &[]).await;
    assert_signed_out_page(response, "plain logout").await;
    assert!(!browser.is_signed_in(&server).await);
    // Only the session of the browser that signed out.
    assert!(other.is_signed_in(&server).await);

    // Signed out already, or never signed in: the same page.
    assert_signed_out_page(browser.logout(&server, &[]).await, "again").await;
    let response = server.get("/logout").send().await.unwrap();
    assert_signed_out_page(response, "no cookie").await;

    // POST works too (§2), with or without a form.
    let response = server
        .post("/logout")
        .header(reqwest::header::COOKIE, &other.cookie)
        .form(&[("ui_locales", "en")])
        .send()
        .await
        .unwrap();
    assert_signed_out_page(response, "POST").await;
    assert!(!other.is_signed_in(&server).await);
    let response = server.post("/logout").send().await.unwrap();
    assert_signed_out_page(response, "empty POST").await;
    server.stop().await;
}

async fn logout_returns_to_a_registered_uri_with_state(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = app(&server).await;
    let hint = id_token(&server, &client).await;

    let browser = SignedIn::signed_in(&server, "alice").await;
    let response = browser
        .logout(
            &server,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "af0ifjsldkj&x=1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        format!("{AFTER_LOGOUT}?state=af0ifjsldkj%26x%3D1")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_cookie_cleared(&response, "redirect");
    assert!(!browser.is_signed_in(&server).await);

    // No state: none sent back. client_id alone identifies the client too, and may be sent
    // along with a hint naming the same client.
    for query in [
        vec![("client_id", client.id.as_str())],
        vec![("client_id", client.id.as_str()), ("id_token_hint", &hint)],
    ] {
        let mut query = query;
        query.push(("post_logout_redirect_uri", AFTER_LOGOUT));
        let response = browser.logout(&server, &query).await;
        assert_eq!(response.status(), 302, "{query:?}");
        assert_eq!(location(&response), AFTER_LOGOUT, "{query:?}");
    }

    // §2: an expired ID token is still a good hint.
    server
        .state
        .clock
        .advance(server.state.config.tokens.id_token_lifetime as i64 + 60);
    let browser = SignedIn::signed_in(&server, "bob").await;
    let response = server
        .post("/logout")
        .header(reqwest::header::COOKIE, &browser.cookie)
        .form(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), format!("{AFTER_LOGOUT}?state=s1"));
    assert!(!browser.is_signed_in(&server).await);
    server.stop().await;
}

async fn logout_never_redirects_where_the_client_did_not_register(db: TestDb) {
    let server = TestServer::start(&db).await;
    let client = app(&server).await;
    let other = confidential_client(
        &server,
        "other app",
        json!({ "post_logout_redirect_uris": ["https://other.example.com/bye"] }),
    )
    .await;
    let hint = id_token(&server, &client).await;

    // A forged hint: our published kid and claims naming the client, another key's signature.
    let kid = jwks_kids(&server.jwks().await)[0].clone();
    let mut claims = jwt_claims(&hint);
    claims["aud"] = json!(client.id);
    let forged = EcKey::generate("attacker").sign_as(&kid, "JWT", &claims);
    // An access token is not an ID token, even one of ours naming the client.
    let access = code_flow_tokens(&server, &client, "openid", &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "unregistered URI",
            vec![
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", ELSEWHERE),
            ],
        ),
        (
            "a prefix of the registered URI",
            vec![
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", "https://web.example.com/"),
            ],
        ),
        (
            "registered URI with more on it",
            vec![
                ("client_id", &client.id),
                (
                    "post_logout_redirect_uri",
                    "https://web.example.com/signed-out?x=1",
                ),
            ],
        ),
        (
            "no client named",
            vec![("post_logout_redirect_uri", AFTER_LOGOUT), ("state", "s")],
        ),
        (
            "forged hint",
            vec![
                ("id_token_hint", &forged),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
        (
            "access token as hint",
            vec![
                ("id_token_hint", &access),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
        (
            "garbage hint",
            vec![
                ("id_token_hint", "a.b.c"),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
        (
            "another client's URI",
            vec![
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", "https://other.example.com/bye"),
            ],
        ),
        (
            "client_id and hint disagree",
            vec![
                ("id_token_hint", &hint),
                ("client_id", &other.id),
                ("post_logout_redirect_uri", "https://other.example.com/bye"),
            ],
        ),
        (
            "unknown client",
            vec![
                ("client_id", "no-such-client"),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
    ];
    for (i, (what, query)) in cases.into_iter().enumerate() {
        let browser = SignedIn::signed_in(&server, &format!("user{i}")).await;
        let response = browser.logout(&server, &query).await;
        // Still signed out: the user asked for that; only the redirect is refused.
        assert_signed_out_page(response, what).await;
        assert!(!browser.is_signed_in(&server).await, "{what}");
    }

    // A repeated parameter is a request this server cannot read: an error page, no redirect.
    let response = server
        .get(&format!(
            "/logout?post_logout_redirect_uri={AFTER_LOGOUT}&post_logout_redirect_uri={ELSEWHERE}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    server.stop().await;
}

both_stores!(
    logout_ends_the_session_and_shows_the_signed_out_page,
    logout_returns_to_a_registered_uri_with_state,
    logout_never_redirects_where_the_client_did_not_register,
);
