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
        assert_eq!(doc["userinfo_endpoint"], server.url("/userinfo"));
        assert_eq!(doc["end_session_endpoint"], server.url("/logout"));
        assert_eq!(doc["authorization_endpoint"], server.url("/authorize"));
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "fragment", "form_post"])
        );
        assert_eq!(
            doc["scopes_supported"],
            serde_json::json!([
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "offline_access"
            ])
        );
        assert_eq!(
            doc["prompt_values_supported"],
            serde_json::json!(["none", "login", "consent", "select_account"])
        );
        // OIDC Core §5.4: every claim of every OpenID scope, and sub.
        let claims: Vec<&str> = doc["claims_supported"]
            .as_array()
            .expect("claims_supported")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        for claim in [
            "sub",
            "name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
            "address",
            "phone_number",
            "phone_number_verified",
        ] {
            assert!(claims.contains(&claim), "{claim} in {claims:?}");
        }
        assert_eq!(claims.len(), 20, "{claims:?}");
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:saml2-bearer"
            ])
        );
        // RFC 8628 §4, with the device grant (on by default).
        assert_eq!(
            doc["device_authorization_endpoint"],
            server.url("/device_authorization")
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
