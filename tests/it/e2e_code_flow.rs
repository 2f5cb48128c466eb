//! End to end, OpenID Connect Core §3.1 with PKCE (RFC 7636), RFC 9207 `iss` and RP-Initiated
//! Logout 1.0: headless Chromium signs a user in and consents, and lands on a page the test
//! serves; an independent relying party (the `openidconnect` crate, not our code) discovers the
//! server, builds the authorization request, exchanges the code, verifies the ID token against
//! the published JWKS, calls userinfo and refreshes; the browser then logs out.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken, CoreIdTokenClaims,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse,
    IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse,
};
use serde_json::json;
use url::Url;

use crate::both_stores;
use crate::browser::Browser;
use crate::fixtures::{PASSWORD, Registration, alice_named};
use crate::flows::param;
use crate::harness::{Client, TestDb, TestServer};

const USERNAME: &str = "alice";
const SCOPES: &str = "openid profile email offline_access";

/// A client's own web site on 127.0.0.1: the page the browser lands on after the
/// authorization server redirects, and after logout. It answers every path with a small page
/// and records what it was asked for.
struct AppSite {
    base: String,
    visits: Arc<Mutex<Vec<Url>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AppSite {
    const HEADING: &'static str = "Back at the app";

    async fn start() -> AppSite {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the app site");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let visits = Arc::new(Mutex::new(Vec::new()));
        let (recorded, origin) = (visits.clone(), base.clone());
        let page = move |uri: axum::http::Uri| {
            let visit = Url::parse(&format!("{origin}{uri}")).expect("a visited URL");
            recorded.lock().expect("visits").push(visit);
            async move {
                axum::response::Html(format!(
                    "<!doctype html><title>Photo prints</title><h1>{}</h1>",
                    AppSite::HEADING
                ))
            }
        };
        let app = axum::Router::new().fallback(page);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AppSite { base, visits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The last request the site served at `path` (the browser's landing, seen server side).
    fn last_visit(&self, path: &str) -> Url {
        self.visits
            .lock()
            .expect("visits")
            .iter()
            .rev()
            .find(|u| u.path() == path)
            .cloned()
            .unwrap_or_else(|| panic!("the app site never served {path}"))
    }
}

impl Drop for AppSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The client the relying-party library builds from discovery (authorization endpoint set,
/// token and userinfo endpoints as discovered).
type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: `openidconnect` configured by discovery, talking HTTP through reqwest.
struct RelyingParty {
    client: RpClient,
    end_session: EndSessionUrl,
    http: reqwest::Client,
}

type Sent = Pin<Box<dyn Future<Output = Result<HttpResponse, std::io::Error>> + Send>>;

/// `openidconnect`'s HTTP client: reqwest with redirects off (the library's advice).
fn http_client(http: &reqwest::Client) -> impl Fn(HttpRequest) -> Sent + '_ {
    move |request| Box::pin(send(http.clone(), request))
}

async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, std::io::Error> {
    let (parts, body) = request.into_parts();
    let mut outgoing = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body);
    outgoing = outgoing.timeout(std::time::Duration::from_secs(30));
    let response = outgoing.send().await.map_err(std::io::Error::other)?;
    let mut incoming = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        incoming = incoming.header(name, value);
    }
    let body = response.bytes().await.map_err(std::io::Error::other)?;
    incoming.body(body.to_vec()).map_err(std::io::Error::other)
}

/// One authorization request as the library built it, with what the RP keeps for the answer.
struct Authorization {
    url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

impl RelyingParty {
    /// OIDC Discovery 1.0 §4 against `server`, as `client` (with its secret when it has one)
    /// redirecting to `redirect_uri`.
    async fn discover(server: &TestServer, client: &Client, redirect_uri: &str) -> RelyingParty {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let issuer = IssuerUrl::new(server.base.clone()).expect("issuer URL");
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http_client(&http))
            .await
            .unwrap_or_else(|e| panic!("discovery failed: {e:?}"));
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .expect("end_session_endpoint in discovery");
        let rp = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            client.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into()).expect("redirect URI"));
        RelyingParty {
            client: rp,
            end_session,
            http,
        }
    }

