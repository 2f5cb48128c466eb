//! Discovery (RFC 8414, OIDC Discovery) and JWKS as a relying party reads them.

use crate::both_stores;
use crate::harness::{TestDb, TestServer, send};

async fn discovery_lists_exactly_what_is_served(db: TestDb) {
    let server = TestServer::start(&db).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (status, doc) = send(server.get(path)).await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], server.base);
        assert_eq!(doc["token_endpoint"], server.url("/token"));
        assert_eq!(doc["jwks_uri"], server.url("/.well-known/jwks.json"));
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        // Legacy flows are off by default and must not be advertised.
        let grants = doc["grant_types_supported"].as_array().unwrap();
        assert!(!grants.iter().any(|g| g == "password" || g == "implicit"));
    }
    server.stop().await;
}

both_stores!(discovery_lists_exactly_what_is_served);
