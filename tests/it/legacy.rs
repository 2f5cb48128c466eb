//! The legacy flows, off by default: the implicit flow (RFC 6749 §4.2, OIDC Core
//! §3.2) driven like a browser with redirects not followed, so the fragment is read from the
//! `Location` header, and the password grant (RFC 6749 §4.3) with its shared sign-in throttle.
//! Both when switched off (exact error codes, absent from discovery) and on, and the admin
//! report of who still uses them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_stores;
use crate::fixtures::{ORDERS, PASSWORD, Registration, alice_named, id_of, resources};
use crate::flows::{
    assert_error, authorize_query, browser, field, get_authorize, param, pkce, submit_consent,
    submit_sign_in,
};
use crate::harness::{Client, TestDb, TestServer, header, jwt_claims, send, send_full};

const SPA_CB: &str = "https://legacy-spa.example.com/cb";
const WEB_CB: &str = "https://legacy-web.example.com/cb";
const NONCE: &str = "n-legacy-42";
const STATE: &str = "st-legacy";

/// An old single-page app registered for the implicit flow, all three response types.
async fn implicit_spa(server: &TestServer) -> Client {
    let client = Registration::new("old SPA", "spa")
        .public()
        .grant_types(&["implicit"])
        .set(
            "response_types",
            json!(["token", "id_token", "id_token token"]),
        )
        .redirect_uris(&[SPA_CB])
        .scope("openid profile read")
        .allowed_resources(&[ORDERS])
        .register(server)
        .await;
    assert!(
        warnings(&client.registration)
            .iter()
            .any(|w| w.contains("implicit is deprecated")),
        "{}",
        client.registration
    );
    client
}

/// A confidential legacy app registered for the password grant (and refresh tokens when
/// `refresh` is true).
async fn password_app(server: &TestServer, refresh: bool) -> Client {
    let mut grants = vec!["password"];
    if refresh {
        grants.push("refresh_token");
    }
    let client = Registration::new("old desktop app", "web")
        .set("grant_types", json!(grants))
        .set("response_types", json!([]))
        .scope("openid profile offline_access read")
        .allowed_resources(&[ORDERS])
        .register(server)
        .await;
    assert!(
        warnings(&client.registration)
            .iter()
            .any(|w| w.contains("password is deprecated")),
        "{}",
        client.registration
    );
    client
}

