//! Resource servers (RFC 8707) and how a token request's target audience is resolved.

use serde::{Deserialize, Serialize};

use crate::config::SigningAlg;
use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::store::ResourceRow;

/// The format of the access tokens issued for a resource.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// RFC 9068 JWT, verifiable by the API itself.
    Jwt,
    /// Random reference token, stored hashed; only introspection can read it.
    Opaque,
}

/// A scope a resource defines, with the text the consent page shows for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ScopeDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeDef>,
    pub access_token_lifetime: Option<u64>,
    pub access_token_format: TokenFormat,
    pub signing_alg: Option<SigningAlg>,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Resource {
    pub fn from_row(row: ResourceRow) -> Result<Self, OAuthError> {
        let corrupt = |what: &str| {
            OAuthError::server_error().with_detail(format!("resource {}: bad {what}", row.id))
        };
        Ok(Resource {
            scopes: serde_json::from_str(&row.scopes).map_err(|_| corrupt("scopes"))?,
            access_token_lifetime: row.access_token_lifetime.map(|l| l.max(1) as u64),
            access_token_format: match row.access_token_format.as_str() {
                "jwt" => TokenFormat::Jwt,
                "opaque" => TokenFormat::Opaque,
                _ => return Err(corrupt("access_token_format")),
            },
            signing_alg: match &row.signing_alg {
                None => None,
                Some(a) => Some(SigningAlg::parse(a).ok_or_else(|| corrupt("signing_alg"))?),
            },
            id: row.id,
            identifier: row.identifier,
            name: row.name,
            client_id: row.client_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub fn defines_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.name == scope)
    }
}

/// RFC 8707 §2 / RFC 8693 §2.1: the resources a token is requested for. Every requested
/// identifier must be registered and allowed for the client; with none requested, a client
/// allowed exactly one resource gets that one (RFC 9068 §3: a default audience), otherwise the
/// request must say which.
pub async fn resolve_targets(
    state: &ProtocolContext,
    client: &Client,
    requested: &[String],
) -> Result<Vec<Resource>, OAuthError> {
    resolve_targets_among(state, &client.id, &client.meta.allowed_resources, requested).await
}

/// `resolve_targets` against another allow-list of the client's (token exchange reads
/// `token_exchange_audiences`).
pub async fn resolve_targets_among(
    state: &ProtocolContext,
    client_id: &str,
    allowed: &[String],
    requested: &[String],
) -> Result<Vec<Resource>, OAuthError> {
    let identifiers: Vec<String> = if requested.is_empty() {
        match allowed {
            [only] => vec![only.clone()],
            _ => {
                return Err(OAuthError::invalid_target(
                    "name the API with the resource or audience parameter",
                ));
            }
        }
    } else {
        let mut unique: Vec<String> = Vec::with_capacity(requested.len());
        for r in requested {
            if !unique.contains(r) {
                unique.push(r.clone());
            }
        }
        unique
    };
    for id in &identifiers {
        if crate::oauth::uri::parse_absolute(id).is_err() {
            // RFC 8707 §2: resource is an absolute URI without a fragment.
            return Err(
                OAuthError::invalid_target("resource must be an absolute URI")
                    .with_detail(format!("resource {id:?}")),
            );
        }
        if !allowed.contains(id) {
            return Err(
                OAuthError::invalid_target("the client may not request this resource")
                    .with_detail(format!("client {client_id} resource {id:?}")),
            );
        }
    }
    // Through the node's short-lived copy (`oauth/resource_cache.rs`).
    let found = state
        .resources
        .by_identifiers(&state.store, &identifiers, state.now())
        .await?;
    if found.len() != identifiers.len() {
        return Err(OAuthError::invalid_target("unknown resource"));
    }
    Ok(found.iter().map(|r| Resource::clone(r)).collect())
}
