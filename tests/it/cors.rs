//! CORS for browser apps (Fetch Standard §3.2): public documents for everyone; the token,
//! userinfo and revocation endpoints for registered origins only, with correct preflights;
//! the admin API and the pages for nobody.

use reqwest::{Method, RequestBuilder};

use crate::both_stores;
use crate::fixtures::Registration;
use crate::harness::{TestDb, TestServer, header};

const APP: &str = "https://app.example.com";
const CONSOLE: &str = "https://console.example.org";

async fn spa(server: &TestServer) {
    Registration::new("browser app", "spa")
        .redirect_uris(&[format!("{APP}/cb")])
        .scope("")
        .register(server)
        .await;
}

fn preflight(server: &TestServer, path: &str, origin: &str, method: &str) -> RequestBuilder {
    server
        .http
        .request(Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
}

async fn public_documents_are_readable_from_anywhere(db: TestDb) {
    let server = TestServer::start(&db).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let r = server
            .get(path)
            .header("origin", "https://anyone.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            header(r.headers(), "access-control-allow-origin"),
            "*",
            "{path}"
        );
        let r = preflight(&server, path, "https://anyone.example", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(header(r.headers(), "access-control-allow-origin"), "*");
        assert!(header(r.headers(), "access-control-allow-methods").contains("GET"));
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
    server.stop().await;
}

async fn client_endpoints_allow_registered_origins_only(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.http.cors_allowed_origins =
            vec![portcullis::config::Origin::parse(CONSOLE).expect("origin")]
    })
    .await;
    spa(&server).await;
    for (path, methods) in [
        ("/token", "POST"),
        ("/revoke", "POST"),
        ("/userinfo", "GET, POST"),
    ] {
        for origin in [APP, CONSOLE] {
            let r = preflight(&server, path, origin, "POST")
                .send()
                .await
                .unwrap();
            let h = r.headers();
            assert_eq!(r.status(), 204, "{path} {origin}");
            assert_eq!(header(h, "access-control-allow-origin"), origin);
            assert_eq!(header(h, "access-control-allow-methods"), methods, "{path}");
            let allowed = header(h, "access-control-allow-headers").to_lowercase();
            assert!(
                allowed.contains("content-type") && allowed.contains("authorization"),
                "{allowed}"
            );
            assert_eq!(header(h, "access-control-max-age"), "600");
            assert!(header(h, "vary").contains("Origin"), "{path}");
            assert!(h.get("access-control-allow-credentials").is_none());
        }
        // The actual request: the answer (here an error) is readable by the app.
        let r = server
            .post(path)
            .header("origin", APP)
            .form(&[("grant_type", "authorization_code")])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}");
        assert_eq!(header(r.headers(), "access-control-allow-origin"), APP);
        assert!(header(r.headers(), "vary").contains("Origin"));
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
    // Refused: other sites, the right host on the wrong scheme or port, look-alike hosts,
    // origins with a path, and the opaque origin.
    for origin in [
        "https://evil.example.net",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.net",
        "https://example.com",
        "https://app.example.com/",
        "null",
    ] {
        let r = preflight(&server, "/token", origin, "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(header(r.headers(), "vary").contains("Origin"));
        let r = server
            .post("/token")
            .header("origin", origin)
            .form(&[("grant_type", "authorization_code")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{origin}");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // Without Origin: no CORS headers, the cache key still says it depends on Origin.
    let r = server
        .post("/token")
        .form(&[("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(header(r.headers(), "vary").contains("Origin"));
    // A wrong method is still a JSON 405.
    let r = server
        .get("/token")
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    server.stop().await;
}

async fn admin_api_and_pages_have_no_cors(db: TestDb) {
    let server = TestServer::start(&db).await;
    spa(&server).await;
    for path in ["/admin/clients", "/authorize", "/logout", "/introspect"] {
        let r = preflight(&server, path, APP, "POST").send().await.unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path}: {:?}",
            r.headers()
        );
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    let r = server
        .admin(Method::GET, "/clients")
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    server.stop().await;
}

both_stores!(
    public_documents_are_readable_from_anywhere,
    client_endpoints_allow_registered_origins_only,
    admin_api_and_pages_have_no_cors,
);
