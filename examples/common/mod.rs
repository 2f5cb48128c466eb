//! What every example shares: where the server is and its admin API, printing, the HTTP
//! client the `openidconnect` crate talks through, and a loopback redirect listener.
//! Each example includes this file with `#[path = "common/mod.rs"] mod common;`.

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The demo user's password. Every example registers its own user with it.
pub const DEMO_PASSWORD: &str = "correct horse battery staple";

/// A running Portcullis: its URL, an admin token, and an HTTP client.
pub struct Portcullis {
    pub base: String,
    admin_token: String,
    pub http: reqwest::Client,
    /// A short random tag that keeps this run's names apart from earlier runs' on the server.
    pub run: String,
}

impl Portcullis {
    /// `PORTCULLIS_URL` (default `http://127.0.0.1:8080`) and `PORTCULLIS_ADMIN_TOKEN`.
    pub fn from_env() -> anyhow::Result<Portcullis> {
        let base = std::env::var("PORTCULLIS_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_string();
        let admin_token = std::env::var("PORTCULLIS_ADMIN_TOKEN")
            .context("set PORTCULLIS_ADMIN_TOKEN to the admin token the server was started with")?;
        // Redirects off: an OAuth client reads redirects, it does not follow them.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        Ok(Portcullis {
            base,
            admin_token,
            http,
            run,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs JSON to the admin API (`/admin{path}`) and returns the created object.
    pub async fn admin(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(self.url(&format!("/admin{path}")))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("is Portcullis running at {}?", self.base))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST /admin{path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Registers a client; returns its id and secret (a public client has none).
    pub async fn register_client(
        &self,
        metadata: Value,
    ) -> anyhow::Result<(String, Option<String>)> {
        let created = self.admin("/clients", metadata).await?;
        let id = created["client_id"]
            .as_str()
            .context("client_id")?
            .to_string();
        let secret = created["client_secret"].as_str().map(str::to_string);
        Ok((id, secret))
    }

    /// Registers a demo user, `alice-<run>` with `DEMO_PASSWORD`; returns the username.
    pub async fn register_user(&self) -> anyhow::Result<String> {
        let username = format!("alice-{}", self.run);
        self.admin(
            "/users",
            json!({
                "username": username,
                "password": DEMO_PASSWORD,
                "name": "Alice Liddell",
                "email": format!("{username}@example.com"),
                "email_verified": true,
            }),
        )
        .await?;
        Ok(username)
    }

    /// OpenID Connect Discovery 1.0 §4, by the `openidconnect` crate.
    pub async fn discover(&self) -> anyhow::Result<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.base.clone())?;
        CoreProviderMetadata::discover_async(issuer, &http_client(&self.http))
            .await
            .map_err(|e| anyhow::anyhow!("discovery failed: {e:?}"))
    }

    /// An `openidconnect` client for `client_id` built from discovery.
    pub async fn relying_party(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
    ) -> anyhow::Result<RelyingParty> {
        let metadata = self.discover().await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into())?))
    }

    /// POSTs a form to `/token`, with HTTP Basic client authentication when `secret` is given;
    /// returns the JSON answer of a 200, or fails with the server's error.
    pub async fn token(
        &self,
        client_id: &str,
        secret: Option<&str>,
        form: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let mut request = self.http.post(self.url("/token"));
        let mut fields = form.to_vec();
        match secret {
            Some(secret) => request = request.basic_auth(client_id, Some(secret)),
            None => fields.push(("client_id", client_id)),
        }
        let response = request.form(&fields).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("the token endpoint refused ({status}): {body}");
        }
        Ok(body)
    }
}

/// The client `from_provider_metadata` builds: authorization endpoint set; token and userinfo
/// endpoints as discovered.
pub type RelyingParty = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type Sent = Pin<Box<dyn Future<Output = Result<HttpResponse, std::io::Error>> + Send>>;

/// `openidconnect` brings no HTTP client of its own here: this adapts reqwest to it.
pub fn http_client(http: &reqwest::Client) -> impl Fn(HttpRequest) -> Sent + '_ {
    move |request| Box::pin(send(http.clone(), request))
}

async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, std::io::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let mut incoming = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        incoming = incoming.header(name, value);
    }
    let body = response.bytes().await.map_err(std::io::Error::other)?;
    incoming.body(body.to_vec()).map_err(std::io::Error::other)
}

/// Prints a numbered step.
pub fn step(text: &str) {
    println!("\n==> {text}");
}

/// Prints a JSON value under a label, indented.
pub fn show(label: &str, value: &Value) {
    println!("\n{label}:");
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    for line in pretty.lines() {
        println!("    {line}");
    }
}

