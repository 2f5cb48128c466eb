//! The browser-page infrastructure: templates (built-in and overridden), the defences every
//! page is sent with, sessions kept in the store, and the CSRF check on forms.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use portcullis::pages::{self, Page, Templates, templates as tpl, views};
use portcullis::secret::sha256_hex;
use portcullis::session;
use portcullis::store::Store;

use crate::both_stores;
use crate::harness::{Backend, TestDb, TestServer, config_for};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn signin_view() -> views::SignIn {
    views::SignIn {
        client_name: "Photo Prints".into(),
        action: "/authorize".into(),
        csrf_token: "csrf-value-123".into(),
        hidden: vec![views::Hidden {
            name: "request_id".into(),
            value: "req-42".into(),
        }],
        username: "alice".into(),
        error: Some("The username or password is not correct.".into()),
    }
}

fn consent_view() -> views::Consent {
    views::Consent {
        client_name: "Photo Prints".into(),
        logo_uri: views::https_logo(Some("https://prints.example/logo.png")),
        username: "alice".into(),
        scopes: vec![
            views::describe_scope("openid", None),
            views::describe_scope("email", None),
            views::describe_scope("photos:read", Some(("Photo API", "View your photos"))),
        ],
        action: "/authorize".into(),
        csrf_token: "csrf-value-123".into(),
        hidden: vec![],
    }
}

/// What every page must be: accessible basics, and nothing active or external.
fn assert_page_basics(html: &str, what: &str) {
    assert!(html.starts_with("<!doctype html>"), "{what}: {html}");
    assert!(html.contains("<html lang=\"en\">"), "{what}");
    assert!(html.contains("name=\"viewport\""), "{what}");
    assert!(
        html.contains(":focus-visible"),
        "{what}: focus must be visible"
    );
    assert!(!html.contains("<script"), "{what}: no JavaScript");
    assert!(!html.contains("<link"), "{what}: no external assets");
    assert!(
        !html.contains(" style=\""),
        "{what}: CSS only in the <style> block"
    );
}

#[test]
fn every_template_renders_with_a_representative_context() {
    let t = Templates::load(None).expect("built-in templates");

    let html = t.render(tpl::SIGNIN, &signin_view()).expect("signin");
    assert_page_basics(&html, "signin");
    assert!(
        html.contains("<title>Sign in to Photo Prints</title>"),
        "{html}"
    );
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("The username or password is not correct."));
    assert!(html.contains("<label for=\"username\">") && html.contains("id=\"username\""));
    assert!(html.contains("<label for=\"password\">") && html.contains("id=\"password\""));
    assert!(
        html.contains("name=\"csrf_token\" value=\"csrf-value-123\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"request_id\" value=\"req-42\""),
        "{html}"
    );
    assert!(html.contains("value=\"alice\""));

    let no_error = views::SignIn {
        error: None,
        ..signin_view()
    };
    let html = t
        .render(tpl::SIGNIN, &no_error)
        .expect("signin without error");
    assert!(!html.contains("role=\"alert\""), "{html}");

    let html = t.render(tpl::CONSENT, &consent_view()).expect("consent");
    assert_page_basics(&html, "consent");
    assert!(html.contains("Photo Prints"));
    // minijinja's HTML escaping also encodes `/`, which the browser decodes back.
    assert!(
        html.contains("src=\"https:&#x2f;&#x2f;prints.example&#x2f;logo.png\""),
        "{html}"
    );
    for words in [
        "Sign you in",
        "See your email address",
        "View your photos",
        "Photo API",
    ] {
        assert!(html.contains(words), "consent lacks {words:?}: {html}");
    }
    assert!(html.contains("value=\"allow\"") && html.contains("value=\"deny\""));
    let no_logo = views::Consent {
        logo_uri: views::https_logo(Some("http://prints.example/logo.png")),
        ..consent_view()
    };
    let html = t
        .render(tpl::CONSENT, &no_logo)
        .expect("consent without logo");
    assert!(!html.contains("<img"), "{html}");

    let html = t
        .render(
            tpl::ERROR,
            &views::ErrorView::new(
                "Unknown application",
                "The application that sent you here is not registered.",
            ),
        )
        .expect("error");
    assert_page_basics(&html, "error");
    assert!(html.contains("<h1>Unknown application</h1>"), "{html}");
    assert!(html.contains("is not registered."));

    let html = t
        .render(tpl::SIGNED_OUT, &views::SignedOut {})
        .expect("signed out");
    assert_page_basics(&html, "signed_out");
    assert!(html.contains("You are signed out"), "{html}");

    let html = t
        .render(tpl::BASE, &minijinja::context! {})
        .expect("base alone");
    assert!(html.contains("<main>"), "{html}");
}