    /// An authorization request for `SCOPES` with `state`, `nonce` and an S256 challenge.
    fn authorization(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in SCOPES.split(' ').filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.into()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Authorization {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// RFC 6749 §4.1.3 with the PKCE verifier.
    async fn exchange(&self, code: &str, verifier: PkceCodeVerifier) -> CoreTokenResponse {
        self.client
            .exchange_code(AuthorizationCode::new(code.into()))
            .expect("token endpoint discovered")
            .set_pkce_verifier(verifier)
            .request_async(&http_client(&self.http))
            .await
            .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"))
    }

    /// RFC 6749 §6; `Err` carries the error code of a refusal.
    async fn refresh(&self, token: &RefreshToken) -> Result<CoreTokenResponse, String> {
        let answer = self
            .client
            .exchange_refresh_token(token)
            .expect("token endpoint discovered")
            .request_async(&http_client(&self.http))
            .await;
        match answer {
            Ok(tokens) => Ok(tokens),
            Err(RequestTokenError::ServerResponse(e)) => Err(match e.error() {
                CoreErrorResponseType::InvalidGrant => "invalid_grant".into(),
                other => format!("{other:?}"),
            }),
            Err(e) => panic!("refresh request failed: {e:?}"),
        }
    }

    /// OIDC Core §3.1.3.7 by the library (signature against the discovered JWKS, `iss`, `aud`,
    /// `exp`, `iat`, `nonce`), then §3.1.3.8 `at_hash` against the access token.
    fn verify_id_token(&self, tokens: &CoreTokenResponse, nonce: &Nonce) -> CoreIdTokenClaims {
        let id_token: &CoreIdToken = tokens.id_token().expect("an ID token");
        let verifier = self.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, nonce)
            .unwrap_or_else(|e| panic!("ID token refused by the relying party: {e:?}"))
            .clone();
        let alg = id_token.signing_alg().expect("a signed ID token");
        let key = id_token.signing_key(&verifier).expect("its key in JWKS");
        let expected = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .expect("at_hash computable");
        assert_eq!(
            claims.access_token_hash(),
            Some(&expected),
            "at_hash binds the access token"
        );
        claims
    }

    /// OIDC Core §5.3, the response's `sub` checked against the ID token's by the library.
    async fn userinfo(
        &self,
        token: &AccessToken,
        claims: &CoreIdTokenClaims,
    ) -> CoreUserInfoClaims {
        self.client
            .user_info(token.clone(), Some(claims.subject().clone()))
            .expect("userinfo endpoint discovered")
            .request_async(&http_client(&self.http))
            .await
            .unwrap_or_else(|e| panic!("userinfo failed: {e:?}"))
    }

    /// RP-Initiated Logout 1.0 §2: the URL the RP sends the browser to.
    fn logout_url(&self, id_token: &CoreIdToken, after: &str, state: &str) -> Url {
        LogoutRequest::from(self.end_session.clone())
            .set_id_token_hint(id_token)
            .set_post_logout_redirect_uri(
                PostLogoutRedirectUrl::new(after.into()).expect("post-logout URI"),
            )
            .set_state(CsrfToken::new(state.into()))
            .http_get_url()
    }
}

/// A confidential server-side web app (client_secret_basic; PKCE too, as new clients require).
async fn web_app(server: &TestServer, site: &AppSite) -> Client {
    Registration::new("Photo prints", "web")
        .redirect_uris(&[site.url("/cb")])
        .set(
            "post_logout_redirect_uris",
            json!([site.url("/signed-out")]),
        )
        .set("scope", json!(SCOPES))
        .register(server)
        .await
}

/// A public single-page app (no secret, PKCE S256).
async fn spa(server: &TestServer, site: &AppSite) -> Client {
    Registration::new("Photo album", "spa")
        .public()
        .redirect_uris(&[site.url("/spa/cb")])
        .set("scope", json!(SCOPES))
        .register(server)
        .await
}

/// The sign-in page is showing: fill it in and submit.
async fn sign_in(browser: &Browser, client_name: &str) {
    assert_eq!(browser.text("h1").await, "Sign in");
    assert!(
        browser.text(".lead").await.contains(client_name),
        "the sign-in page names the client"
    );
    browser.fill("input[name=username]", USERNAME).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
}

/// The consent page is showing (waiting for it): check it, then press `decision`.
async fn consent(browser: &Browser, client_name: &str, decision: &str) {
    let button = format!("button[name=decision][value={decision}]");
    browser.find(&button).await;
    let heading = browser.text("h1").await;
    assert!(heading.contains(client_name), "{heading}");
    // Each requested scope in plain words (pages/views.rs).
    let scopes = browser.text("ul.scopes").await;
    for words in [
        "See your basic profile",
        "See your email address",
        "Stay connected",
    ] {
        assert!(scopes.contains(words), "{words:?} in {scopes}");
    }
    browser.click(&button).await;
}

/// Waits until the browser is at `path` on the app site, checks that the site served it and
/// shows its page, and returns the query parameters.
async fn landed(browser: &Browser, site: &AppSite, path: &str) -> Vec<(String, String)> {
    let url = browser
        .wait_for_url(|u| u.as_str().starts_with(&site.base) && u.path() == path)
        .await;
    assert_eq!(browser.text("h1").await, AppSite::HEADING);
    assert_eq!(site.last_visit(path), url, "the site saw the same redirect");
    url.query_pairs().into_owned().collect()
}

/// RFC 6749 §4.1.2 and RFC 9207 §2: a code, the RP's `state`, and our issuer.
fn code_from(query: &[(String, String)], auth: &Authorization, issuer: &str) -> String {
    assert_eq!(param(query, "state"), Some(auth.state.secret().as_str()));
    assert_eq!(param(query, "iss"), Some(issuer), "RFC 9207 iss");
    assert_eq!(param(query, "error"), None, "{query:?}");
    param(query, "code").expect("a code").to_string()
}

async fn browser_signs_in_and_a_relying_party_library_verifies_the_tokens(db: TestDb) {
    let test = "browser_signs_in_and_a_relying_party_library_verifies_the_tokens";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let server = TestServer::start(&db).await;
    let site = AppSite::start().await;
    let user = alice_named()
        .with(json!({
            "given_name": "Alice",
            "family_name": "Liddell",
            "email": "alice@example.com",
            "email_verified": true,
        }))
        .create(&server)
        .await;
    let sub = user["id"].as_str().expect("user id");
    let web = web_app(&server, &site).await;
    let spa_client = spa(&server, &site).await;
    let rp = RelyingParty::discover(&server, &web, &site.url("/cb")).await;

    // The browser signs in and consents, and lands on the app's redirect URI.
    let auth = rp.authorization();
    browser.goto(auth.url.as_str()).await;
    sign_in(&browser, "Photo prints").await;
    consent(&browser, "Photo prints", "allow").await;
    let query = landed(&browser, &site, "/cb").await;
    let code = code_from(&query, &auth, &server.base);

    // The RP exchanges the code (client_secret_basic + PKCE) and verifies the ID token.
    let tokens = rp.exchange(&code, auth.verifier).await;
    let scopes: Vec<String> = tokens
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    for scope in SCOPES.split(' ') {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    let claims = rp.verify_id_token(&tokens, &auth.nonce);
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.issuer().as_str(), server.base);
    assert_eq!(
        claims
            .audiences()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        [web.id.as_str()]
    );
    let auth_time = claims.auth_time().expect("auth_time");
    assert!(
        (auth_time.timestamp() - server.state.now()).abs() < 120,
        "auth_time is the sign-in just made"
    );

    // Userinfo with the access token: the user's claims.
    let info = rp.userinfo(tokens.access_token(), &claims).await;
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(
        info.preferred_username().map(|u| u.as_str()),
        Some(USERNAME)
    );
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Alice Liddell")
    );
    assert_eq!(
        info.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice")
    );
    assert_eq!(
        info.family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Liddell")
    );
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));

    // Refresh: a new refresh token (rotation) and a working access token.
    let first = tokens
        .refresh_token()
        .expect("a refresh token (offline_access)");
    let refreshed = rp.refresh(first).await.expect("refresh");
    let second = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(second.secret(), first.secret());
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let again = rp.userinfo(refreshed.access_token(), &claims).await;
    assert_eq!(again.subject().as_str(), sub);
    // The spent token is refused, and (RFC 9700 §4.14.2) its reuse ends the whole family.
    assert_eq!(
        rp.refresh(first).await.err().as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        rp.refresh(second).await.err().as_deref(),
        Some("invalid_grant"),
        "a replayed refresh token revokes its family"
    );

    // The public SPA, in the same browser: the session skips sign-in, consent is its own.
    let spa_rp = RelyingParty::discover(&server, &spa_client, &site.url("/spa/cb")).await;
    let spa_auth = spa_rp.authorization();
    browser.goto(spa_auth.url.as_str()).await;
    assert!(
        !browser.exists("input[name=password]").await,
        "signed in already"
    );
    consent(&browser, "Photo album", "allow").await;
    let query = landed(&browser, &site, "/spa/cb").await;
    let code = code_from(&query, &spa_auth, &server.base);
    let spa_tokens = spa_rp.exchange(&code, spa_auth.verifier).await;
    let spa_claims = spa_rp.verify_id_token(&spa_tokens, &spa_auth.nonce);
    assert_eq!(spa_claims.subject().as_str(), sub);
    let spa_refresh = spa_tokens.refresh_token().expect("a refresh token");
    let spa_refreshed = spa_rp.refresh(spa_refresh).await.expect("public refresh");
    assert!(spa_refreshed.refresh_token().is_some());
    assert_eq!(
        rp.refresh(spa_refreshed.refresh_token().unwrap())
            .await
            .err()
            .as_deref(),
        Some("invalid_grant"),
        "a refresh token is bound to its client"
    );

    // RP-initiated logout in the browser: back at the registered URI with the RP's state.
    let id_token = tokens.id_token().expect("ID token");
    let logout = rp.logout_url(id_token, &site.url("/signed-out"), "bye-7d1");
    browser.goto(logout.as_str()).await;
    let query = landed(&browser, &site, "/signed-out").await;
    assert_eq!(param(&query, "state"), Some("bye-7d1"));

    // The session is over: a new authorization asks to sign in again.
    let next = rp.authorization();
    browser.goto(next.url.as_str()).await;
    assert!(
        browser.exists("input[name=password]").await,
        "sign-in again"
    );
    assert_eq!(browser.text("h1").await, "Sign in");

    browser.close().await;
    server.stop().await;
}

