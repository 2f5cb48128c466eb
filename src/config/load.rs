//! Reading the config: defaults, the TOML file, then the environment.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::{Config, ConfigError};

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
        let config = extract(figment.merge(env))?;
        let more = config.validate()?;
        warnings.extend(more);
        Ok((config, warnings))
    }
}

/// Deserialises (and so parses) every value; an error names the field it is about.
fn extract(figment: Figment) -> Result<Config, ConfigError> {
    figment.extract().map_err(|e| {
        let field = e.path.join(".");
        ConfigError::new(
            if field.is_empty() { "config" } else { &field },
            e.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults with `toml` over them, read the way `load` reads a file.
    fn read(toml: &str) -> Result<Config, ConfigError> {
        extract(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)))
    }

    #[test]
    fn lists_are_parsed_as_read_and_a_bad_entry_names_the_field() {
        for bad in ["10.0.0.0/33", "10.0.0.300", "proxy.example.com"] {
            let e = read(&format!(
                "[http]\ntrusted_proxies = [\"192.0.2.1\", \"{bad}\"]"
            ))
            .unwrap_err();
            assert_eq!(e.field, "http.trusted_proxies", "{bad}");
            assert!(e.message.contains(bad), "{e}");
        }
        let c = read("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"::1\"]")
            .expect("valid proxies");
        assert!(c.validate().is_ok());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        let [net, v6, one] = &c.http.trusted_proxies[..] else {
            panic!("{:?}", c.http.trusted_proxies);
        };
        assert!(net.contains(ip("10.1.2.3")) && v6.contains(ip("fd00::1")));
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "HTTPS://APP.example.com",
        ] {
            let e = read(&format!("[http]\ncors_allowed_origins = [\"{bad}\"]")).unwrap_err();
            assert_eq!(e.field, "http.cors_allowed_origins", "{bad}");
        }
        let c = read("[http]\ncors_allowed_origins = [\"https://app.example.com\"]")
            .expect("valid origin");
        assert_eq!(
            c.http.cors_allowed_origins[0].as_str(),
            "https://app.example.com"
        );
    }

    #[test]
    fn the_kek_is_decoded_as_read_and_a_bad_one_names_the_field() {
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        let c = read(&format!("key_encryption_key = \"{key}\"")).expect("valid kek");
        assert_eq!(
            c.key_encryption_key.as_ref().map(|k| *k.expose()),
            Some([7u8; 32])
        );
        assert!(!format!("{c:?}").contains(&key), "the KEK never prints");
        for (field, bad) in [
            ("key_encryption_key", "not base64!"),
            ("key_encryption_key_old", "c2hvcnQ="),
        ] {
            let e = read(&format!("{field} = \"{bad}\"")).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.contains("key encryption key"), "{e}");
        }
    }
}