#[test]
fn templates_escape_what_they_are_given() {
    let t = Templates::load(None).unwrap();
    let view = views::SignIn {
        client_name: "<script>alert(1)</script>".into(),
        hidden: vec![views::Hidden {
            name: "x".into(),
            value: "\" autofocus onfocus=\"alert(1)".into(),
        }],
        ..signin_view()
    };
    let html = t.render(tpl::SIGNIN, &view).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("\" autofocus"), "{html}");
}

#[test]
fn a_missing_variable_fails_to_render() {
    // UndefinedBehavior::Strict: a page never renders with a hole where a value should be.
    let t = Templates::load(None).unwrap();
    let err = t
        .render(
            tpl::SIGNIN,
            &minijinja::context! { client_name => "App", action => "/x", csrf_token => "t",
            hidden => Vec::<String>::new(), username => "" },
        )
        .expect_err("`error` is missing");
    assert!(err.to_string().contains("undefined"), "{err}");
    t.render(tpl::ERROR, &minijinja::context! { title => "only a title" })
        .expect_err("`explanation` is missing");
    t.render(tpl::CONSENT, &minijinja::context! {})
        .expect_err("everything is missing");
}

#[tokio::test]
async fn an_override_directory_replaces_one_template() {
    let db = Backend::Sqlite.db("override").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("signed_out.html"),
        "{% extends \"base.html\" %}{% block title %}Goodbye{% endblock %}\
         {% block content %}<h1>See you soon at Example Corp</h1>{% endblock %}",
    )
    .unwrap();
    let server = TestServer::start_with(&db, |c| c.templates_dir = Some(dir.path().into())).await;

    let response = server.get(pages::SIGNED_OUT_PATH).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("See you soon at Example Corp"), "{html}");
    assert!(!html.contains("You are signed out"), "{html}");
    // The layout it extends is still the built-in one.
    assert!(html.contains(":focus-visible"), "{html}");

    // The others stay built in.
    let error = server
        .state
        .templates
        .render(tpl::ERROR, &views::ErrorView::new("T", "E"))
        .unwrap();
    assert!(error.contains("You can close this page"), "{error}");
    server.stop().await;
}

#[tokio::test]
async fn a_template_that_does_not_parse_fails_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("signin.html");
    std::fs::write(
        &file,
        "{% extends \"base.html\" %}{% block content %}{% if %}{% endblock %}",
    )
    .unwrap();
    let err = Templates::load(Some(dir.path())).expect_err("syntax error");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    // The server refuses to start with it.
    let db = Backend::Sqlite.db("broken override").await.unwrap();
    let mut config = config_for(&db);
    config.templates_dir = Some(dir.path().into());
    let err = portcullis::bootstrap(config)
        .await
        .err()
        .expect("start-up fails");
    assert!(format!("{err:#}").contains("signin.html"), "{err:#}");
}