/// The claims of a JWT, decoded but not verified (only for showing them).
pub fn jwt_claims(token: &str) -> anyhow::Result<Value> {
    let payload = token.split('.').nth(1).context("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

/// Tells the user where to sign in. (The test that runs the examples reads these lines.)
pub fn ask_to_sign_in(url: &str, username: &str) {
    println!("    Open this URL in a browser:");
    println!("    {url}");
    println!("    Sign in as username \"{username}\", password \"{DEMO_PASSWORD}\".");
}

/// A redirect URI on the loopback interface (RFC 8252 §7.3): a port of our own on 127.0.0.1,
/// where the browser brings the authorization response.
pub struct Loopback {
    listener: tokio::net::TcpListener,
    pub redirect_uri: String,
}

impl Loopback {
    /// Listens on 127.0.0.1 on a port the system picks, for requests to `path`.
    pub async fn bind(path: &str) -> anyhow::Result<Loopback> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let redirect_uri = format!("http://{}{path}", listener.local_addr()?);
        Ok(Loopback {
            listener,
            redirect_uri,
        })
    }

    /// Waits (up to five minutes) for the browser to arrive at the redirect URI; answers it
    /// with a small page and returns the query parameters. Other paths (a favicon) get 404.
    pub async fn wait_for_redirect(self) -> anyhow::Result<Vec<(String, String)>> {
        tokio::time::timeout(Duration::from_secs(300), self.accept_redirect())
            .await
            .context("nobody came back to the redirect URI within five minutes")?
    }

    async fn accept_redirect(&self) -> anyhow::Result<Vec<(String, String)>> {
        let path = url::Url::parse(&self.redirect_uri)?.path().to_string();
        loop {
            let (mut socket, _) = self.listener.accept().await?;
            // A browser may open a connection and send nothing (a preconnect): skip it.
            let read = read_request_target(&mut socket);
            let Ok(Ok(target)) = tokio::time::timeout(Duration::from_secs(5), read).await else {
                continue;
            };
            let url = url::Url::parse(&format!("http://127.0.0.1{target}"))?;
            if url.path() != path {
                let not_found =
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                socket.write_all(not_found.as_bytes()).await?;
                continue;
            }
            let page = "<!doctype html><title>Done</title>\
                        <p>Signed in. You can close this window and go back to the terminal.";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                page.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(page.as_bytes()).await?;
            return Ok(url.query_pairs().into_owned().collect());
        }
    }
}

/// Reads an HTTP request's head and returns its target (`/callback?code=…`).
async fn read_request_target(socket: &mut tokio::net::TcpStream) -> anyhow::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            bail!("a malformed request at the redirect URI");
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .split_whitespace()
        .nth(1)
        .context("no request target")?;
    Ok(target.to_string())
}

/// One parameter of an authorization response.
pub fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// RFC 6749 §4.1.2: checks `state` (and RFC 9207 `iss`), fails on an error response, and
/// returns the code.
pub fn code_from(query: &[(String, String)], state: &str, issuer: &str) -> anyhow::Result<String> {
    if let Some(error) = param(query, "error") {
        bail!(
            "the authorization server answered {error}: {}",
            param(query, "error_description").unwrap_or("")
        );
    }
    if param(query, "state") != Some(state) {
        bail!("state does not match: not the answer to our request");
    }
    if param(query, "iss") != Some(issuer) {
        bail!("iss does not name our authorization server (RFC 9207)");
    }
    Ok(param(query, "code").context("no code")?.to_string())
}

/// The whole browser sign-in of `native_pkce_loopback.rs` in one call, for the examples about
/// what comes after it: a loopback redirect, PKCE, the user at the browser, the code exchange
/// and the ID token check. `client_id` is a public `native` client registered with
/// `http://127.0.0.1/callback`; `extra` adds authorization request parameters (`resource`).
pub async fn sign_in_with_browser(
    server: &Portcullis,
    client_id: &str,
    username: &str,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> anyhow::Result<(RelyingParty, CoreTokenResponse)> {
    let callback = Loopback::bind("/callback").await?;
    let app = server
        .relying_party(client_id, None, &callback.redirect_uri)
        .await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = app.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in scopes.iter().filter(|s| **s != "openid") {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(name.to_string(), value.to_string());
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    ask_to_sign_in(url.as_str(), username);
    let answer = callback.wait_for_redirect().await?;
    let code = code_from(&answer, state.secret(), &server.base)?;
    let tokens = app
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http_client(&server.http))
        .await
        .map_err(|e| anyhow::anyhow!("code exchange failed: {e:?}"))?;
    tokens
        .id_token()
        .context("no ID token")?
        .claims(&app.id_token_verifier(), &nonce)
        .map_err(|e| anyhow::anyhow!("the ID token does not verify: {e}"))?;
    Ok((app, tokens))
}
