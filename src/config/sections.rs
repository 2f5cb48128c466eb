//! The config's sections, each with its defaults.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::SigningAlg;
use super::values::{self, Origin};
use crate::proxy::Cidr;
use crate::secret::Secret;

/// OAuth 2.1 removed these flows; they exist only for apps being migrated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    pub implicit: bool,
    pub password: bool,
    /// Seconds; the longest an access token from the implicit flow lives (a resource's own
    /// lifetime wins when shorter). Short, since it travels in a URL (RFC 9700 §2.1.2).
    pub implicit_access_token_lifetime: u64,
}

impl Default for LegacyConfig {
    fn default() -> Self {
        Self {
            implicit: false,
            password: false,
            implicit_access_token_lifetime: 300,
        }
    }
}

/// Grants that an operator may switch off; a grant that is off is neither served nor advertised.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrantsConfig {
    /// RFC 8693 token exchange, and Microsoft Entra's on-behalf-of form of it.
    pub token_exchange: bool,
}

impl Default for GrantsConfig {
    fn default() -> Self {
        Self {
            token_exchange: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// Seconds; a resource may set its own.
    pub access_token_lifetime: u64,
    pub access_token_alg: SigningAlg,
    pub id_token_lifetime: u64,
    /// OIDC Core §15.1: RS256 must be supported, so it is the default for ID tokens.
    pub id_token_alg: SigningAlg,
    /// Seconds from the first refresh token of a grant to the end of its family (RFC 9700
    /// §4.14.2): rotation never takes a family past it.
    pub refresh_token_lifetime: u64,
    /// Seconds a refresh token lives unused (RFC 9700 §4.14.2): each rotation starts a new
    /// idle window, never past the family's end.
    pub refresh_token_idle_lifetime: u64,
    pub authorization_code_lifetime: u64,
    /// Upper bound on `exp - now` of a client assertion (RFC 7523 §3 item 4).
    pub client_assertion_max_lifetime: u64,
    /// Seconds a node may answer "not revoked" for an access token from its in-memory copy of
    /// the deny-list answer before reading the store again (`oauth/deny_list.rs`): the bound
    /// within which a revocation, a replay or a disabled user made on another node reaches
    /// this node's introspection, userinfo and token exchange (RFC 7009 §2.2 allows such a
    /// propagation delay). The node that revokes is exact at once. 0 reads the store each time.
    pub revocation_cache_ttl: u64,
}

/// Security events and admin changes in `audit_events` (`audit.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Seconds an event is kept; housekeeping deletes older ones. 0: kept for ever.
    pub retention: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: 90 * 86_400,
        }
    }
}

/// The background task that deletes expired rows (`tasks.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HousekeepingConfig {
    /// Run the task on this node. Several nodes may run it at once: deleting an expired row
    /// twice is harmless.
    pub enabled: bool,
    /// Seconds between passes.
    pub interval: u64,
    /// Rows deleted per statement: bounds how long one statement holds its locks.
    pub batch_size: u64,
}

