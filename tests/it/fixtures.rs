//! The named things tests register: users, clients (named for what they are, every one built
//! from one `Registration`), the APIs they call, and the protocol constants they send.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::admin::{Actor, users};
use portcullis::secret::sha256_hex;
use portcullis::store::{CodeRow, RefreshTokenRow};
use portcullis::users::UserRequest;
use serde_json::{Value, json};

use crate::harness::{Client, EcKey, TestDb, TestServer, merge};

/// Alice's password, and every fixture user's.
pub const PASSWORD: &str = "correct horse battery staple";
/// The user id that codes made by `flows::grant` carry (no user row behind it).
pub const USER: &str = "user-7f3a";
pub const NONCE: &str = "n-0S6_WzA2Mj";
/// An API with JWT access tokens (`read write`).
pub const ORDERS: &str = "https://orders.example.com";
/// An API with opaque access tokens (`report`).
pub const REPORTS: &str = "https://reports.example.com";
pub const WEB_CB: &str = "https://web.example.com/cb";
pub const SPA_CB: &str = "https://app.example.com/cb";
/// What the web app and the SPA may ask for.
pub const APP_SCOPES: &str = "openid profile offline_access read write report";
/// What the device client may ask for.
pub const DEVICE_SCOPES: &str = "openid profile offline_access read write";

/// RFC 8628 §3.4.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 7523 §2.1.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 7522 §2.1.
pub const SAML_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
/// RFC 8693 §2.1.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 7523 §2.2.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// OpenID Connect Back-Channel Logout 1.0 §2.4: the one event of a Logout Token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Restarts bind a new port; the issuer, as in production, stays the same.
pub fn fixed_issuer(config: &mut portcullis::config::Config) {
    config.issuer = Some("https://id.example.test".into());
}

/// The APIs: `ORDERS` (JWT access tokens) and `REPORTS` (opaque ones).
pub async fn resources(server: &TestServer) {
    server.resource(ORDERS, &["read", "write"], json!({})).await;
    reports_api(server).await;
}

/// `REPORTS`, an API with opaque access tokens and the one scope `report`.
pub async fn reports_api(server: &TestServer) {
    server
        .resource(
            REPORTS,
            &["report"],
            json!({ "access_token_format": "opaque" }),
        )
        .await;
}

/// A user as the admin API is asked to create it.
pub struct NewUser(Value);

/// `username` with `PASSWORD` and no claims.
pub fn user(username: &str) -> NewUser {
    NewUser(json!({ "username": username, "password": PASSWORD }))
}

/// alice with `PASSWORD` and no claims.
pub fn alice() -> NewUser {
    user("alice")
}

/// alice with an email address.
pub fn alice_with_email() -> NewUser {
    alice().with(json!({ "email": "alice@example.com" }))
}

/// alice with a name for the `profile` scope.
pub fn alice_named() -> NewUser {
    alice().with(json!({ "name": "Alice Liddell" }))
}

/// alice with a claim of every OpenID scope (OIDC Core §5.4).
pub fn alice_with_every_claim() -> NewUser {
    alice_named().with(json!({
        "given_name": "Alice",
        "family_name": "Liddell",
        "locale": "en-GB",
        "email": "alice@example.com",
        "email_verified": true,
        "phone_number": "+44 20 7946 0000",
        "phone_number_verified": false,
        "address": { "locality": "Oxford", "country": "GB" },
    }))
}

impl NewUser {
    /// Adds (or replaces) fields.
    pub fn with(mut self, extra: Value) -> NewUser {
        merge(&mut self.0, extra);
        self
    }

    pub fn json(self) -> Value {
        self.0
    }

    /// Creates the user; the admin API's answer.
    pub async fn create(self, server: &TestServer) -> Value {
        create_user(server, self.0).await
    }
}

/// Creates the user `body` describes, which must work; the admin API's answer.
pub async fn create_user(server: &TestServer, body: Value) -> Value {
    let (status, user) = server.admin_post("/users", body).await;
    assert_eq!(status, 201, "{user}");
    user
}

/// An IP address written as text.
pub fn ip(s: &str) -> std::net::IpAddr {
    s.parse().expect("an IP address")
}

