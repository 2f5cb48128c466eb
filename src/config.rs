//! Configuration: defaults, then an optional TOML file, then `PORTCULLIS_*` environment
//! variables (the field's dotted name in capitals, dots as underscores). `validate()` runs at
//! start, so a bad value fails there with the field named, never later.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Public base URL; defaults to `http://` + `bind`.
    pub issuer: Option<String>,
    /// `sqlite://file.db` (created if missing) or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseConfig,
    /// Bootstrap admin token, accepted besides the ones made with `admin-token create`.
    pub admin_token: Option<Secret>,
    /// 32 bytes, base64: encrypts signing keys at rest (AES-256-GCM).
    pub key_encryption_key: Option<Secret>,
    /// During a KEK change (README "Changing the key-encryption key"): the previous key, which
    /// still opens signing keys it sealed; `key_encryption_key` seals.
    pub key_encryption_key_old: Option<Secret>,
    pub log_format: LogFormat,
    pub legacy: LegacyConfig,
    pub grants: GrantsConfig,
    pub tokens: TokenConfig,
    pub keys: KeyConfig,
    pub http: HttpConfig,
    pub clients: ClientConfig,
    pub session: SessionConfig,
    pub throttle: ThrottleConfig,
    pub device: DeviceConfig,
    pub assertions: AssertionConfig,
    pub housekeeping: HousekeepingConfig,
    pub audit: AuditConfig,
    pub metrics: MetricsConfig,
    /// A directory of page templates; a file there replaces the built-in template of the same
    /// name (`base.html`, `signin.html`, `consent.html`, `error.html`, `signed_out.html`,
    /// `device_code.html`, `device_approve.html`, `device_done.html`).
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// SQLite's `PRAGMA synchronous` in WAL mode (https://sqlite.org/pragma.html#pragma_synchronous).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is on disk before it is answered (an fsync per write transaction).
    #[default]
    Full,
    /// Commits survive a crash of the process but the last ones may roll back on a power loss
    /// or an operating-system crash (revocations included); no fsync per commit.
    Normal,
}

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