async fn denied_consent_redirects_with_access_denied_and_allowed_consent_is_remembered(db: TestDb) {
    let test = "denied_consent_redirects_with_access_denied_and_allowed_consent_is_remembered";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let server = TestServer::start(&db).await;
    let site = AppSite::start().await;
    alice_named()
        .with(json!({
            "given_name": "Alice",
            "family_name": "Liddell",
            "email": "alice@example.com",
            "email_verified": true,
        }))
        .create(&server)
        .await;
    let spa_client = spa(&server, &site).await;
    let rp = RelyingParty::discover(&server, &spa_client, &site.url("/spa/cb")).await;

    // Deny: RFC 6749 §4.1.2.1 access_denied, with state and (RFC 9207) iss, and no code.
    let denied = rp.authorization();
    browser.goto(denied.url.as_str()).await;
    sign_in(&browser, "Photo album").await;
    consent(&browser, "Photo album", "deny").await;
    let query = landed(&browser, &site, "/spa/cb").await;
    assert_eq!(param(&query, "error"), Some("access_denied"));
    assert_eq!(param(&query, "state"), Some(denied.state.secret().as_str()));
    assert_eq!(param(&query, "iss"), Some(server.base.as_str()));
    assert_eq!(param(&query, "code"), None);

    // A refusal is not remembered: the next request asks again; this time the user allows.
    let allowed = rp.authorization();
    browser.goto(allowed.url.as_str()).await;
    assert!(
        !browser.exists("input[name=password]").await,
        "signed in already"
    );
    consent(&browser, "Photo album", "allow").await;
    let query = landed(&browser, &site, "/spa/cb").await;
    let code = code_from(&query, &allowed, &server.base);
    let tokens = rp.exchange(&code, allowed.verifier).await;
    rp.verify_id_token(&tokens, &allowed.nonce);

    // The same client and scopes again: no page at all, straight back with a code.
    let remembered = rp.authorization();
    browser.goto(remembered.url.as_str()).await;
    let query = landed(&browser, &site, "/spa/cb").await;
    let code = code_from(&query, &remembered, &server.base);
    let tokens = rp.exchange(&code, remembered.verifier).await;
    rp.verify_id_token(&tokens, &remembered.nonce);

    browser.close().await;
    server.stop().await;
}

both_stores!(
    browser_signs_in_and_a_relying_party_library_verifies_the_tokens,
    denied_consent_redirects_with_access_denied_and_allowed_consent_is_remembered,
);
