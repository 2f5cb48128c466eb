//! The token side of the authorization code flow (RFC 6749 §4.1.3) with PKCE (RFC 7636) and
//! OpenID Connect ID tokens (OIDC Core §3.1.3). The authorization endpoint is not built yet,
//! so codes come from `issue_code`, the function it will call.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis::config::SigningAlg;
use portcullis::grants::authorization_code::{CodeGrant, issue_code};
use portcullis::oauth::scope::Scope;
use portcullis::secret::{random_token, sha256_hex};
use portcullis::store::CodeRow;
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::both_stores;
use crate::harness::{Client, TestDb, TestServer, assert_no_store, jwt_claims, send, send_full};

pub const ORDERS: &str = "https://orders.example.com";
pub const REPORTS: &str = "https://reports.example.com";
pub const USER: &str = "user-7f3a";
pub const NONCE: &str = "n-0S6_WzA2Mj";
const WEB_CB: &str = "https://web.example.com/cb";
const SPA_CB: &str = "https://app.example.com/cb";
const SCOPES: &str = "openid profile offline_access read write report";

/// The APIs: `ORDERS` (JWT access tokens) and `REPORTS` (opaque ones).
pub async fn resources(server: &TestServer) {
    server.resource(ORDERS, &["read", "write"], json!({})).await;
    server
        .resource(
            REPORTS,
            &["report"],
            json!({ "access_token_format": "opaque" }),
        )
        .await;
}

/// A confidential web app (profile "web": code + refresh, client_secret_basic).
pub async fn web_client(server: &TestServer, name: &str, extra: Value) -> Client {
    let mut body = json!({
        "client_name": name,
        "profile": "web",
        "redirect_uris": [WEB_CB],
        "scope": SCOPES,
        "allowed_resources": [ORDERS, REPORTS],
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    server.client(body).await
}

/// A public browser app (profile "spa", no secret).
pub async fn spa_client(server: &TestServer) -> Client {
    server
        .client(json!({
            "client_name": "browser app",
            "profile": "spa",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [SPA_CB],
            "scope": SCOPES,
            "allowed_resources": [ORDERS, REPORTS],
        }))
        .await
}

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

/// What the authorization endpoint would hand over after sign-in and consent.
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

pub async fn code(server: &TestServer, grant: CodeGrant) -> String {
    issue_code(&server.state, grant, server.state.now())
        .await
        .expect("issue_code")
}

/// A token request as `client` makes it: Basic with its secret, or `client_id` when public.
pub fn token_request(
    server: &TestServer,
    client: &Client,
    form: &[(&str, &str)],
) -> RequestBuilder {
    let request = server.post("/token");
    match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)).form(form),
        None => {
            let mut form = form.to_vec();
            form.push(("client_id", &client.id));
            request.form(&form)
        }
    }
}

pub async fn token(server: &TestServer, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    send(token_request(server, client, form)).await
}

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

/// Signs `client` in with PKCE for `scope` (and `audience`) and returns the token response.
pub async fn sign_in(
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

pub async fn is_active(server: &TestServer, caller: &Client, token: &str) -> bool {
    let (status, info) = server.introspect(caller, token).await;
    assert_eq!(status, 200, "{info}");
    info["active"] == json!(true)
}

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
    let jwks = server.jwks().await;
    let published = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let jwk: Jwk = serde_json::from_value(published.clone()).expect("a JWK");
    let key = DecodingKey::from_jwk(&jwk).expect("a public key");
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

async fn web_app_exchanges_a_code_for_tokens(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = web_client(&server, "web app", json!({})).await;

    // OpenID sign-in with offline access: access, ID and refresh tokens, never cached.
    let p = pkce();
    let code = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let redirect = redirect_uri(&web);
    let (status, headers, body) = send_full(token_request(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &p.verifier),
        ],
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers, "code exchange");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid offline_access");
    assert!(body["refresh_token"].as_str().is_some(), "{body}");
    let id = validate_id_token(&server, &web, &body, Some(NONCE), Algorithm::RS256).await;
    // With no API named, the access token is for this server itself (userinfo).
    let access = body["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["aud"], server.base);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["client_id"], web.id);
    assert_eq!(claims["auth_time"], id["auth_time"]);
    assert!(claims["grant_id"].as_str().is_some(), "{claims}");
    let (status, info) = server.introspect(&web, access).await;
    assert_eq!((status, &info["active"]), (200, &json!(true)), "{info}");
    assert_eq!(info["sub"], USER);

    // An API named at authorization: the access token is for it.
    let body = sign_in(&server, &web, "openid offline_access read", &[ORDERS]).await;
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );
    // OIDC Core §11: without offline_access an OpenID sign-in gets no refresh token…
    let body = sign_in(&server, &web, "openid", &[]).await;
    assert!(body["id_token"].is_string() && body["refresh_token"].is_null());
    // …plain OAuth (no openid) gets one and no ID token…
    let body = sign_in(&server, &web, "read", &[ORDERS]).await;
    assert!(body["id_token"].is_null() && body["refresh_token"].is_string());
    // …and a client not registered for refresh_token never does.
    let no_refresh = web_client(
        &server,
        "no refresh",
        json!({ "grant_types": ["authorization_code"] }),
    )
    .await;
    let body = sign_in(&server, &no_refresh, "openid offline_access", &[]).await;
    assert!(body["id_token"].is_string() && body["refresh_token"].is_null());
    server.stop().await;
}