fn warnings(registration: &Value) -> Vec<String> {
    registration["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn on(implicit: bool, password: bool) -> impl FnOnce(&mut portcullis::config::Config) {
    move |c| {
        c.legacy.implicit = implicit;
        c.legacy.password = password;
    }
}

/// A redirect's target without query or fragment, its query pairs and its fragment pairs.
struct Redirect {
    base: String,
    query: Vec<(String, String)>,
    fragment: Vec<(String, String)>,
}

impl Redirect {
    fn of(response: &Response) -> Redirect {
        assert_eq!(response.status(), 302, "a redirect");
        let loc = response.headers()["location"].to_str().expect("location");
        let url = url::Url::parse(loc).expect("absolute location");
        let fragment = url
            .fragment()
            .map(|f| {
                form_urlencoded::parse(f.as_bytes())
                    .into_owned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        Redirect {
            base: format!("{}://{}{}", url.scheme(), url.authority(), url.path()),
            query: url.query_pairs().into_owned().collect(),
            fragment,
        }
    }

    fn fragment(&self, name: &str) -> Option<&str> {
        param(&self.fragment, name)
    }

    fn query(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }
}

/// An authorization request's parameters.
type Query = Vec<(String, String)>;

/// An implicit request of `client`; `extra` replaces (or, empty, removes) parameters.
fn implicit_request(client: &Client, response_type: &str, extra: &[(&str, &str)]) -> Query {
    authorize_query(
        &[
            ("response_type", response_type),
            ("client_id", client.id.as_str()),
            ("redirect_uri", SPA_CB),
            ("scope", "openid profile"),
            ("state", STATE),
            ("nonce", NONCE),
        ],
        extra,
    )
}

/// From the sign-in page of a fresh request through consent to the redirect.
async fn sign_in_and_consent(server: &TestServer, b: &reqwest::Client, page: Response) -> Response {
    assert_eq!(page.status(), 200, "the sign-in page");
    let html = page.text().await.unwrap();
    let consent = submit_sign_in(server, b, &html, PASSWORD).await;
    assert_eq!(consent.status(), 200, "the consent page");
    let html = consent.text().await.unwrap();
    assert!(html.contains("decision"), "{html}");
    submit_consent(server, b, &html, "allow").await
}

/// OIDC Core §3.2.2.9: the left half of SHA-256 (RS256 ID tokens) of the access token.
fn expected_at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

async fn discovery(server: &TestServer) -> Value {
    let (status, doc) = send(server.get("/.well-known/openid-configuration")).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

async fn usage(server: &TestServer, days: &str) -> Vec<Value> {
    let (status, body) = server
        .admin_get(&format!("/legacy-usage?days={days}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["usage"].as_array().expect("usage").clone()
}

async fn password_grant(
    server: &TestServer,
    client: &Client,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut fields = vec![("grant_type", "password")];
    fields.extend_from_slice(form);
    let request = server.post("/token");
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            fields.push(("client_id", &client.id));
            request
        }
    };
    send_full(request.form(&fields)).await
}

fn alice_form(password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("username", "alice".to_string()),
        ("password", password.to_string()),
        ("scope", "openid offline_access read".to_string()),
    ]
}

async fn password_as(
    server: &TestServer,
    client: &Client,
    password: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let form = alice_form(password);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    password_grant(server, client, &form).await
}

async fn off_by_default(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    alice_named().create(&server).await;
    let spa = implicit_spa(&server).await;
    let app = password_app(&server, true).await;

    // Absent from discovery.
    let doc = discovery(&server).await;
    assert_eq!(strings(&doc["response_types_supported"]), ["code"]);
    let grants = strings(&doc["grant_types_supported"]);
    assert!(
        !grants.iter().any(|g| g == "password" || g == "implicit"),
        "{grants:?}"
    );

    // The password grant is answered exactly as an unknown grant.
    let (status, _, body) = password_as(&server, &app, PASSWORD).await;
    assert_error(
        status,
        &body,
        "unsupported_grant_type",
        "password while off",
    );
    let (status, _, unknown) = send_full(
        server
            .post("/token")
            .basic_auth(&app.id, app.secret.as_deref())
            .form(&[("grant_type", "no-such-grant")]),
    )
    .await;
    assert_eq!(unknown["error"], body["error"]);
    assert_eq!(unknown["error_description"], body["error_description"]);
    assert_eq!(status, 400);

    // Each implicit response type is answered exactly as an unknown response type: redirected
    // (client and redirect URI are verified) in the query, with state and iss.
    let b = browser();
    let bogus =
        Redirect::of(&get_authorize(&server, &b, &implicit_request(&spa, "bogus", &[])).await);
    assert_eq!(bogus.query("error"), Some("unsupported_response_type"));
    for response_type in ["token", "id_token", "id_token token", "token id_token"] {
        let r = Redirect::of(
            &get_authorize(&server, &b, &implicit_request(&spa, response_type, &[])).await,
        );
        assert_eq!(r.base, SPA_CB, "{response_type}");
        assert_eq!(r.query, bogus.query, "{response_type}");
        assert!(r.fragment.is_empty(), "{response_type}");
    }
    assert!(usage(&server, "30").await.is_empty());
    server.stop().await;
}

async fn implicit_issues_tokens_in_the_fragment(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        on(true, false)(c);
        c.legacy.implicit_access_token_lifetime = 120;
    })
    .await;
    server.state.clock.freeze();
    resources(&server).await;
    let user_id = id_of(&alice_named().create(&server).await);
    let spa = implicit_spa(&server).await;

    let doc = discovery(&server).await;
    assert_eq!(
        strings(&doc["response_types_supported"]),
        ["code", "token", "id_token", "id_token token"]
    );
    assert!(strings(&doc["grant_types_supported"]).contains(&"implicit".to_string()));
    assert!(!strings(&doc["grant_types_supported"]).contains(&"password".to_string()));

    // `id_token token`: sign-in and consent as in the code flow, then both tokens.
    let b = browser();
    let page = get_authorize(&server, &b, &implicit_request(&spa, "id_token token", &[])).await;
    let done = Redirect::of(&sign_in_and_consent(&server, &b, page).await);
    assert_eq!(done.base, SPA_CB);
    assert!(
        done.query.is_empty(),
        "nothing in the query: {:?}",
        done.query
    );
    assert_eq!(done.fragment("state"), Some(STATE));
    assert_eq!(done.fragment("iss"), Some(server.base.as_str()));
    assert_eq!(done.fragment("token_type"), Some("Bearer"));
    // The short lifetime of `legacy.implicit_access_token_lifetime`.
    assert_eq!(done.fragment("expires_in"), Some("120"));
    assert!(done.fragment("code").is_none());
    assert!(
        done.fragment("refresh_token").is_none(),
        "never a refresh token"
    );
    let access_token = done.fragment("access_token").expect("access_token");
    let at = jwt_claims(access_token);
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        120
    );
    assert_eq!(at["sub"], user_id.as_str());
    assert_eq!(at["client_id"], spa.id.as_str());
    let id = jwt_claims(done.fragment("id_token").expect("id_token"));
    assert_eq!(id["nonce"], NONCE);
    assert_eq!(id["aud"], spa.id.as_str());
    assert_eq!(id["sub"], user_id.as_str());
    assert_eq!(id["at_hash"], expected_at_hash(access_token).as_str());
    // With an access token, the profile is for userinfo, not the ID token.
    assert!(id.get("name").is_none(), "{id}");

    // The access token is good at userinfo (its audience is this server).
    let (status, info) = send(server.get("/userinfo").bearer_auth(access_token)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["name"], "Alice Liddell");

    // `token`: consent remembered, session kept: straight back with an access token only.
    let token_only = Redirect::of(
        &get_authorize(
            &server,
            &b,
            &implicit_request(&spa, "token", &[("nonce", "")]),
        )
        .await,
    );
    assert!(token_only.fragment("access_token").is_some());
    assert!(token_only.fragment("id_token").is_none());
    assert!(token_only.fragment("refresh_token").is_none());

    // `id_token` alone: no access token, so no at_hash, and the profile is in the ID token
    // (OIDC Core §5.4).
    let id_only =
        Redirect::of(&get_authorize(&server, &b, &implicit_request(&spa, "id_token", &[])).await);
    assert!(id_only.fragment("access_token").is_none());
    let id = jwt_claims(id_only.fragment("id_token").expect("id_token"));
    assert_eq!(id["nonce"], NONCE);
    assert!(id.get("at_hash").is_none(), "{id}");
    assert_eq!(id["name"], "Alice Liddell");

    // form_post: the tokens in a form, not in any URL.
    let posted = get_authorize(
        &server,
        &b,
        &implicit_request(&spa, "id_token token", &[("response_mode", "form_post")]),
    )
    .await;
    assert_eq!(posted.status(), 200);
    assert!(posted.headers().get("location").is_none());
    let html = posted.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{SPA_CB}\"")), "{html}");
    assert!(field(&html, "access_token").is_some(), "{html}");
    assert!(field(&html, "id_token").is_some(), "{html}");

    // Every use is counted for the operator.
    let used = usage(&server, "1").await;
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0]["client_id"], spa.id.as_str());
    assert_eq!(used[0]["flow"], "implicit");
    assert_eq!(used[0]["uses"], 4);
    assert_eq!(used[0]["last_used_at"], server.state.now());
    server.stop().await;
}