#[test]
fn a_template_naming_a_variable_the_page_lacks_fails_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("consent.html");
    std::fs::write(&file, "<p>{{ client_name }} {{ no_such_value }}</p>").unwrap();
    let err = Templates::load(Some(dir.path())).expect_err("undefined variable");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    // A broken layout is named as itself, not as the page that extends it.
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.html");
    std::fs::write(
        &base,
        "<html>{{ company_name }}{% block content %}{% endblock %}</html>",
    )
    .unwrap();
    let err = Templates::load(Some(dir.path())).expect_err("undefined variable in layout");
    assert!(
        err.to_string().contains(&base.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn the_signed_out_page_carries_the_security_headers() {
    let db = Backend::Sqlite.db("signed out headers").await.unwrap();
    let server = TestServer::start(&db).await;
    let response = server.get(pages::SIGNED_OUT_PATH).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.get("set-cookie").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("You are signed out"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn the_error_page_has_its_status_and_no_detail() {
    let db = Backend::Sqlite.db("error page").await.unwrap();
    let server = TestServer::start(&db).await;
    let response = pages::error_page(
        &server.state,
        StatusCode::BAD_REQUEST,
        "Unknown application",
        "The application that sent you here is not registered.",
    );
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let h = response.headers().clone();
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains("<h1>Unknown application</h1>"), "{html}");

    // A refused form gets the error page too, with the reason only in the log.
    let response =
        pages::PageError::Csrf("CSRF token does not match the cookie").page(&server.state);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains("This form has expired"), "{html}");
    assert!(!html.contains("does not match"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn a_page_may_let_its_forms_lead_to_the_client() {
    let db = Backend::Sqlite.db("form targets").await.unwrap();
    let server = TestServer::start(&db).await;
    let (_, cookie) = pages::csrf_token(&server.state, &HeaderMap::new());
    let page = Page::new(&server.state, tpl::SIGNIN, &signin_view())
        .allow_form_target("https://prints.example/callback?x=1")
        .allow_form_target("https://prints.example/other")
        .allow_form_target("javascript:alert(1)")
        .with_cookie(cookie.clone());
    assert_eq!(
        page.content_security_policy(),
        CSP.replace(
            "form-action 'self';",
            "form-action 'self' https://prints.example;"
        )
    );
    let response = page.into_response();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["set-cookie"], cookie.unwrap());

    // A page whose template fails to render is a plain 500, still with the defences.
    let broken = Page::new(&server.state, tpl::SIGNIN, &minijinja::context! {}).into_response();
    assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(broken.headers()["content-security-policy"], CSP);
    server.stop().await;
}

/// The `name=value` of a `Set-Cookie`, as a browser would send it back.
fn cookie_pair(set_cookie: &HeaderValue) -> String {
    let text = set_cookie.to_str().unwrap();
    text.split(';').next().unwrap().to_string()
}

fn request_with_cookies(cookies: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_str(&cookies.join("; ")).unwrap(),
    );
    h
}

#[tokio::test]
async fn csrf_token_is_set_once_and_then_reused() {
    let db = Backend::Sqlite.db("csrf issue").await.unwrap();
    let server = TestServer::start(&db).await;
    let (token, set) = pages::csrf_token(&server.state, &HeaderMap::new());
    let set = set.expect("a first visit gets the cookie");
    assert_eq!(token.len(), 43);
    assert_eq!(
        set,
        format!("portcullis_csrf={token}; Path=/; HttpOnly; SameSite=Strict")
    );

    let again = request_with_cookies(&["other=1", &cookie_pair(&set)]);
    let (same, none) = pages::csrf_token(&server.state, &again);
    assert_eq!(
        same, token,
        "the cookie's token is reused: other tabs keep working"
    );
    assert!(none.is_none());

    // A cookie that is not one of our tokens is replaced.
    let junk = request_with_cookies(&["portcullis_csrf=short"]);
    let (fresh, set) = pages::csrf_token(&server.state, &junk);
    assert_ne!(fresh, "short");
    assert!(set.is_some());
    server.stop().await;
}

#[test]
fn csrf_accepts_only_a_matching_pair() {
    let token = portcullis::secret::random_token();
    let good = request_with_cookies(&[&format!("portcullis_csrf={token}")]);
    assert!(pages::verify_csrf(&good, &token).is_ok());

    let other = portcullis::secret::random_token();
    let cases: [(&str, HeaderMap, &str); 6] = [
        ("no cookie (a cross-site post)", HeaderMap::new(), &token),
        ("wrong field", good.clone(), &other),
        ("empty field", good.clone(), ""),
        (
            "empty cookie and empty field",
            request_with_cookies(&["portcullis_csrf="]),
            "",
        ),
        (
            "a second cookie planted beside ours",
            request_with_cookies(&[
                &format!("portcullis_csrf={token}"),
                &format!("portcullis_csrf={other}"),
            ]),
            &token,
        ),
        ("a prefix of the token", good.clone(), &token[..20]),
    ];
    for (what, headers, field) in cases {
        let err = pages::verify_csrf(&headers, field).expect_err(what);
        assert!(matches!(err, pages::PageError::Csrf(_)), "{what}: {err}");
    }
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_issuer() {
    let db = Backend::Sqlite.db("secure cookies").await.unwrap();
    let server =
        TestServer::start_with(&db, |c| c.issuer = Some("https://id.example.test".into())).await;
    insert_user(&server, "u-1", false).await;
    let (_, set) = session::create_session(&server.state, "u-1", 0, server.state.now())
        .await
        .unwrap();
    let text = set.to_str().unwrap();
    assert!(
        text.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure"),
        "{text}"
    );
    let (_, csrf) = pages::csrf_token(&server.state, &HeaderMap::new());
    assert!(
        csrf.unwrap()
            .to_str()
            .unwrap()
            .ends_with("; SameSite=Strict; Secure")
    );
    let cleared = session::end_session(&server.state, &HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(
        cleared,
        "portcullis_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
    );
    server.stop().await;
}

/// A user row, written straight to the schema (sessions reference users).
async fn insert_user(server: &TestServer, id: &str, disabled: bool) {
    let sql = "INSERT INTO users (id, username, password_hash, claims, disabled, created_at, \
               updated_at) VALUES ($1, $2, NULL, '{}', $3, 0, 0)";
    match &server.state.store {
        Store::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(id)
                .bind(id)
                .bind(disabled)
                .execute(pool)
                .await
                .unwrap();
        }
        Store::Postgres(pool) => {
            sqlx::query(sql)
                .bind(id)
                .bind(id)
                .bind(disabled)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

async fn session_hashes(server: &TestServer) -> Vec<String> {
    let sql = "SELECT id_hash FROM sessions ORDER BY id_hash";
    match &server.state.store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    }
}

/// Signs `user` in and returns the request headers a browser would then send.
async fn signed_in(server: &TestServer, user: &str, auth_time: i64) -> (HeaderMap, String) {
    let (created, set) =
        session::create_session(&server.state, user, auth_time, server.state.now())
            .await
            .unwrap();
    let pair = cookie_pair(&set);
    let value = pair
        .strip_prefix("portcullis_session=")
        .unwrap()
        .to_string();
    assert_eq!(created.id_hash, sha256_hex(&value));
    (request_with_cookies(&[&pair]), value)
}

async fn short_sessions(db: &TestDb) -> TestServer {
    let server = TestServer::start_with(db, |c| {
        c.session.idle_lifetime = 100;
        c.session.absolute_lifetime = 250;
    })
    .await;
    // The idle checks sit on one-second boundaries.
    server.state.clock.freeze();
    server
}

async fn session_lives_while_used_and_ends_when_idle(db: TestDb) {
    let server = short_sessions(&db).await;
    insert_user(&server, "u-alice", false).await;
    let auth_time = server.state.now() - 5;
    let (browser, value) = signed_in(&server, "u-alice", auth_time).await;

    // Only the digest of the cookie is stored.
    assert_eq!(session_hashes(&server).await, vec![sha256_hex(&value)]);

    let now = server.state.now();
    let s = session::current_session(&server.state, &browser, now)
        .await
        .unwrap()
        .expect("a fresh session");
    assert_eq!(s.user_id, "u-alice");
    assert_eq!(s.auth_time, auth_time);
    assert_eq!(s.expires_at, s.last_seen_at + 250);

    // Each use restarts the idle time.
    for _ in 0..2 {
        server.state.clock.advance(99);
        let s = session::current_session(&server.state, &browser, server.state.now())
            .await
            .unwrap()
            .expect("used within the idle lifetime");
        assert_eq!(s.last_seen_at, server.state.now());
    }
    // A use within a tenth of the idle lifetime of the last written one is read, not written
    // (`session::touch_interval`)...
    let marked = server.state.now();
    server.state.clock.advance(9);
    let s = session::current_session(&server.state, &browser, server.state.now())
        .await
        .unwrap()
        .expect("used within the idle lifetime");
    assert_eq!(s.last_seen_at, marked, "not written again within 10 s");
    // ...so the idle time runs from the last written use: the session ends early, never late.
    server.state.clock.advance(91);
    let gone = session::current_session(&server.state, &browser, server.state.now())
        .await
        .unwrap();
    assert!(gone.is_none(), "idle for idle_lifetime: {gone:?}");
    assert!(
        session_hashes(&server).await.is_empty(),
        "the dead row is removed"
    );

    // A browser with no cookie, or a cookie we never issued, has no session.
    let none = session::current_session(&server.state, &HeaderMap::new(), server.state.now())
        .await
        .unwrap();
    assert!(none.is_none());
    let forged = request_with_cookies(&[&format!(
        "portcullis_session={}",
        portcullis::secret::random_token()
    )]);
    assert!(
        session::current_session(&server.state, &forged, server.state.now())
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}

async fn session_ends_at_its_absolute_lifetime(db: TestDb) {
    let server = short_sessions(&db).await;
    insert_user(&server, "u-bob", false).await;
    let (browser, _) = signed_in(&server, "u-bob", server.state.now()).await;
    // Kept busy, it still ends 250 s after it began.
    for step in [90, 90, 69] {
        server.state.clock.advance(step);
        assert!(
            session::current_session(&server.state, &browser, server.state.now())
                .await
                .unwrap()
                .is_some(),
            "before the absolute end"
        );
    }
    server.state.clock.advance(1);
    assert!(
        session::current_session(&server.state, &browser, server.state.now())
            .await
            .unwrap()
            .is_none(),
        "at the absolute end"
    );
    server.stop().await;
}

async fn session_ends_when_signed_out(db: TestDb) {
    let server = TestServer::start(&db).await;
    insert_user(&server, "u-carol", false).await;
    let (browser, _) = signed_in(&server, "u-carol", server.state.now()).await;
    let (other_browser, _) = signed_in(&server, "u-carol", server.state.now()).await;

    let cleared = session::end_session(&server.state, &browser).await.unwrap();
    assert_eq!(
        cleared,
        "portcullis_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    );
    let now = server.state.now();
    assert!(
        session::current_session(&server.state, &browser, now)
            .await
            .unwrap()
            .is_none()
    );
    // Only that browser's session ended.
    assert!(
        session::current_session(&server.state, &other_browser, now)
            .await
            .unwrap()
            .is_some()
    );
    // Signing out without a session still clears the cookie.
    let cleared = session::end_session(&server.state, &HeaderMap::new())
        .await
        .unwrap();
    assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    server.stop().await;
}

async fn sessions_end_with_their_user(db: TestDb) {
    let server = TestServer::start(&db).await;
    insert_user(&server, "u-dave", true).await;
    let (browser, _) = signed_in(&server, "u-dave", server.state.now()).await;
    assert!(
        session::current_session(&server.state, &browser, server.state.now())
            .await
            .unwrap()
            .is_none(),
        "a disabled user has no session"
    );
    server.stop().await;
}

async fn expired_sessions_are_purged(db: TestDb) {
    let server = short_sessions(&db).await;
    insert_user(&server, "u-erin", false).await;
    signed_in(&server, "u-erin", server.state.now()).await;
    server.state.clock.advance(60);
    let (browser, value) = signed_in(&server, "u-erin", server.state.now()).await;
    server.state.clock.advance(60);
    let now = server.state.now();
    // The first is idle for 120 s > 100 s; the second for 60 s.
    let purged = server
        .state
        .store
        .delete_expired_sessions(now, now - 100, 1000)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(session_hashes(&server).await, vec![sha256_hex(&value)]);
    assert!(
        session::current_session(&server.state, &browser, now)
            .await
            .unwrap()
            .is_some()
    );
    server.stop().await;
}

both_stores!(
    session_lives_while_used_and_ends_when_idle,
    session_ends_at_its_absolute_lifetime,
    session_ends_when_signed_out,
    sessions_end_with_their_user,
    expired_sessions_are_purged,
);
