//! Resource servers (APIs): the audiences tokens are issued for, with their scopes and token
//! settings.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Actor, AdminError, Page};
use crate::config::SigningAlg;
use crate::oauth::resource::{Resource, ScopeDef, TokenFormat};
use crate::oauth::scope::Scope;
use crate::oauth::uri::parse_absolute;
use crate::store::{AuditEvent, ResourceRow, Store, StoreError};

/// A scope: its name alone, or its name and description.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ScopeInput {
    Name(String),
    Def(ScopeDef),
}

/// A create or replace request for a resource server (an API).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRequest {
    /// An absolute URI without a fragment (RFC 8707 §2), at most 2000 bytes: the tokens' `aud`.
    pub identifier: String,
    /// For people; the identifier when absent.
    pub name: Option<String>,
    #[serde(default)]
    pub scopes: Vec<ScopeInput>,
    /// Seconds, 1 to 86400; the configured `tokens.access_token_lifetime` when absent.
    pub access_token_lifetime: Option<u64>,
    /// `jwt` when absent.
    pub access_token_format: Option<TokenFormat>,
    /// The algorithm of this API's JWT access tokens; the server's default when absent.
    pub signing_alg: Option<SigningAlg>,
    /// The client that acts as this API: it may introspect the API's tokens, and only it may
    /// exchange them (RFC 8693).
    pub client_id: Option<String>,
}

/// A resource server (an API) as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u64>,
    pub access_token_format: TokenFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<SigningAlg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Resource> for ResourceView {
    fn from(r: Resource) -> Self {
        ResourceView {
            id: r.id,
            identifier: r.identifier,
            name: r.name,
            scopes: r.scopes,
            access_token_lifetime: r.access_token_lifetime,
            access_token_format: r.access_token_format,
            signing_alg: r.signing_alg,
            client_id: r.client_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceList {
    pub resources: Vec<ResourceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Longest resource identifier, in bytes.
pub const MAX_IDENTIFIER_LEN: usize = 2000;

fn bad(field: &str, message: &str) -> AdminError {
    AdminError::invalid(field, message)
}

async fn to_row(
    store: &Store,
    req: ResourceRequest,
    id: String,
    created_at: i64,
    now: i64,
) -> Result<ResourceRow, AdminError> {
    // The identifier is unique-indexed, and a PostgreSQL index entry holds at most 2704 bytes.
    if req.identifier.len() > MAX_IDENTIFIER_LEN {
        return Err(bad("identifier", "at most 2000 bytes"));
    }
    // RFC 8707 §2: an absolute URI without a fragment; `api://orders` style URNs included.
    parse_absolute(&req.identifier).map_err(|m| bad("identifier", m))?;
    let mut scopes: Vec<ScopeDef> = Vec::new();
    for s in req.scopes {
        let def = match s {
            ScopeInput::Name(name) => ScopeDef {
                name,
                description: String::new(),
            },
            ScopeInput::Def(d) => d,
        };
        let parsed = Scope::parse(&def.name).filter(|p| p.iter().count() == 1);
        if parsed.is_none() {
            return Err(bad(
                "scopes",
                &format!("{:?} is not a single scope token", def.name),
            ));
        }
        if scopes.iter().any(|x| x.name == def.name) {
            return Err(bad("scopes", &format!("{:?} appears twice", def.name)));
        }
        scopes.push(def);
    }
    if let Some(l) = req.access_token_lifetime
        && !(1..=86_400).contains(&l)
    {
        return Err(bad(
            "access_token_lifetime",
            "must be between 1 and 86400 seconds",
        ));
    }
    if let Some(client_id) = &req.client_id
        && store.get_client(client_id).await?.is_none()
    {
        return Err(bad("client_id", "no such client"));
    }
    let format = req.access_token_format.unwrap_or(TokenFormat::Jwt);
    Ok(ResourceRow {
        id,
        name: req.name.unwrap_or_else(|| req.identifier.clone()),
        identifier: req.identifier,
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        access_token_lifetime: req.access_token_lifetime.map(|l| l as i64),
        access_token_format: match format {
            TokenFormat::Jwt => "jwt".into(),
            TokenFormat::Opaque => "opaque".into(),
        },
        signing_alg: req.signing_alg.map(|a| a.as_str().to_string()),
        client_id: req.client_id,
        created_at,
        updated_at: now,
    })
}

fn conflict(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict => AdminError::Conflict("a resource with this identifier exists"),
        other => other.into(),
    }
}

fn audit_detail(row: &ResourceRow) -> serde_json::Value {
    json!({ "identifier": row.identifier, "format": row.access_token_format, "client_id": row.client_id })
}

pub async fn create(
    store: &Store,
    actor: &Actor,
    req: ResourceRequest,
    now: i64,
) -> Result<ResourceView, AdminError> {
    let row = to_row(store, req, uuid::Uuid::new_v4().to_string(), now, now).await?;
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "resource.create",
        &row.id,
        audit_detail(&row),
    );
    store
        .insert_resource(&row, &audit)
        .await
        .map_err(conflict)?;
    Ok(Resource::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn get(store: &Store, id: &str) -> Result<ResourceView, AdminError> {
    let row = store
        .get_resource(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such resource"))?;
    Ok(Resource::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn list(store: &Store, page: &Page) -> Result<ResourceList, AdminError> {
    let limit = page.limit();
    let rows = store
        .list_resources(page.after.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let resources = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| {
            Resource::from_row(r)
                .map(ResourceView::from)
                .map_err(AdminError::Protocol)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next = more
        .then(|| resources.last().map(|r| r.id.clone()))
        .flatten();
    Ok(ResourceList { resources, next })
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: &str,
    req: ResourceRequest,
    now: i64,
) -> Result<ResourceView, AdminError> {
    let existing = store
        .get_resource(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such resource"))?;
    let row = to_row(store, req, id.to_string(), existing.created_at, now).await?;
    let audit = AuditEvent::new(now, &actor.0, "resource.update", id, audit_detail(&row));
    if !store
        .update_resource(&row, &audit)
        .await
        .map_err(conflict)?
    {
        return Err(AdminError::NotFound("no such resource"));
    }
    Ok(Resource::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn delete(store: &Store, actor: &Actor, id: &str, now: i64) -> Result<(), AdminError> {
    let audit = AuditEvent::new(now, &actor.0, "resource.delete", id, json!({}));
    if store.delete_resource(id, &audit).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound("no such resource"))
    }
}