async fn public_client_exchanges_a_code_with_pkce(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let spa = spa_client(&server).await;
    assert!(spa.secret.is_none());
    let body = sign_in(&server, &spa, "openid offline_access report", &[REPORTS]).await;
    validate_id_token(&server, &spa, &body, Some(NONCE), Algorithm::RS256).await;
    assert!(body["refresh_token"].is_string(), "{body}");
    // An opaque API: only a random reference comes back.
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 1);
    server.stop().await;
}

async fn id_token_algorithm_follows_config(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.tokens.id_token_alg = SigningAlg::EdDSA).await;
    resources(&server).await;
    let web = web_client(&server, "web app", json!({})).await;
    let body = sign_in(&server, &web, "openid", &[]).await;
    // EdDSA (Ed25519): at_hash is the left half of SHA-512.
    validate_id_token(&server, &web, &body, Some(NONCE), Algorithm::EdDSA).await;
    server.stop().await;
}

async fn code_exchange_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = web_client(&server, "web app", json!({})).await;
    let other = web_client(&server, "other web app", json!({})).await;
    let spa = spa_client(&server).await;
    let lax = web_client(&server, "no pkce", json!({ "require_pkce": false })).await;
    let redirect = redirect_uri(&web);

    let p = pkce();
    let fresh = |client: &Client, with_pkce: bool| {
        let g = grant(&server, client, "openid", with_pkce.then_some(&p));
        code(&server, g)
    };

    // RFC 7636 §4.6: the verifier must match the challenge, and must be there.
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, Some(&pkce().verifier)).await;
    assert_error(s, &b, "invalid_grant", "wrong verifier");
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, None).await;
    assert_error(s, &b, "invalid_grant", "missing verifier");
    // RFC 7636 §4.1: a verifier too short to be one.
    let c = fresh(&web, true).await;
    let (s, b) = exchange(&server, &web, &c, Some("short")).await;
    assert_error(s, &b, "invalid_grant", "malformed verifier");

    // RFC 9700 §4.8.2: a verifier for a code issued without a challenge (PKCE downgrade).
    let c = fresh(&lax, false).await;
    let (s, b) = exchange(&server, &lax, &c, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "verifier without challenge");
    // The same client may redeem such a code without one: it opted out of PKCE…
    let c = fresh(&lax, false).await;
    let (s, b) = exchange(&server, &lax, &c, None).await;
    assert_eq!(s, 200, "{b}");
    // …but clients that require PKCE, and public clients, may not.
    for client in [&web, &spa] {
        let c = fresh(client, false).await;
        let (s, b) = exchange(&server, client, &c, None).await;
        assert_error(s, &b, "invalid_grant", "code without PKCE");
    }

    // RFC 9700 §2.1.1: plain is refused when the code is issued…
    for method in [Some("plain"), None] {
        let mut g = grant(&server, &web, "openid", Some(&p));
        g.code_challenge_method = method.map(str::to_string);
        let e = issue_code(&server.state, g, server.state.now())
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_request", "{method:?}");
    }
    // …and when a plain code reaches the token endpoint all the same.
    let plain = random_token();
    let now = server.state.now();
    server
        .state
        .store
        .insert_code(&CodeRow {
            code_hash: sha256_hex(&plain),
            grant_id: uuid::Uuid::new_v4().to_string(),
            client_id: web.id.clone(),
            user_id: USER.into(),
            redirect_uri: redirect.clone(),
            scope: "openid".into(),
            audience: "[]".into(),
            nonce: None,
            code_challenge: Some(p.verifier.clone()),
            code_challenge_method: Some("plain".into()),
            auth_time: now,
            sid: None,
            acr: None,
            issued_at: now,
            expires_at: now + 60,
            consumed_at: None,
        })
        .await
        .unwrap();
    let (s, b) = exchange(&server, &web, &plain, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "plain method");

    // RFC 6749 §4.1.3: redirect_uri identical to the authorization request's.
    let c = fresh(&web, true).await;
    let wrong = format!("{redirect}/other");
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", &wrong),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_grant", "wrong redirect_uri");
    // RFC 6749 §4.1.3: the code belongs to the client it was issued to.
    let c = fresh(&web, true).await;
    let (s, b) = token(
        &server,
        &other,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", &redirect),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_grant", "another client's code");
    let (s, b) = exchange(&server, &web, "never-issued", Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "unknown code");
    // RFC 6749 §4.1.3: code and redirect_uri are required.
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_request", "missing code");
    let c = fresh(&web, true).await;
    let (s, b) = token(
        &server,
        &web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_error(s, &b, "invalid_request", "missing redirect_uri");

    // RFC 6749 §4.1.2: the code expires shortly after it is issued.
    let c = fresh(&web, true).await;
    server
        .state
        .clock
        .advance(server.state.config.tokens.authorization_code_lifetime as i64 + 1);
    let (s, b) = exchange(&server, &web, &c, Some(&p.verifier)).await;
    assert_error(s, &b, "invalid_grant", "expired code");
    server.stop().await;
}

