//! The flows tests walk through, as a client and a browser without JavaScript make them:
//! sign-in and consent pages (cookies kept, redirects not followed, hidden fields read out of
//! the pages), the code flow (authorize → code → token, RFC 6749 §4.1 with PKCE, RFC 7636),
//! refresh (RFC 6749 §6) and the device flow with its approval (RFC 8628).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis::grants::authorization_code::{CodeGrant, issue_code};
use portcullis::oauth::scope::Scope;
use portcullis::secret::random_token;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::fixtures::{DEVICE_GRANT, LOGOUT_EVENT, NONCE, PASSWORD, SPA_CB, USER, WEB_CB};
use crate::harness::{Client, TestServer, client_form, jwt_header, send};
use crate::node::Node;

/// A server the flows run against: an in-process `TestServer` or a `Node` process.
pub trait Site {
    fn url(&self, path: &str) -> String;
    /// The site's own HTTP client (no cookies, redirects not followed).
    fn http(&self) -> &reqwest::Client;
}

impl Site for TestServer {
    fn url(&self, path: &str) -> String {
        TestServer::url(self, path)
    }
    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

impl<T: Site> Site for std::sync::Arc<T> {
    fn url(&self, path: &str) -> String {
        T::url(self, path)
    }
    fn http(&self) -> &reqwest::Client {
        T::http(self)
    }
}

impl Site for Node {
    fn url(&self, path: &str) -> String {
        Node::url(self, path)
    }
    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

// ---- pages ----

/// A browser: its own cookie jar, no redirects followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser")
}

/// The value of hidden (or any) input `name` in a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + "value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

/// The query parameters of a redirect's `Location`.
pub fn location(response: &Response) -> (String, Vec<(String, String)>) {
    let loc = response.headers()["location"].to_str().expect("location");
    let url = url::Url::parse(loc).expect("absolute location");
    let base = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
    (base, url.query_pairs().into_owned().collect())
}

/// The value of `name` among query (or fragment) pairs.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A string member of a JSON answer; panics naming it when absent.
pub fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

pub fn assert_page_defences(response: &Response, what: &str) {
    let h = response.headers();
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
}

/// An authorization request of the SPA client with PKCE; `extra` replaces (or, empty,
/// removes) parameters.
pub fn spa_request(client: &Client, p: &Pkce, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    authorize_query(
        &[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", SPA_CB),
            ("scope", "openid profile read"),
            ("state", "xyz-state"),
            ("nonce", NONCE),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        extra,
    )
}

/// Authorization request parameters: `pairs`, then `extra` replaces (or, empty, removes) them.
pub fn authorize_query(pairs: &[(&str, &str)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in extra {
        q.retain(|(n, _)| n != k);
        if !v.is_empty() {
            q.push((k.to_string(), v.to_string()));
        }
    }
    q
}

/// The browser at `/authorize` with `query`.
pub async fn get_authorize(
    site: &impl Site,
    b: &reqwest::Client,
    query: &[(String, String)],
) -> Response {
    let mut url = url::Url::parse(&site.url("/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(query);
    b.get(url.as_str()).send().await.expect("authorize")
}

/// The browser submits a form to `path`.
pub async fn post_form(
    site: &impl Site,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    b.post(site.url(path))
        .form(form)
        .send()
        .await
        .expect("post")
}

/// Signs alice in with `password` on the sign-in page `page`; the response to the form.
pub async fn submit_sign_in(
    site: &impl Site,
    b: &reqwest::Client,
    page: &str,
    password: &str,
) -> Response {
    submit_sign_in_as(site, b, page, "alice", password).await
}

/// `submit_sign_in` as `username`.
pub async fn submit_sign_in_as(
    site: &impl Site,
    b: &reqwest::Client,
    page: &str,
    username: &str,
    password: &str,
) -> Response {
    let csrf = field(page, "csrf_token").expect("csrf field");
    let id = field(page, "request_id").expect("request field");
    post_form(
        site,
        b,
        "/authorize/signin",
        &[
            ("csrf_token", &csrf),
            ("request_id", &id),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// Answers the consent page `page` with `decision` (`allow` or `deny`).
pub async fn submit_consent(
    site: &impl Site,
    b: &reqwest::Client,
    page: &str,
    decision: &str,
) -> Response {
    let csrf = field(page, "csrf_token").expect("csrf field");
    let id = field(page, "request_id").expect("request field");
    post_form(
        site,
        b,
        "/authorize/consent",
        &[
            ("csrf_token", &csrf),
            ("request_id", &id),
            ("decision", decision),
        ],
    )
    .await
}

// ---- the code flow ----

/// A PKCE pair as a client makes it (RFC 7636 §4.1–4.2), computed here independently.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn redirect_uri(client: &Client) -> String {
    client.registration["redirect_uris"][0]
        .as_str()
        .expect("a redirect URI")
        .to_string()
}

/// What the authorization endpoint hands over after sign-in and consent, for `USER`.
pub fn grant(server: &TestServer, client: &Client, scope: &str, pkce: Option<&Pkce>) -> CodeGrant {
    CodeGrant {
        client_id: client.id.clone(),
        user_id: USER.into(),
        redirect_uri: redirect_uri(client),
        scope: Scope::parse(scope).expect("scope"),
        audience: Vec::new(),
        nonce: Some(NONCE.into()),
        code_challenge: pkce.map(|p| p.challenge.clone()),
        code_challenge_method: pkce.map(|_| "S256".into()),
        auth_time: server.state.now() - 30,
        sid: None,
        acr: None,
    }
}

/// A code for `grant`, made by the function the authorization endpoint calls.
pub async fn code(server: &TestServer, grant: CodeGrant) -> String {
    issue_code(&server.state, grant, server.state.now())
        .await
        .expect("issue_code")
}

/// A token request as `client` makes it: Basic with its secret, or `client_id` when public.
pub fn token_request(site: &impl Site, client: &Client, form: &[(&str, &str)]) -> RequestBuilder {
    client_form(site.http().post(site.url("/token")), client, form)
}

pub async fn token(site: &impl Site, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    send(token_request(site, client, form)).await
}

/// RFC 6749 §4.1.3: redeems `code` (with the PKCE `verifier`).
pub async fn exchange(
    server: &TestServer,
    client: &Client,
    code: &str,
    verifier: Option<&str>,
) -> (u16, Value) {
    let redirect = redirect_uri(client);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token(server, client, &form).await
}

/// The whole code flow for `client` with PKCE, `scope` (and `audience`): the token response.
pub async fn code_flow_tokens(
    server: &TestServer,
    client: &Client,
    scope: &str,
    audience: &[&str],
) -> Value {
    let p = pkce();
    let mut g = grant(server, client, scope, Some(&p));
    g.audience = audience.iter().map(|a| a.to_string()).collect();
    let code = code(server, g).await;
    let (status, body) = exchange(server, client, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// RFC 6749 §6: a refresh request by `client` (with `extra` parameters).
pub async fn refresh(
    site: &impl Site,
    client: &Client,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    token(site, client, &form).await
}

/// Refreshes with the refresh token of `tokens`, which must work; the new token response.
pub async fn refreshed(server: &TestServer, client: &Client, tokens: &Value) -> Value {
    let (status, body) = refresh(server, client, str_of(tokens, "refresh_token"), &[]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// RFC 7662: whether `token` is active, asked by `caller`.
pub async fn is_active(server: &TestServer, caller: &Client, token: &str) -> bool {
    let (status, info) = server.introspect(caller, token).await;
    assert_eq!(status, 200, "{info}");
    info["active"] == json!(true)
}

/// The key `kid` of a published JWKS (RFC 7517 §5); panics when it is not there.
pub fn published_key<'a>(jwks: &'a Value, kid: &str) -> &'a Value {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"))
}

/// The public key of a JWK, to verify signatures with.
pub fn decoding_key(jwk: &Value) -> DecodingKey {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
    DecodingKey::from_jwk(&jwk).expect("a public key")
}

/// RFC 6749 §5.2: a 400 with `error`.
pub fn assert_error(status: u16, body: &Value, error: &str, what: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some(error)),
        "{what}: {body}"
    );
}

/// A relying party's ID token validation (OIDC Core §3.1.3.7) with jsonwebtoken and the
/// published JWKS, and the `at_hash` check of §3.1.3.8.
pub async fn validate_id_token(
    server: &TestServer,
    client: &Client,
    response: &Value,
    nonce: Option<&str>,
    alg: Algorithm,
) -> Value {
    let id_token = response["id_token"].as_str().expect("id_token");
    let access_token = response["access_token"].as_str().expect("access_token");
    let header = jsonwebtoken::decode_header(id_token).expect("a JWS header");
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid");
    let key = decoding_key(published_key(&server.jwks().await, &kid));
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&server.base]);
    validation.set_audience(&[&client.id]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap_or_else(|e| panic!("ID token does not validate: {e}"))
        .claims;
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], client.id);
    assert_eq!(claims["azp"], client.id);
    assert_eq!(claims["nonce"].as_str(), nonce);
    let now = server.state.now();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(iat <= now && now < exp, "iat {iat} exp {exp} now {now}");
    assert!(claims["auth_time"].as_i64().unwrap() <= iat, "{claims}");
    // RFC 8176 §2: signed in with a password.
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]), "{claims}");
    // §3.1.3.6: left half of the hash named by the algorithm, base64url.
    let digest = match alg {
        Algorithm::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
    );
    claims
}

/// Signs `app` in through the browser `b` (signing in with the password when asked) and
/// returns the token response.
pub async fn code_flow_in_browser(server: &TestServer, b: &reqwest::Client, app: &Client) -> Value {
    let p = pkce();
    let query = authorize_query(
        &[
            ("response_type", "code"),
            ("client_id", app.id.as_str()),
            ("redirect_uri", WEB_CB),
            ("scope", "openid offline_access read"),
            ("state", "s"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
    let mut response = get_authorize(server, b, &query).await;
    if response.status() == 200 {
        let html = response.text().await.unwrap();
        assert!(field(&html, "password").is_some() || html.contains("password"));
        response = submit_sign_in(server, b, &html, PASSWORD).await;
    }
    assert_eq!(response.status(), 302);
    let (_, q) = location(&response);
    let code = param(&q, "code").expect("a code").to_string();
    let (status, tokens) = exchange(server, app, &code, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// A relying party's Logout Token validation (§2.6): signature against the published JWKS
/// with the algorithm of the client's ID tokens, `typ`, and every claim. Returns the claims.
pub async fn validate_logout_token(
    server: &TestServer,
    client: &Client,
    token: &str,
    sub: &str,
    sid: &str,
    alg: Algorithm,
) -> Value {
    let header = jwt_header(token);
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    let kid = header["kid"].as_str().expect("kid");
    let key = decoding_key(published_key(&server.jwks().await, kid));
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&server.base]);
    validation.set_audience(&[&client.id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("Logout Token does not validate: {e}"))
        .claims;
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], client.id);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["events"], json!({ LOGOUT_EVENT: {} }));
    // §2.4: a Logout Token never carries a nonce.
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "{claims}"
    );
    let now = server.state.now();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((now - 5..=now).contains(&iat), "iat {iat} now {now}");
    assert!(
        exp > iat && exp - iat <= 120,
        "short-lived: iat {iat} exp {exp}"
    );
    claims
}

// ---- the device flow ----

/// The device authorization request (RFC 8628 §3.1) as `client` sends it.
pub async fn start_device(
    server: &TestServer,
    client: &Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = form.to_vec();
    form.push(("client_id", &client.id));
    send(server.post("/device_authorization").form(&form)).await
}

/// Starts a device authorization that must succeed; returns its response.
pub async fn started(server: &TestServer, client: &Client, scope: &str) -> Value {
    let (status, body) = start_device(server, client, &[("scope", scope)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// One poll of the token endpoint (RFC 8628 §3.4).
pub async fn poll(server: &TestServer, client: &Client, device_code: &str) -> (u16, Value) {
    token(
        server,
        client,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// A user at the verification page (RFC 8628 §3.3): enters `user_code`, signs in as alice,
/// and answers `decision` (`allow` or `deny`). Returns the last page.
pub async fn decide_device(site: &impl Site, user_code: &str, decision: &str) -> (u16, String) {
    decide_device_as(site, user_code, "alice", PASSWORD, decision).await
}

/// `decide_device` as `username` with `password`.
pub async fn decide_device_as(
    site: &impl Site,
    user_code: &str,
    username: &str,
    password: &str,
    decision: &str,
) -> (u16, String) {
    let b = browser();
    let page = page_text(
        b.get(site.url("/device"))
            .send()
            .await
            .expect("device page"),
    )
    .await;
    let csrf = field(&page, "csrf_token").expect("csrf");
    let signin = page_text(
        post_form(
            site,
            &b,
            "/device",
            &[("csrf_token", &csrf), ("user_code", user_code)],
        )
        .await,
    )
    .await;
    assert!(
        signin.contains("action=\"&#x2f;device&#x2f;signin\""),
        "{signin}"
    );
    let shown = field(&signin, "user_code").expect("user_code carried");
    let approval = page_text(
        post_form(
            site,
            &b,
            "/device/signin",
            &[
                ("csrf_token", &csrf),
                ("user_code", &shown),
                ("username", username),
                ("password", password),
            ],
        )
        .await,
    )
    .await;
    assert!(
        approval.contains("action=\"&#x2f;device&#x2f;approve\""),
        "{approval}"
    );
    assert!(approval.contains("value=\"allow\""), "{approval}");
    let done = post_form(
        site,
        &b,
        "/device/approve",
        &[
            ("csrf_token", &csrf),
            ("user_code", &shown),
            ("decision", decision),
        ],
    )
    .await;
    let status = done.status().as_u16();
    (status, done.text().await.expect("page"))
}

/// A page that must be served (200): its text.
async fn page_text(response: Response) -> String {
    assert_eq!(response.status(), 200, "{}", response.url());
    text(response).await
}

/// A response's body as text.
pub async fn text(response: Response) -> String {
    response.text().await.expect("page")
}

// ---- keys: what a relying party checks with the published JWKS ----

pub const API: &str = "https://api.example.com";

pub fn kid_of(token: &str) -> String {
    jwt_header(token)["kid"].as_str().expect("kid").to_string()
}

/// Verifies a token the way an API would: with the key the JWKS publishes under its `kid`.
pub fn verify_with_jwks(jwks: &Value, token: &str, issuer: &str) -> Value {
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("a JWK set");
    let kid = kid_of(token);
    let jwk = set.find(&kid).expect("the token's kid is published");
    let key = DecodingKey::from_jwk(jwk).expect("usable public key");
    let alg = jsonwebtoken::decode_header(token).unwrap().alg;
    let mut validation = Validation::new(alg);
    validation.set_audience(&[API]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("signature verifies")
        .claims
}

/// The sign-in step every sign-in form and the password grant share (`throttle::sign_in`),
/// called straight on a test server's state at its current time.
pub async fn throttled_sign_in(
    state: &portcullis::state::AppState,
    username: &str,
    password: &str,
    from: std::net::IpAddr,
) -> Result<portcullis::throttle::SignIn, portcullis::users::UserError> {
    portcullis::throttle::sign_in(
        &state.store,
        &state.passwords,
        &state.config.throttle,
        username,
        password,
        from,
        state.now(),
    )
    .await
}