/// The connection pool (`store/mod.rs`). The URL stays `database_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Seconds a request waits for a database connection (including opening one) before it
    /// is answered 503 `temporarily_unavailable`: with the database down or unreachable,
    /// requests fail this fast instead of hanging.
    pub acquire_timeout: u64,
    /// Connections this node keeps open at most.
    pub max_connections: u32,
    /// SQLite only: whether each commit waits for the disk (`full`) or not (`normal`).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            acquire_timeout: 3,
            max_connections: 16,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
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
    pub cors_allowed_origins: Vec<String>,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` is believed for
    /// the client address the sign-in throttle counts. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
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

#[derive(
    Debug,
    Clone,
    Copy,
    Serialize,
    Deserialize,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
pub enum SigningAlg {
    ES256,
    RS256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            database_url: "sqlite://portcullis.db".into(),
            database: DatabaseConfig::default(),
            admin_token: None,
            key_encryption_key: None,
            key_encryption_key_old: None,
            log_format: LogFormat::Text,
            legacy: LegacyConfig::default(),
            grants: GrantsConfig::default(),
            tokens: TokenConfig::default(),
            keys: KeyConfig::default(),
            http: HttpConfig::default(),
            clients: ClientConfig::default(),
            session: SessionConfig::default(),
            throttle: ThrottleConfig::default(),
            device: DeviceConfig::default(),
            assertions: AssertionConfig::default(),
            housekeeping: HousekeepingConfig::default(),
            audit: AuditConfig::default(),
            metrics: MetricsConfig::default(),
            templates_dir: None,
        }
    }
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

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {field} (env {env}): {message}")]
pub struct ConfigError {
    pub field: String,
    pub env: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            env: env_name(field),
            message: message.into(),
        }
    }
}

/// `tokens.access_token_lifetime` → `PORTCULLIS_TOKENS_ACCESS_TOKEN_LIFETIME`.
pub fn env_name(field: &str) -> String {
    format!("PORTCULLIS_{}", field.replace('.', "_").to_uppercase())
}

/// Every leaf field's dotted name, read off the defaults so that the list cannot drift.
pub fn field_names() -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    walk("", &defaults, &mut out);
    out
}

/// Environment variables that belong to the tooling rather than to the config.
const NON_CONFIG_ENV: [&str; 4] = [
    "PORTCULLIS_CONFIG",
    "PORTCULLIS_LOG",
    "PORTCULLIS_TEST_",
    // `keys rotate-kek`: the key to change to.
    "PORTCULLIS_NEW_KEY_ENCRYPTION_KEY",
];

impl Config {
    /// Loads defaults, then `path` (when given, it must exist; otherwise `portcullis.toml` if
    /// present), then the environment. Returns the config and warnings to print.
    pub fn load(path: Option<&Path>) -> Result<(Config, Vec<String>), ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) if !p.exists() => {
                return Err(ConfigError::new(
                    "config",
                    format!("file {} does not exist", p.display()),
                ));
            }
            Some(p) => figment = figment.merge(Toml::file_exact(p)),
            None if Path::new("portcullis.toml").exists() => {
                figment = figment.merge(Toml::file_exact("portcullis.toml"))
            }
            None => {}
        }
        let fields = field_names();
        let mut warnings = Vec::new();
        for (name, _) in std::env::vars() {
            if name.starts_with("PORTCULLIS_")
                && !NON_CONFIG_ENV.iter().any(|p| name.starts_with(p))
                && !fields.iter().any(|f| env_name(f) == name)
            {
                warnings.push(format!("ignoring unknown environment variable {name}"));
            }
        }
        let env = Env::prefixed("PORTCULLIS_").filter_map(move |key| {
            fields
                .iter()
                .find(|f| f.replace('.', "_").eq_ignore_ascii_case(key.as_str()))
                .map(|f| f.clone().into())
        });
        let config: Config = figment.merge(env).extract().map_err(|e| {
            let field = e.path.join(".");
            ConfigError::new(
                if field.is_empty() { "config" } else { &field },
                e.to_string(),
            )
        })?;
        let more = config.validate()?;
        warnings.extend(more);
        Ok((config, warnings))
    }

    /// Checks every field; returns warnings about dev defaults that are fine but not for
    /// production.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        // RFC 8414 §2: the issuer is what clients reach; 0.0.0.0 or [::] is nobody's address.
        if self.issuer.is_none() && self.bind.ip().is_unspecified() {
            return Err(ConfigError::new(
                "issuer",
                format!(
                    "required when bind is {}: set the public URL clients use, e.g. https://id.example.com",
                    self.bind
                ),
            ));
        }
        let issuer = self.issuer();
        let url = url::Url::parse(&issuer)
            .map_err(|e| ConfigError::new("issuer", format!("not a URL: {e}")))?;
        // RFC 8414 §2: https, no query, no fragment.
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(ConfigError::new("issuer", "must be an http(s) URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::new(
                "issuer",
                "must not have a query or fragment (RFC 8414 §2)",
            ));
        }
        if url.scheme() == "http" && !crate::oauth::uri::is_loopback_host(url.host_str()) {
            warnings.push(format!(
                "issuer {issuer} is not https: fine for development, never for production"
            ));
        }
        let db = self.database_url.as_str();
        let is_postgres = db.starts_with("postgres://") || db.starts_with("postgresql://");
        if !is_postgres && !db.starts_with("sqlite:") {
            return Err(ConfigError::new(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        match &self.key_encryption_key {
            Some(kek) => {
                crate::keys::kek::Kek::from_base64(kek.expose())
                    .map_err(|e| ConfigError::new("key_encryption_key", e.to_string()))?;
            }
            None if is_postgres => {
                return Err(ConfigError::new(
                    "key_encryption_key",
                    "required with Postgres: every node must share it (32 random bytes, base64; \
                     `openssl rand -base64 32`)",
                ));
            }
            None => {}
        }
        if let Some(old) = &self.key_encryption_key_old {
            crate::keys::kek::Kek::from_base64(old.expose())
                .map_err(|e| ConfigError::new("key_encryption_key_old", e.to_string()))?;
            if self.key_encryption_key.is_none() {
                return Err(ConfigError::new(
                    "key_encryption_key_old",
                    "needs key_encryption_key: the new key that seals",
                ));
            }
        }
        if let Some(token) = &self.admin_token
            && token.expose().len() < 32
        {
            return Err(ConfigError::new(
                "admin_token",
                "must be at least 32 characters",
            ));
        }
        let t = &self.tokens;
        for (field, value, max) in [
            (
                "tokens.access_token_lifetime",
                t.access_token_lifetime,
                86_400,
            ),
            ("tokens.id_token_lifetime", t.id_token_lifetime, 86_400),
            (
                "tokens.refresh_token_lifetime",
                t.refresh_token_lifetime,
                400 * 86_400,
            ),
            (
                "tokens.refresh_token_idle_lifetime",
                t.refresh_token_idle_lifetime,
                400 * 86_400,
            ),
            (
                "tokens.authorization_code_lifetime",
                t.authorization_code_lifetime,
                600,
            ),
            (
                "tokens.client_assertion_max_lifetime",
                t.client_assertion_max_lifetime,
                3_600,
            ),
            // A token in a URL fragment: short-lived, whatever the other settings say.
            (
                "legacy.implicit_access_token_lifetime",
                self.legacy.implicit_access_token_lifetime,
                600,
            ),
            ("keys.reload_interval", self.keys.reload_interval, 3_600),
            (
                "database.acquire_timeout",
                self.database.acquire_timeout,
                60,
            ),
            (
                "database.max_connections",
                u64::from(self.database.max_connections),
                1_000,
            ),
            ("http.request_timeout", self.http.request_timeout, 600),
            (
                "session.idle_lifetime",
                self.session.idle_lifetime,
                30 * 86_400,
            ),
            // Browsers cap a cookie's Max-Age at 400 days.
            (
                "session.absolute_lifetime",
                self.session.absolute_lifetime,
                400 * 86_400,
            ),
            (
                "throttle.account_free_attempts",
                u64::from(self.throttle.account_free_attempts),
                1_000,
            ),
            (
                "throttle.ip_free_attempts",
                u64::from(self.throttle.ip_free_attempts),
                1_000_000,
            ),
            ("throttle.base_delay", self.throttle.base_delay, 3_600),
            ("throttle.max_delay", self.throttle.max_delay, 86_400),
            ("throttle.window", self.throttle.window, 7 * 86_400),
            // RFC 8628 §5.1: the user code's lifetime bounds how long it can be guessed at.
            ("device.code_lifetime", self.device.code_lifetime, 3_600),
            ("device.interval", self.device.interval, 60),
            (
                "assertions.max_lifetime",
                self.assertions.max_lifetime,
                86_400,
            ),
            ("assertions.clock_skew", self.assertions.clock_skew, 600),
            ("housekeeping.interval", self.housekeeping.interval, 86_400),
            (
                "housekeeping.batch_size",
                self.housekeeping.batch_size,
                100_000,
            ),
        ] {
            if value == 0 || value > max {
                return Err(ConfigError::new(
                    field,
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if t.refresh_token_idle_lifetime > t.refresh_token_lifetime {
            return Err(ConfigError::new(
                "tokens.refresh_token_idle_lifetime",
                "must not exceed tokens.refresh_token_lifetime",
            ));
        }
        if self.session.idle_lifetime > self.session.absolute_lifetime {
            return Err(ConfigError::new(
                "session.idle_lifetime",
                "must not exceed session.absolute_lifetime",
            ));
        }
        if self.throttle.token_requests_per_minute > MAX_TOKEN_REQUESTS_PER_MINUTE {
            return Err(ConfigError::new(
                "throttle.token_requests_per_minute",
                format!("must be at most {MAX_TOKEN_REQUESTS_PER_MINUTE} (0: no limit)"),
            ));
        }
        if self.audit.retention > 10 * 366 * 86_400 {
            return Err(ConfigError::new(
                "audit.retention",
                "must be at most ten years in seconds (0: kept for ever)",
            ));
        }
        if self.throttle.max_delay < self.throttle.base_delay {
            return Err(ConfigError::new(
                "throttle.max_delay",
                "must not be less than throttle.base_delay",
            ));
        }
        if let Some(dir) = &self.templates_dir
            && !dir.is_dir()
        {
            return Err(ConfigError::new(
                "templates_dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
        if self.clients.secret_grace_period > 365 * 86_400 {
            return Err(ConfigError::new(
                "clients.secret_grace_period",
                "must be at most 31536000 seconds (a year)",
            ));
        }
        if self.tokens.revocation_cache_ttl > 60 {
            return Err(ConfigError::new(
                "tokens.revocation_cache_ttl",
                "must be at most 60 seconds: it bounds how long a token revoked on another \
                 node still introspects as active here",
            ));
        }
        if self.clients.cache_ttl > 300 {
            return Err(ConfigError::new(
                "clients.cache_ttl",
                "must be at most 300 seconds: it bounds how long a deleted client or a rotated \
                 secret keeps working on other nodes",
            ));
        }
        if t.access_token_lifetime > 3_600 {
            warnings.push(
                "tokens.access_token_lifetime is over an hour: RFC 9700 §2.4 prefers short-lived \
                 access tokens"
                    .into(),
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.http.body_limit) {
            return Err(ConfigError::new(
                "http.body_limit",
                "must be between 1024 and 16777216 bytes",
            ));
        }
        for (i, origin) in self.http.cors_allowed_origins.iter().enumerate() {
            if crate::http::cors::parse_origin(origin).as_deref() != Some(origin.as_str()) {
                return Err(ConfigError::new(
                    "http.cors_allowed_origins",
                    format!(
                        "entry {i} ({origin:?}) is not an origin: scheme://host[:port] in lower \
                         case, no path, no trailing slash"
                    ),
                ));
            }
        }
        for (i, entry) in self.http.trusted_proxies.iter().enumerate() {
            if crate::proxy::Cidr::parse(entry).is_none() {
                return Err(ConfigError::new(
                    "http.trusted_proxies",
                    format!(
                        "entry {i} ({entry:?}) is not an IP address or CIDR block such as \
                         10.0.0.0/8 or fd00::/8"
                    ),
                ));
            }
        }
        if !(1024..=1024 * 1024).contains(&self.assertions.saml_max_bytes) {
            return Err(ConfigError::new(
                "assertions.saml_max_bytes",
                "must be between 1024 and 1048576 bytes",
            ));
        }
        if self.legacy.implicit {
            warnings.push(
                "legacy.implicit is on: the implicit flow is deprecated (RFC 9700 §2.1.2)".into(),
            );
        }
        if self.legacy.password {
            warnings.push(
                "legacy.password is on: the password grant is deprecated (RFC 9700 §2.4)".into(),
            );
        }
        self.validate_metrics(&mut warnings)?;
        Ok(warnings)
    }

    /// The `metrics` section: a separate address must not be the main one, and a bearer token
    /// must be long enough not to be guessed.
    fn validate_metrics(&self, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
        let m = &self.metrics;
        if let Some(bind) = m.bind {
            let same_ip = bind.ip() == self.bind.ip()
                || bind.ip().is_unspecified()
                || self.bind.ip().is_unspecified();
            if bind.port() != 0 && bind.port() == self.bind.port() && same_ip {
                return Err(ConfigError::new(
                    "metrics.bind",
                    format!(
                        "{bind} is the main address ({}): leave it unset to serve /metrics there",
                        self.bind
                    ),
                ));
            }
        }
        if let Some(token) = &m.bearer_token
            && token.expose().len() < 32
        {
            return Err(ConfigError::new(
                "metrics.bearer_token",
                "must be at least 32 characters",
            ));
        }
        if !m.enabled && (m.bind.is_some() || m.bearer_token.is_some()) {
            warnings.push(
                "metrics.bind or metrics.bearer_token is set but metrics.enabled is false: \
                 /metrics is not served"
                    .into(),
            );
        }
        if m.enabled && m.bind.is_none() && m.bearer_token.is_none() {
            warnings.push(
                "metrics are served on the main port to anyone who can reach it: set \
                 metrics.bearer_token, or metrics.bind to a private address"
                    .into(),
            );
        }
        Ok(())
    }

    /// The issuer identifier, without a trailing slash.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_field_names() {
        assert_eq!(env_name("database_url"), "PORTCULLIS_DATABASE_URL");
        assert_eq!(env_name("legacy.implicit"), "PORTCULLIS_LEGACY_IMPLICIT");
        let fields = field_names();
        for f in [
            "bind",
            "issuer",
            "admin_token",
            "legacy.password",
            "tokens.access_token_alg",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn metrics_settings_name_the_field() {
        let mut c = Config::default();
        c.metrics.enabled = true;
        c.metrics.bind = Some(c.bind);
        assert_eq!(c.validate().unwrap_err().field, "metrics.bind");
        c.metrics.bind = Some("127.0.0.1:9090".parse().unwrap());
        c.metrics.bearer_token = Some(Secret::new("short"));
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "metrics.bearer_token");
        assert!(e.to_string().contains("PORTCULLIS_METRICS_BEARER_TOKEN"));
        c.metrics.bearer_token = Some(Secret::new("x".repeat(32)));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn issuer_defaults_to_bind_address() {
        let c = Config {
            bind: "127.0.0.1:9999".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(c.issuer(), "http://127.0.0.1:9999");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let mut c = Config::default();
        c.tokens.access_token_lifetime = 0;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "tokens.access_token_lifetime");
        assert!(
            e.to_string()
                .contains("PORTCULLIS_TOKENS_ACCESS_TOKEN_LIFETIME")
        );

        let mut c = Config::default();
        c.tokens.refresh_token_idle_lifetime = c.tokens.refresh_token_lifetime + 1;
        assert_eq!(
            c.validate().unwrap_err().field,
            "tokens.refresh_token_idle_lifetime"
        );

        let c = Config {
            database_url: "postgres://localhost/x".into(),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "key_encryption_key");

        let c = Config {
            bind: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "issuer");

        let c = Config {
            issuer: Some("https://id.example.com/?x=1".into()),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "issuer");

        for bad in ["10.0.0.0/33", "10.0.0.300", "proxy.example.com"] {
            let mut c = Config::default();
            c.http.trusted_proxies = vec!["192.0.2.1".into(), bad.into()];
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, "http.trusted_proxies", "{bad}");
            assert!(e.message.contains(bad), "{e}");
        }
        let mut c = Config::default();
        c.http.trusted_proxies = vec!["10.0.0.0/8".into(), "fd00::/8".into(), "::1".into()];
        assert!(c.validate().is_ok());
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "HTTPS://APP.example.com",
        ] {
            let mut c = Config::default();
            c.http.cors_allowed_origins = vec![bad.into()];
            assert_eq!(
                c.validate().unwrap_err().field,
                "http.cors_allowed_origins",
                "{bad}"
            );
        }
    }

    #[test]
    fn database_pool_bounds_name_the_field() {
        let c = Config::default();
        assert_eq!(
            (c.database.acquire_timeout, c.database.max_connections),
            (3, 16)
        );
        for (acquire_timeout, max_connections, field) in [
            (0, 16, "database.acquire_timeout"),
            (61, 16, "database.acquire_timeout"),
            (3, 0, "database.max_connections"),
            (3, 1_001, "database.max_connections"),
        ] {
            let mut c = Config::default();
            c.database.acquire_timeout = acquire_timeout;
            c.database.max_connections = max_connections;
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, field);
            assert_eq!(e.env, env_name(field));
        }
    }

    #[test]
    fn housekeeping_bounds_name_the_field() {
        let c = Config::default();
        assert!(c.housekeeping.enabled);
        assert_eq!(
            (c.housekeeping.interval, c.housekeeping.batch_size),
            (300, 1000)
        );
        for (interval, batch_size, field) in [
            (0, 1000, "housekeeping.interval"),
            (86_401, 1000, "housekeeping.interval"),
            (300, 0, "housekeeping.batch_size"),
            (300, 100_001, "housekeeping.batch_size"),
        ] {
            let mut c = Config::default();
            c.housekeeping.interval = interval;
            c.housekeeping.batch_size = batch_size;
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, field);
            assert_eq!(e.env, env_name(field));
        }
    }
}
