//! Values that are parsed as the config is read, so that a bad one fails at start with its
//! field named and nothing later parses the text again.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::proxy::Cidr;
use crate::secret::Secret;

/// A web origin in its ASCII serialisation (RFC 6454 §6.2): `scheme://host[:port]`, http or
/// https, in lower case, with no path and no trailing slash: exactly what a browser sends in
/// `Origin` (RFC 6454 §7), so comparing is a string comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// `text` if it is already an origin's serialisation; `None` for a URL with a path, upper
    /// case, another scheme or anything else.
    pub fn parse(text: &str) -> Option<Origin> {
        let url = url::Url::parse(text).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        (url.origin().ascii_serialization() == text).then(|| Origin(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// `key_encryption_key` and `key_encryption_key_old`: 32 bytes, written in base64 (standard or
/// URL-safe, padded or not) and decoded as the config is read. `Debug` and serialisation
/// print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct KekBytes([u8; 32]);

impl KekBytes {
    pub fn from_base64(text: &str) -> Result<KekBytes, String> {
        crate::secret::decode_key_base64(text)
            .map(KekBytes)
            .map_err(|e| format!("key encryption key: {e}"))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for KekBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for KekBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for KekBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through `Secret`: an environment variable of digits arrives as a number.
        let text = Secret::deserialize(d)?;
        KekBytes::from_base64(text.expose()).map_err(D::Error::custom)
    }
}

/// `http.cors_allowed_origins`: each entry an origin; an error names the entry.
pub(super) fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Origin>, D::Error> {
    parse_each(d, Origin::parse, |i, origin| {
        format!(
            "entry {i} ({origin:?}) is not an origin: scheme://host[:port] in lower case, no \
             path, no trailing slash"
        )
    })
}

/// `http.trusted_proxies`: each entry an address or a CIDR block; an error names the entry.
pub(super) fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
    parse_each(d, Cidr::parse, |i, entry| {
        format!(
            "entry {i} ({entry:?}) is not an IP address or CIDR block such as 10.0.0.0/8 or \
             fd00::/8"
        )
    })
}

fn parse_each<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Option<T>,
    refusal: fn(usize, &str) -> String,
) -> Result<Vec<T>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .enumerate()
        .map(|(i, text)| parse(text).ok_or_else(|| D::Error::custom(refusal(i, text))))
        .collect()
}
