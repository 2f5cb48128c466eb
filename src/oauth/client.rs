//! A registered client as the protocol code sees it: RFC 7591 metadata plus Portcullis'
//! own fields, parsed from the store row.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::SigningAlg;
use crate::store::ClientRow;

/// RFC 7591 §2 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }

    /// RFC 6749 §2.1: a client that cannot keep a credential is public.
    pub fn is_public(self) -> bool {
        self == AuthMethod::None
    }
}

/// The kind of app, which fills in the recommended defaults at registration.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Web,
    Spa,
    Native,
    Service,
    Device,
    Api,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Web => "web",
            Profile::Spa => "spa",
            Profile::Native => "native",
            Profile::Service => "service",
            Profile::Device => "device",
            Profile::Api => "api",
        }
    }
}

/// What is stored for a client and shown by the admin API (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ClientMetadata {
    pub client_name: String,
    pub profile: Profile,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// Space-separated scopes the client may request (RFC 7591 §2).
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Resource identifiers (audiences) the client may ask tokens for.
    pub allowed_resources: Vec<String>,
    /// Resource identifiers a token exchange by this client (RFC 8693) may target: the APIs
    /// it may call on behalf of the users whose tokens it receives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
    /// RFC 9700 §2.1.1: PKCE on every authorization request of this client.
    pub require_pkce: bool,
    /// First-party apps may skip the consent page.
    pub first_party: bool,
    /// OIDC Back-Channel Logout 1.0 §2.2: where Logout Tokens are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// §2.2: the client needs `sid` in Logout Tokens (always sent here, so only recorded).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// OIDC Dynamic Client Registration 1.0 §2: the algorithm of this client's ID tokens (and
    /// Logout Tokens). Absent: `tokens.id_token_alg`, so the server's default still applies to
    /// clients registered without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// Token requests per minute for this client (`rate_limit.rs`), overriding
    /// `throttle.token_requests_per_minute`; 0: no limit. Absent: the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_requests_per_minute: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub meta: ClientMetadata,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn from_row(row: ClientRow) -> Result<Self, serde_json::Error> {
        Ok(Client {
            meta: serde_json::from_str(&row.metadata)?,
            id: row.client_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub fn auth_method(&self) -> AuthMethod {
        self.meta.token_endpoint_auth_method
    }

    pub fn is_public(&self) -> bool {
        self.auth_method().is_public()
    }

    pub fn has_grant_type(&self, grant_type: &str) -> bool {
        self.meta.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn allowed_scopes(&self) -> impl Iterator<Item = &str> {
        self.meta.scope.split_ascii_whitespace()
    }

    /// The algorithm this client's ID tokens and Logout Tokens are signed with: its registered
    /// `id_token_signed_response_alg`, else the server's `default` (`tokens.id_token_alg`).
    pub fn id_token_alg(&self, default: SigningAlg) -> SigningAlg {
        self.meta.id_token_signed_response_alg.unwrap_or(default)
    }

    pub fn may_use_resource(&self, identifier: &str) -> bool {
        self.meta.allowed_resources.iter().any(|r| r == identifier)
    }
}
