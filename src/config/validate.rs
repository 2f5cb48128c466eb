//! The checks that reading alone cannot make: bounds, and rules between fields.

use super::{Config, MAX_TOKEN_REQUESTS_PER_MINUTE, env_name};

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {field} (env {env}): {message}")]
pub struct ConfigError {
    pub field: String,
    pub env: String,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            env: env_name(field),
            message: message.into(),
        }
    }
}

impl Config {
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
        if url.scheme() == "http" && !crate::proxy::is_loopback_host(url.host_str()) {
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
        // The keys themselves were decoded when the config was read (`KekBytes`).
        if self.key_encryption_key.is_none() && is_postgres {
            return Err(ConfigError::new(
                "key_encryption_key",
                "required with Postgres: every node must share it (32 random bytes, base64; \
                 `openssl rand -base64 32`)",
            ));
        }
        if self.key_encryption_key_old.is_some() && self.key_encryption_key.is_none() {
            return Err(ConfigError::new(
                "key_encryption_key_old",
                "needs key_encryption_key: the new key that seals",
            ));
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
}

#[cfg(test)]
mod tests {
    use super::super::field_names;
    use super::*;
    use crate::secret::Secret;

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
