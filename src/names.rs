//! Every endpoint path, grant type, token type and assertion type in one place: the router,
//! discovery and the handlers all read these, so what is advertised is what is served.

pub mod path {
    pub const DISCOVERY_OIDC: &str = "/.well-known/openid-configuration";
    pub const DISCOVERY_OAUTH: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/.well-known/jwks.json";
    pub const AUTHORIZE: &str = "/authorize";
    /// `POST`: the sign-in form of an authorization request.
    pub const AUTHORIZE_SIGNIN: &str = "/authorize/signin";
    /// `POST`: the consent form of an authorization request.
    pub const AUTHORIZE_CONSENT: &str = "/authorize/consent";
    pub const TOKEN: &str = "/token";
    /// RFC 8628 §3.1: the device authorization endpoint.
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    /// RFC 8628 §3.3: the verification URI, where the user enters the code (`GET`, `POST`).
    pub const DEVICE: &str = "/device";
    /// `POST`: the sign-in form of a device verification.
    pub const DEVICE_SIGNIN: &str = "/device/signin";
    /// `POST`: the approve-or-deny form of a device verification.
    pub const DEVICE_APPROVE: &str = "/device/approve";
    pub const INTROSPECT: &str = "/introspect";
    pub const REVOKE: &str = "/revoke";
    /// OIDC Core §5.3.
    pub const USERINFO: &str = "/userinfo";
    /// OIDC RP-Initiated Logout 1.0 §2 (`end_session_endpoint`).
    pub const LOGOUT: &str = "/logout";
    /// The page shown after signing out.
    pub const SIGNED_OUT: &str = "/signed-out";
    pub const HEALTHZ: &str = "/healthz";
    pub const READYZ: &str = "/readyz";
    /// Prometheus text exposition (`http/metrics.rs`), when `metrics.enabled`.
    pub const METRICS: &str = "/metrics";
    pub const ADMIN: &str = "/admin";

    /// The admin API (`http/admin/`). Every path here is in the OpenAPI description (a test
    /// checks), and the handlers' `#[utoipa::path]` annotations name these constants.
    pub mod admin {
        pub const CLIENTS: &str = "/admin/clients";
        pub const CLIENT: &str = "/admin/clients/{id}";
        pub const CLIENT_SECRET: &str = "/admin/clients/{id}/secret";
        pub const RESOURCES: &str = "/admin/resources";
        pub const RESOURCE: &str = "/admin/resources/{id}";
        pub const ISSUERS: &str = "/admin/issuers";
        pub const ISSUER: &str = "/admin/issuers/{id}";
        pub const USERS: &str = "/admin/users";
        pub const USER: &str = "/admin/users/{id}";
        pub const USER_LOCKOUT: &str = "/admin/users/{id}/lockout";
        pub const KEYS: &str = "/admin/keys";
        pub const KEYS_ROTATE: &str = "/admin/keys/rotate";
        pub const AUDIT: &str = "/admin/audit";
        pub const EVENTS: &str = "/admin/events";
        pub const LEGACY_USAGE: &str = "/admin/legacy-usage";

        pub const ALL: [&str; 15] = [
            CLIENTS,
            CLIENT,
            CLIENT_SECRET,
            RESOURCES,
            RESOURCE,
            ISSUERS,
            ISSUER,
            USERS,
            USER,
            USER_LOCKOUT,
            KEYS,
            KEYS_ROTATE,
            AUDIT,
            EVENTS,
            LEGACY_USAGE,
        ];

        /// The OpenAPI 3.1 description of the paths above (no admin token needed).
        pub const OPENAPI: &str = "/admin/openapi.json";
        /// Swagger UI over that description (no admin token needed to load it).
        pub const DOCS: &str = "/admin/docs";
    }
}

pub mod grant_type {
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    pub const REFRESH_TOKEN: &str = "refresh_token";
    pub const PASSWORD: &str = "password";
    /// Not a token-endpoint grant (RFC 6749 §4.2), but a value of client `grant_types`.
    pub const IMPLICIT: &str = "implicit";
    pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    pub const SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

    pub const ALL: [&str; 9] = [
        AUTHORIZATION_CODE,
        CLIENT_CREDENTIALS,
        REFRESH_TOKEN,
        PASSWORD,
        IMPLICIT,
        DEVICE_CODE,
        TOKEN_EXCHANGE,
        JWT_BEARER,
        SAML2_BEARER,
    ];
}

/// RFC 8693 §3 token type identifiers that token exchange takes and issues.
pub mod token_type {
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// Microsoft Entra's on-behalf-of request: the jwt-bearer grant with this `requested_token_use`.
pub const REQUESTED_TOKEN_USE_OBO: &str = "on_behalf_of";

/// RFC 7523 §2.2 client assertions.
pub const CLIENT_ASSERTION_TYPE_JWT: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// RFC 9068 §2.1 JWT access token media type (`typ` header).
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