/// alice's id, as the admin API lists her.
pub async fn alice_id(server: &TestServer) -> String {
    let (status, users) = server.admin_get("/users").await;
    assert_eq!(status, 200, "{users}");
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A user's id out of the admin API's answer.
pub fn id_of(user: &Value) -> String {
    user["id"].as_str().expect("id").to_string()
}

/// Client metadata as the admin API is asked to register it.
#[derive(Debug, Clone)]
pub struct Registration(Value);

impl Registration {
    /// A client called `name` of `profile` (`web`, `spa`, `device`, `service`, `api`).
    pub fn new(name: &str, profile: &str) -> Registration {
        Registration(json!({ "client_name": name, "profile": profile }))
    }

    pub fn redirect_uris<S: AsRef<str>>(self, uris: &[S]) -> Registration {
        self.set("redirect_uris", strings(uris))
    }

    pub fn scope(self, scope: &str) -> Registration {
        self.set("scope", json!(scope))
    }

    pub fn allowed_resources<S: AsRef<str>>(self, resources: &[S]) -> Registration {
        self.set("allowed_resources", strings(resources))
    }

    pub fn grant_types<S: AsRef<str>>(self, grants: &[S]) -> Registration {
        self.set("grant_types", strings(grants))
    }

    /// No secret (RFC 6749 §2.1 public client).
    pub fn public(self) -> Registration {
        self.set("token_endpoint_auth_method", json!("none"))
    }

    /// Any other metadata field.
    pub fn set(mut self, field: &str, value: Value) -> Registration {
        self.0[field] = value;
        self
    }

    /// Adds (or replaces) fields.
    pub fn with(mut self, extra: Value) -> Registration {
        merge(&mut self.0, extra);
        self
    }

    pub fn json(self) -> Value {
        self.0
    }

    pub async fn register(self, server: &TestServer) -> Client {
        server.client(self.0).await
    }
}

/// A JSON array of strings.
fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    json!(items.iter().map(AsRef::as_ref).collect::<Vec<&str>>())
}

/// A confidential web app (profile "web": code + refresh, client_secret_basic) on `WEB_CB`.
pub fn web_app(name: &str) -> Registration {
    Registration::new(name, "web")
        .redirect_uris(&[WEB_CB])
        .scope(APP_SCOPES)
        .allowed_resources(&[ORDERS, REPORTS])
}

/// `web_app(name)` with `extra` metadata, registered.
pub async fn confidential_client(server: &TestServer, name: &str, extra: Value) -> Client {
    web_app(name).with(extra).register(server).await
}

/// A public browser app (profile "spa", no secret) on `SPA_CB`.
pub fn spa_app() -> Registration {
    Registration::new("browser app", "spa")
        .public()
        .redirect_uris(&[SPA_CB])
        .scope(APP_SCOPES)
        .allowed_resources(&[ORDERS, REPORTS])
}

pub async fn public_spa_client(server: &TestServer) -> Client {
    spa_app().register(server).await
}

/// A public device client (profile "device": device_code + refresh_token, no secret).
pub async fn device_client(server: &TestServer, name: &str) -> Client {
    Registration::new(name, "device")
        .scope(DEVICE_SCOPES)
        .allowed_resources(&[ORDERS])
        .register(server)
        .await
}

/// The APIs, alice, and the public SPA client: what a browser sign-in needs.
pub async fn spa_with_alice(server: &TestServer) -> Client {
    resources(server).await;
    alice().create(server).await;
    public_spa_client(server).await
}

// ---- the JWT bearer grant (RFC 7523 §2.1): a trusted IdP and its client ----

pub const JWT_IDP: &str = "https://idp.example.test";

/// A server with an API (`read write admin`), a user alice, a client allowed `read write`
/// and the JWT bearer grant, and an IdP trusted for that client for `read` only.
pub struct JwtBearerSetup {
    pub server: TestServer,
    pub key: EcKey,
    pub client: Client,
    pub alice: Value,
    pub issuer: Value,
}

pub async fn jwt_bearer_setup(db: &TestDb, subject: &str) -> JwtBearerSetup {
    let server = TestServer::start(db).await;
    // Time checks sit on one-second boundaries.
    server.state.clock.freeze();
    server
        .resource(ORDERS, &["read", "write", "admin"], json!({}))
        .await;
    let client = server.client(jwt_bearer_client("orders job")).await;
    let (status, alice) = server
        .admin_post(
            "/users",
            json!({ "username": "alice", "email": "Alice@Example.test" }),
        )
        .await;
    assert_eq!(status, 201, "{alice}");
    let key = EcKey::generate("idp-key-1");
    let (status, issuer) = server
        .admin_post("/issuers", jwt_issuer(&key, &[&client.id], subject))
        .await;
    assert_eq!(status, 201, "{issuer}");
    JwtBearerSetup {
        server,
        key,
        client,
        alice,
        issuer,
    }
}

pub fn jwt_bearer_client(name: &str) -> Value {
    json!({
        "client_name": name,
        "profile": "service",
        "grant_types": [JWT_BEARER],
        "scope": "read write",
        "allowed_resources": [ORDERS],
    })
}

pub fn jwt_issuer(key: &EcKey, clients: &[&str], subject: &str) -> Value {
    json!({
        "kind": "jwt",
        "name": "Example IdP",
        "issuer": JWT_IDP,
        "jwks": { "keys": [key.jwk()] },
        "algorithms": ["ES256"],
        "allowed_clients": clients,
        "scopes": ["read"],
        "subject": subject,
    })
}

