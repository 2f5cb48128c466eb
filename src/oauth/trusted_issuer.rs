//! RFC 7521 §5.1: an issuer whose assertions this server trusts, as the JWT bearer
//! (RFC 7523 §2.1) and SAML 2.0 bearer (RFC 7522 §2.1) grants use it: its keys, which clients
//! may present its assertions, which scopes they may obtain that way, and how the assertion's
//! subject becomes the access token's `sub`.

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::OAuthError;
use crate::oauth::jwt_assertion::{KeySource, asymmetric_alg};
use crate::store::IssuerRow;

/// `jwt`: a JWT issuer (RFC 7523); `saml`: a SAML 2.0 identity provider (RFC 7522).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssuerKind {
    Jwt,
    Saml,
}

impl IssuerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Jwt => "jwt",
            IssuerKind::Saml => "saml",
        }
    }
}

/// How the assertion's subject (JWT `sub`, SAML `NameID`) names the token's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectMapping {
    /// A local user whose id is the subject.
    UserId,
    /// A local user whose username is the subject.
    Username,
    /// The one local user whose `email` claim is the subject.
    Email,
    /// No local user: the subject passes through as the token's `sub`.
    External,
}

/// The registration besides kind and identifier: JSON in `assertion_issuers.config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerConfig {
    pub name: String,
    /// JWT: a JWK Set registered inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// JWT: where the issuer publishes its JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// JWT: the JWA names of the algorithms its assertions may use (asymmetric only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// SAML: the IdP's signing certificates, PEM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// Client ids that may present this issuer's assertions.
    pub allowed_clients: Vec<String>,
    /// The scopes a token obtained with this issuer's assertions may carry.
    pub scopes: Vec<String>,
    pub subject: SubjectMapping,
}

#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub id: String,
    pub kind: IssuerKind,
    /// JWT `iss` or SAML entity id.
    pub issuer: String,
    pub config: IssuerConfig,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TrustedIssuer {
    pub fn from_row(row: IssuerRow) -> Result<Self, OAuthError> {
        let broken = |what: String| {
            OAuthError::server_error().with_detail(format!("assertion issuer {}: {what}", row.id))
        };
        let kind = match row.kind.as_str() {
            "jwt" => IssuerKind::Jwt,
            "saml" => IssuerKind::Saml,
            other => return Err(broken(format!("unknown kind {other:?}"))),
        };
        let config = serde_json::from_str(&row.config).map_err(|e| broken(e.to_string()))?;
        Ok(TrustedIssuer {
            id: row.id,
            kind,
            issuer: row.issuer,
            config,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The algorithms and keys a JWT of this issuer is verified with (RFC 7523 §3 item 9);
    /// `None` when the registration holds no keys.
    pub fn jwt_keys(&self) -> Option<(Vec<Algorithm>, KeySource<'_>)> {
        let algorithms = self
            .config
            .algorithms
            .iter()
            .filter_map(|a| asymmetric_alg(a))
            .collect();
        let keys = match (&self.config.jwks, &self.config.jwks_uri) {
            (Some(jwks), _) => KeySource::Inline(jwks),
            (None, Some(uri)) => KeySource::Remote(uri),
            (None, None) => return None,
        };
        Some((algorithms, keys))
    }

    /// RFC 7521 §5.1 / §4.1: the issuer is trusted for the clients it names, not for any.
    pub fn may_be_used_by(&self, client_id: &str) -> bool {
        self.config.allowed_clients.iter().any(|c| c == client_id)
    }
}