async fn implicit_refusals(db: TestDb) {
    let server = TestServer::start_with(&db, on(true, false)).await;
    resources(&server).await;
    alice_named().create(&server).await;
    let spa = implicit_spa(&server).await;
    let token_only = Registration::new("token-only SPA", "spa")
        .public()
        .grant_types(&["implicit"])
        .set("response_types", json!(["token"]))
        .redirect_uris(&[SPA_CB])
        .scope("openid read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let code_spa = Registration::new("modern SPA", "spa")
        .public()
        .redirect_uris(&[SPA_CB])
        .scope("openid read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let b = browser();
    let cases: Vec<(&str, Query, &str)> = vec![
        (
            "no nonce with an ID token",
            implicit_request(&spa, "id_token token", &[("nonce", "")]),
            "invalid_request",
        ),
        (
            "no nonce with id_token alone",
            implicit_request(&spa, "id_token", &[("nonce", "")]),
            "invalid_request",
        ),
        (
            "tokens asked for in the query",
            implicit_request(&spa, "token", &[("response_mode", "query")]),
            "invalid_request",
        ),
        (
            "an ID token without openid",
            implicit_request(&spa, "id_token", &[("scope", "profile")]),
            "invalid_scope",
        ),
        (
            "a client not registered for implicit",
            implicit_request(&code_spa, "token", &[]),
            "unauthorized_client",
        ),
        (
            "a response type the client did not register",
            implicit_request(&token_only, "id_token token", &[]),
            "unauthorized_client",
        ),
        (
            "hybrid is never served",
            implicit_request(&spa, "code id_token", &[]),
            "unsupported_response_type",
        ),
    ];
    for (what, query, error) in cases {
        let r = Redirect::of(&get_authorize(&server, &b, &query).await);
        assert_eq!(r.base, SPA_CB, "{what}");
        let (pairs, mode) = if error == "unsupported_response_type" {
            (&r.query, "query")
        } else {
            // RFC 6749 §4.2.2.1: the error of an implicit request is in the fragment.
            assert!(r.query.is_empty(), "{what}: {:?}", r.query);
            (&r.fragment, "fragment")
        };
        assert_eq!(param(pairs, "error"), Some(error), "{what} ({mode})");
        assert_eq!(param(pairs, "state"), Some(STATE), "{what}");
        assert!(param(pairs, "access_token").is_none(), "{what}");
    }

    // An unregistered redirect URI is never redirected to, implicit or not.
    let page = get_authorize(
        &server,
        &b,
        &implicit_request(
            &spa,
            "token",
            &[("redirect_uri", "https://evil.example/cb")],
        ),
    )
    .await;
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());

    // Denied consent is access_denied, in the fragment.
    let page = get_authorize(&server, &b, &implicit_request(&spa, "id_token token", &[])).await;
    let html = page.text().await.unwrap();
    let consent = submit_sign_in(&server, &b, &html, PASSWORD).await;
    let html = consent.text().await.unwrap();
    let denied = submit_consent(&server, &b, &html, "deny").await;
    let r = Redirect::of(&denied);
    assert_eq!(r.fragment("error"), Some("access_denied"));
    assert!(r.fragment("access_token").is_none());

    // Refusals are not uses.
    assert!(usage(&server, "30").await.is_empty());
    server.stop().await;
}

async fn password_grant_issues_tokens(db: TestDb) {
    let server = TestServer::start_with(&db, on(false, true)).await;
    resources(&server).await;
    let user_id = id_of(&alice_named().create(&server).await);
    let doc = discovery(&server).await;
    assert!(strings(&doc["grant_types_supported"]).contains(&"password".to_string()));
    assert_eq!(strings(&doc["response_types_supported"]), ["code"]);

    // Refresh tokens only for a client that has the refresh_token grant.
    let with_refresh = password_app(&server, true).await;
    let (status, headers, tokens) = password_as(&server, &with_refresh, PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["sub"],
        user_id.as_str()
    );
    let id = jwt_claims(tokens["id_token"].as_str().expect("an ID token for openid"));
    assert_eq!(id["sub"], user_id.as_str());
    assert_eq!(id["aud"], with_refresh.id.as_str());
    assert_eq!(
        id["at_hash"],
        expected_at_hash(tokens["access_token"].as_str().unwrap()).as_str()
    );
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let (status, _, refreshed) = send_full(
        server
            .post("/token")
            .basic_auth(&with_refresh.id, with_refresh.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");

    let without = password_app(&server, false).await;
    let (status, _, tokens) = password_as(&server, &without, PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");

    // A public first-party app may use it too.
    let first_party = Registration::new("our own old app", "native")
        .public()
        .grant_types(&["password"])
        .set("response_types", json!([]))
        .set("first_party", json!(true))
        .scope("openid read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, _, body) = password_grant(
        &server,
        &first_party,
        &[
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );

    let used = usage(&server, "30").await;
    assert_eq!(used.len(), 3, "{used:?}");
    assert!(
        used.iter()
            .all(|u| u["flow"] == "password" && u["uses"] == 1),
        "{used:?}"
    );
    server.stop().await;
}

async fn password_grant_refusals(db: TestDb) {
    let server = TestServer::start_with(&db, on(false, true)).await;
    resources(&server).await;
    let user_id = id_of(&alice_named().create(&server).await);
    let app = password_app(&server, true).await;

    // A public client that is not first-party: the lint warns, the token endpoint refuses.
    let public = Registration::new("someone's app", "native")
        .public()
        .grant_types(&["password"])
        .set("response_types", json!([]))
        .scope("openid read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    assert!(
        warnings(&public.registration)
            .iter()
            .any(|w| w.contains("confidential or first-party")),
        "{}",
        public.registration
    );
    let (status, _, body) = password_as(&server, &public, PASSWORD).await;
    assert_error(
        status,
        &body,
        "unauthorized_client",
        "public, not first-party",
    );

    // A client not registered for the grant (the per-client switch).
    let web = Registration::new("web app", "web")
        .redirect_uris(&[WEB_CB])
        .scope("openid read")
        .allowed_resources(&[ORDERS])
        .register(&server)
        .await;
    let (status, _, body) = password_as(&server, &web, PASSWORD).await;
    assert_error(status, &body, "unauthorized_client", "not registered");

    let (status, _, body) = password_as(&server, &app, "not the password").await;
    assert_error(status, &body, "invalid_grant", "wrong password");
    let (status, _, body) = password_grant(
        &server,
        &app,
        &[
            ("username", "nobody"),
            ("password", PASSWORD),
            ("scope", "read"),
        ],
    )
    .await;
    assert_error(status, &body, "invalid_grant", "unknown user");
    let (status, _, body) =
        password_grant(&server, &app, &[("password", PASSWORD), ("scope", "read")]).await;
    assert_error(status, &body, "invalid_request", "no username");
    let (status, _, body) = password_grant(
        &server,
        &app,
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;
    assert_error(status, &body, "invalid_scope", "no scope");
    let (status, _, body) = password_grant(
        &server,
        &app,
        &[
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "admin"),
        ],
    )
    .await;
    assert_error(
        status,
        &body,
        "invalid_scope",
        "a scope the client may not have",
    );

    // A disabled user is refused even with the right password.
    let (status, user) = send(
        server
            .admin(reqwest::Method::PUT, &format!("/users/{user_id}"))
            .json(&json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let (status, _, body) = password_as(&server, &app, PASSWORD).await;
    assert_error(status, &body, "invalid_grant", "disabled user");

    // The refusals were not uses.
    assert!(usage(&server, "30").await.is_empty());
    server.stop().await;
}

async fn password_lockout_is_the_sign_in_lockout(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        on(false, true)(c);
        c.throttle.account_free_attempts = 2;
        c.throttle.base_delay = 30;
    })
    .await;
    server.state.clock.freeze();
    resources(&server).await;
    alice_named().create(&server).await;
    let app = password_app(&server, false).await;
    for _ in 0..3 {
        let (status, _, body) = password_as(&server, &app, "not the password").await;
        assert_error(status, &body, "invalid_grant", "wrong password");
    }
    // Locked out: even the right password is refused, and Retry-After says for how long.
    let (status, headers, body) = password_as(&server, &app, PASSWORD).await;
    assert_error(status, &body, "invalid_grant", "locked out");
    assert_eq!(header(&headers, "retry-after"), "60");

    // The same counter locks the sign-in page.
    let spa = Registration::new("modern SPA", "spa")
        .public()
        .redirect_uris(&[WEB_CB])
        .scope("openid")
        .register(&server)
        .await;
    let b = browser();
    let p = pkce();
    let query = authorize_query(
        &[
            ("response_type", "code"),
            ("client_id", spa.id.as_str()),
            ("scope", "openid"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
    let page = get_authorize(&server, &b, &query).await;
    let html = page.text().await.unwrap();
    let blocked = submit_sign_in(&server, &b, &html, PASSWORD).await;
    assert_eq!(blocked.status(), 429);

    // Once the delay has passed, the right password works and clears the account counter.
    server.state.clock.advance(60);
    let (status, _, body) = password_as(&server, &app, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn legacy_usage_report(db: TestDb) {
    let server = TestServer::start_with(&db, on(false, true)).await;
    server.state.clock.freeze();
    resources(&server).await;
    alice_named().create(&server).await;
    let app = password_app(&server, false).await;
    let (status, _, body) = password_as(&server, &app, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let first = server.state.now();
    server.state.clock.advance(2 * 86_400);
    for _ in 0..2 {
        let (status, _, body) = password_as(&server, &app, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
    }
    let last = server.state.now();

    let today = usage(&server, "1").await;
    assert_eq!(today.len(), 1, "{today:?}");
    assert_eq!(today[0]["uses"], 2);
    assert_eq!(today[0]["last_used_at"], last);
    let week = usage(&server, "7").await;
    assert_eq!(week.len(), 1, "{week:?}");
    assert_eq!(week[0]["client_id"], app.id.as_str());
    assert_eq!(week[0]["flow"], "password");
    assert_eq!(week[0]["uses"], 3);
    assert_eq!(week[0]["last_used_at"], last);
    assert!(first < last);
    // The default is 30 days.
    let (status, default) = server.admin_get("/legacy-usage").await;
    assert_eq!(status, 200, "{default}");
    assert_eq!(default["usage"][0]["uses"], 3);

    for bad in ["0", "367", "-1", "abc"] {
        let (status, body) = server.admin_get(&format!("/legacy-usage?days={bad}")).await;
        assert_error(status, &body, "invalid_request", bad);
    }
    let (status, _) = send(server.get("/admin/legacy-usage")).await;
    assert_eq!(status, 401, "admin only");
    server.stop().await;
}

both_stores!(
    off_by_default,
    implicit_issues_tokens_in_the_fragment,
    implicit_refusals,
    password_grant_issues_tokens,
    password_grant_refusals,
    password_lockout_is_the_sign_in_lockout,
    legacy_usage_report,
);