/// RFC 7523 §3 claims about `sub` for this server's token endpoint, living 60 s.
pub fn jwt_bearer_claims(server: &TestServer, sub: &str) -> Value {
    let now = server.state.now();
    json!({
        "iss": JWT_IDP,
        "sub": sub,
        "aud": server.state.endpoint("/token"),
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

// ---- the SAML bearer grant (RFC 7522 §2.1): a trusted IdP, its fixtures and its client ----

/// The server the fixtures were made for.
pub const SAML_AS: &str = "https://as.example.test";

pub const SAML_IDP: &str = "https://idp.example.test/saml";

/// 2030-01-01T00:00:00Z: the fixtures' reference time (valid from T − 60 s; the bearer
/// confirmation ends at T + 300 s, the Conditions at T + 600 s).
pub const SAML_T: i64 = 1_893_456_000;

pub fn saml_fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn saml_encoded(xml: &str) -> String {
    URL_SAFE_NO_PAD.encode(xml)
}

pub struct SamlBearerSetup {
    pub server: TestServer,
    pub client: Client,
    pub alice: Value,
    pub issuer: Value,
}

/// Moves the server's (frozen) clock to `T + offset`.
pub fn set_saml_clock(server: &TestServer, offset: i64) {
    let now = server.state.now();
    server.state.clock.advance(SAML_T + offset - now);
}

pub fn saml_issuer(clients: &[&str], subject: &str) -> Value {
    json!({
        "kind": "saml",
        "name": "Example IdP",
        "entity_id": SAML_IDP,
        "certificates": [saml_fixture("idp_cert.pem")],
        "allowed_clients": clients,
        "scopes": ["read"],
        "subject": subject,
    })
}

pub fn saml_bearer_client(name: &str) -> Value {
    json!({
        "client_name": name,
        "profile": "service",
        "grant_types": [SAML_BEARER],
        "scope": "read write",
        "allowed_resources": [ORDERS],
    })
}

pub async fn saml_bearer_setup(db: &TestDb) -> SamlBearerSetup {
    let server = TestServer::start_with(db, |c| c.issuer = Some(SAML_AS.into())).await;
    server.state.clock.freeze();
    set_saml_clock(&server, 10);
    server.resource(ORDERS, &["read", "write"], json!({})).await;
    let client = server.client(saml_bearer_client("orders job")).await;
    let (status, alice) = server
        .admin_post(
            "/users",
            json!({ "username": "alice", "email": "alice@example.test" }),
        )
        .await;
    assert_eq!(status, 201, "{alice}");
    let (status, issuer) = server
        .admin_post("/issuers", saml_issuer(&[&client.id], "email"))
        .await;
    assert_eq!(status, 201, "{issuer}");
    SamlBearerSetup {
        server,
        client,
        alice,
        issuer,
    }
}

// ---- private_key_jwt clients (RFC 7523 §2.2) ----

pub fn jwks_of(keys: &[&EcKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// RFC 7523 §3 client_assertion_claims for `client` at `now` (the server's clock), living 60 s.
pub fn client_assertion_claims(client: &Client, aud: &str, now: i64) -> Value {
    json!({
        "iss": client.id,
        "sub": client.id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub async fn private_key_jwt_client(server: &TestServer, keys: Value) -> Client {
    server.resource(ORDERS, &["read"], json!({})).await;
    let mut body = json!({
        "client_name": "signing job",
        "profile": "service",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": "read",
        "allowed_resources": [ORDERS],
    });
    let field = if keys.is_string() { "jwks_uri" } else { "jwks" };
    body[field] = keys;
    server.client(body).await
}

// ---- rows written straight to the store ----

pub async fn stored_user(server: &TestServer, name: &str) -> String {
    let req = UserRequest {
        username: Some(name.into()),
        password: None,
        disabled: None,
        claims: None,
    };
    users::create(
        &server.state.store,
        &server.state.passwords,
        &Actor::cli(),
        req,
        server.state.now(),
    )
    .await
    .expect("user")
    .id
}

pub fn code_row(name: &str, client_id: &str, user_id: &str, now: i64, expires_at: i64) -> CodeRow {
    CodeRow {
        code_hash: sha256_hex(name),
        grant_id: format!("grant-{name}"),
        client_id: client_id.into(),
        user_id: user_id.into(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid".into(),
        audience: "[]".into(),
        nonce: None,
        code_challenge: None,
        code_challenge_method: None,
        auth_time: now,
        sid: None,
        acr: None,
        issued_at: now,
        expires_at,
        consumed_at: None,
    }
}

pub fn refresh_row(
    name: &str,
    client_id: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> RefreshTokenRow {
    RefreshTokenRow {
        token_hash: sha256_hex(name),
        grant_id: format!("grant-{name}"),
        client_id: client_id.into(),
        subject: user_id.into(),
        scope: "openid".into(),
        audience: "[]".into(),
        claims: "{}".into(),
        issued_at: now,
        expires_at,
        family_expires_at: expires_at,
        consumed_at: None,
    }
}
