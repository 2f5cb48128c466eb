//! Configuration: defaults, then an optional TOML file, then `PORTCULLIS_*` environment
//! variables (the field's dotted name in capitals, dots as underscores). Reading the config
//! parses every value into its type (origins, CIDR blocks, the KEK's bytes), and `validate()`
//! checks the bounds between fields; both run at start, so a bad value fails there with the
//! field named, never later.

mod load;
mod sections;
mod validate;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::keys::SigningAlg;
use crate::secret::Secret;
pub use crate::store::{DatabaseConfig, SqliteSynchronous};
pub use load::{env_name, field_names};
pub use sections::*;
pub use validate::ConfigError;
pub use values::{KekBytes, Origin};

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
    /// 32 bytes, base64: encrypts signing keys at rest (AES-256-GCM); decoded when read.
    pub key_encryption_key: Option<KekBytes>,
    /// During a KEK change (README "Changing the key-encryption key"): the previous key, which
    /// still opens signing keys it sealed; `key_encryption_key` seals.
    pub key_encryption_key_old: Option<KekBytes>,
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

impl Config {
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