impl Default for HousekeepingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: 300,
            batch_size: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// Seconds between reloads of the key ring from the store: the longest a node takes to
    /// see a rotation made by another node.
    pub reload_interval: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Seconds before a request is answered 408.
    pub request_timeout: u64,
    /// Origins (`https://app.example.com`) that browser apps may call the token, userinfo and
    /// revocation endpoints from, besides the origins of registered redirect URIs.
    #[serde(deserialize_with = "values::origins")]
    pub cors_allowed_origins: Vec<Origin>,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` is believed for
    /// the client address the sign-in throttle counts. Empty: the TCP peer is the client.
    #[serde(deserialize_with = "values::cidrs")]
    pub trusted_proxies: Vec<Cidr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Seconds an old client secret stays valid after a rotation.
    pub secret_grace_period: u64,
    /// Seconds a node may answer from its in-memory copy of a client (registration and live
    /// secret digests) or a resource before reading the store again: the bound within which
    /// every node sees a deleted client, a changed registration, a rotated secret or a changed
    /// resource (`oauth/client_cache.rs`, `oauth/resource_cache.rs`). 0 turns the caches off.
    pub cache_ttl: u64,
}

/// Browser sessions at the authorization server (sign-in state), kept in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Seconds without a request after which a session ends.
    pub idle_lifetime: u64,
    /// Seconds after sign-in after which a session ends however active it is.
    pub absolute_lifetime: u64,
}

/// Failed sign-ins, counted per account and per IP in the store (`throttle.rs`): after the free
/// attempts, each failure blocks for `base_delay · 2^(failures − free)` seconds, at most
/// `max_delay`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Failures an account may have before each further one blocks it.
    pub account_free_attempts: u32,
    /// Failures an IP address (an IPv6 /64) may have before each further one blocks it.
    pub ip_free_attempts: u32,
    /// Seconds; the first block lasts twice this.
    pub base_delay: u64,
    /// Seconds; no block lasts longer.
    pub max_delay: u64,
    /// Seconds; a counter whose last failure is older than this starts again from zero.
    pub window: u64,
    /// Token requests a client may make per minute, across all nodes (`rate_limit.rs`); 0: no
    /// limit. A client's `token_requests_per_minute` metadata overrides it.
    pub token_requests_per_minute: u64,
}

/// The largest per-minute token request limit, in the config or a client's metadata.
pub const MAX_TOKEN_REQUESTS_PER_MINUTE: u64 = 10_000_000;

/// The device authorization grant (RFC 8628): `/device_authorization`, the `/device` pages and
/// the `device_code` grant, all served only when `enabled`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceConfig {
    pub enabled: bool,
    /// Seconds a device code and its user code live (RFC 8628 §3.2 `expires_in`).
    pub code_lifetime: u64,
    /// Seconds a device waits between polls (RFC 8628 §3.2 `interval`); each `slow_down`
    /// adds 5 for that device code (§3.5).
    pub interval: u64,
}

/// Assertion grants (RFC 7521): a trusted issuer's JWT (RFC 7523 §2.1) or SAML 2.0 assertion
/// (RFC 7522 §2.1) exchanged for an access token. The issuers are registered at `/admin/issuers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssertionConfig {
    /// Serve `urn:ietf:params:oauth:grant-type:jwt-bearer`.
    pub jwt_bearer: bool,
    /// Serve `urn:ietf:params:oauth:grant-type:saml2-bearer`.
    pub saml2_bearer: bool,
    /// Seconds: an assertion whose expiry lies further ahead is refused (RFC 7523 §3 item 4
    /// lets the server bound it); also how long its one-time id is remembered at most.
    pub max_lifetime: u64,
    /// Seconds of clock skew tolerated on assertion times (RFC 7523 §3 items 4–6).
    pub clock_skew: u64,
    /// Largest SAML assertion accepted, in bytes of XML (checked before parsing).
    pub saml_max_bytes: usize,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_token_lifetime: 300,
            access_token_alg: SigningAlg::ES256,
            id_token_lifetime: 300,
            id_token_alg: SigningAlg::RS256,
            refresh_token_lifetime: 30 * 24 * 3600,
            refresh_token_idle_lifetime: 14 * 24 * 3600,
            authorization_code_lifetime: 60,
            client_assertion_max_lifetime: 300,
            revocation_cache_ttl: 1,
        }
    }
}

impl Default for AssertionConfig {
    fn default() -> Self {
        Self {
            jwt_bearer: true,
            saml2_bearer: true,
            max_lifetime: 600,
            clock_skew: 60,
            saml_max_bytes: 32 * 1024,
        }
    }
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self {
            reload_interval: 10,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            request_timeout: 15,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_lifetime: 30 * 60,
            absolute_lifetime: 12 * 3600,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            account_free_attempts: 5,
            ip_free_attempts: 20,
            base_delay: 1,
            max_delay: 15 * 60,
            window: 15 * 60,
            token_requests_per_minute: 0,
        }
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            code_lifetime: 600,
            interval: 5,
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            secret_grace_period: 24 * 3600,
            cache_ttl: 5,
        }
    }
}

/// Prometheus metrics at `/metrics` (`http/metrics.rs`). Off by default: request and token
/// counts reveal traffic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// A separate address to serve `/metrics` on (e.g. `127.0.0.1:9090`); unset, the main
    /// port serves it.
    pub bind: Option<SocketAddr>,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    pub bearer_token: Option<Secret>,
}