async fn replayed_code_revokes_its_grant(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = web_client(&server, "web app", json!({})).await;
    // One grant with a JWT access token, one with an opaque access token.
    for (scope, audience) in [("openid offline_access", None), ("report", Some(REPORTS))] {
        let p = pkce();
        let mut g = grant(&server, &web, scope, Some(&p));
        g.audience = audience.into_iter().map(str::to_string).collect();
        let code = code(&server, g).await;
        let (status, first) = exchange(&server, &web, &code, Some(&p.verifier)).await;
        assert_eq!(status, 200, "{first}");
        let access = first["access_token"].as_str().unwrap();
        let refresh = first["refresh_token"].as_str().unwrap();
        assert!(is_active(&server, &web, access).await);

        // RFC 6749 §4.1.2 / RFC 9700 §4.5: the replay fails and takes the grant with it.
        let (status, body) = exchange(&server, &web, &code, Some(&p.verifier)).await;
        assert_error(status, &body, "invalid_grant", scope);
        assert!(!is_active(&server, &web, access).await, "{scope}");
        assert!(!is_active(&server, &web, refresh).await, "{scope}");
        let (status, body) = token(
            &server,
            &web,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_error(status, &body, "invalid_grant", scope);
    }
    server.stop().await;
}

async fn concurrent_redemptions_have_one_winner(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = web_client(&server, "web app", json!({})).await;
    let p = pkce();
    let code = code(
        &server,
        grant(&server, &web, "openid offline_access", Some(&p)),
    )
    .await;
    let redirect = redirect_uri(&web);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", p.verifier.as_str()),
    ];
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(send(token_request(&server, &web, &form))))
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status != 200 {
            assert_error(status, &body, "invalid_grant", "a losing redemption");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    server.stop().await;
}

both_stores!(
    web_app_exchanges_a_code_for_tokens,
    public_client_exchanges_a_code_with_pkce,
    id_token_algorithm_follows_config,
    code_exchange_errors,
    replayed_code_revokes_its_grant,
    concurrent_redemptions_have_one_winner,
);
