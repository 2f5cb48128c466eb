//! Client registration and management (RFC 7591 / RFC 7592 semantics over the admin API).

use serde::Serialize;
use serde_json::json;

use super::client_metadata::{ClientRegistration, validate};
use super::{Actor, AdminError, Page};
use crate::oauth::client::{Client, ClientMetadata};
use crate::secret::{random_token, sha256_hex};
use crate::store::{AuditEvent, ClientRow, ClientSecretRow, Store};

/// A client as the admin API shows it: never a secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub updated_at: i64,
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        ClientView {
            client_id: c.id,
            client_id_issued_at: c.created_at,
            updated_at: c.updated_at,
            metadata: c.meta,
        }
    }
}

/// RFC 7591 §3.2.1 response: the secret appears here once and is never shown again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    #[serde(flatten)]
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire (RFC 7591 §3.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Where the registration departs from current best practice (RFC 9700, RFC 8252), and
    /// metadata that was ignored.
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientList {
    pub clients: Vec<ClientView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn new_secret(client_id: &str, now: i64) -> (String, ClientSecretRow) {
    let secret = random_token();
    let row = ClientSecretRow {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client_id.to_string(),
        secret_hash: sha256_hex(&secret),
        created_at: now,
        expires_at: None,
    };
    (secret, row)
}

async fn validated(
    store: &Store,
    req: ClientRegistration,
) -> Result<(ClientMetadata, Vec<String>), AdminError> {
    let mut wanted = req.allowed_resources.clone().unwrap_or_default();
    wanted.extend(req.token_exchange_audiences.iter().flatten().cloned());
    let known: Vec<String> = store
        .resources_by_identifiers(&wanted)
        .await?
        .into_iter()
        .map(|r| r.identifier)
        .collect();
    validate(req, &|id| known.iter().any(|k| k == id))
}

fn row(client_id: &str, meta: &ClientMetadata, created_at: i64, now: i64) -> ClientRow {
    ClientRow {
        client_id: client_id.to_string(),
        client_name: meta.client_name.clone(),
        profile: meta.profile.as_str().to_string(),
        token_endpoint_auth_method: meta.token_endpoint_auth_method.as_str().to_string(),
        metadata: serde_json::to_string(meta).unwrap_or_default(),
        created_at,
        updated_at: now,
    }
}

fn audit_detail(meta: &ClientMetadata) -> serde_json::Value {
    json!({
        "client_name": meta.client_name,
        "profile": meta.profile,
        "grant_types": meta.grant_types,
        "token_endpoint_auth_method": meta.token_endpoint_auth_method,
    })
}

pub async fn register(
    store: &Store,
    actor: &Actor,
    req: ClientRegistration,
    now: i64,
) -> Result<Registered, AdminError> {
    let (meta, warnings) = validated(store, req).await?;
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = meta
        .token_endpoint_auth_method
        .uses_secret()
        .then(|| new_secret(&client_id, now));
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "client.create",
        &client_id,
        audit_detail(&meta),
    );
    store
        .insert_client(
            &row(&client_id, &meta, now, now),
            secret.as_ref().map(|s| &s.1),
            &audit,
        )
        .await?;
    Ok(Registered {
        client: ClientView {
            client_id,
            client_id_issued_at: now,
            updated_at: now,
            metadata: meta,
        },
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret.map(|s| s.0),
        warnings,
    })
}

pub async fn get(store: &Store, client_id: &str) -> Result<ClientView, AdminError> {
    let row = store
        .get_client(client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such client"))?;
    let client = Client::from_row(row).map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(client.into())
}

pub async fn list(store: &Store, page: &Page) -> Result<ClientList, AdminError> {
    let limit = page.limit();
    let rows = store.list_clients(page.after.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut clients = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(limit as usize) {
        let client = Client::from_row(row).map_err(|e| AdminError::Internal(e.to_string()))?;
        clients.push(ClientView::from(client));
    }
    let next = more
        .then(|| clients.last().map(|c| c.client_id.clone()))
        .flatten();
    Ok(ClientList { clients, next })
}

/// RFC 7592 §2.2: the request replaces the client's metadata. A client newly switched to a
/// secret-based method that has no secret gets one, returned once.
pub async fn update(
    store: &Store,
    actor: &Actor,
    client_id: &str,
    req: ClientRegistration,
    now: i64,
) -> Result<Registered, AdminError> {
    let existing = store
        .get_client(client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such client"))?;
    let (meta, warnings) = validated(store, req).await?;
    let needs_secret = meta.token_endpoint_auth_method.uses_secret()
        && store.client_secret_hashes(client_id, now).await?.is_empty();
    let secret = needs_secret.then(|| new_secret(client_id, now));
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "client.update",
        client_id,
        audit_detail(&meta),
    );
    let updated = store
        .update_client(
            &row(client_id, &meta, existing.created_at, now),
            secret.as_ref().map(|s| &s.1),
            &audit,
        )
        .await?;
    if !updated {
        return Err(AdminError::NotFound("no such client"));
    }
    Ok(Registered {
        client: ClientView {
            client_id: client_id.to_string(),
            client_id_issued_at: existing.created_at,
            updated_at: now,
            metadata: meta,
        },
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret.map(|s| s.0),
        warnings,
    })
}

pub async fn delete(
    store: &Store,
    actor: &Actor,
    client_id: &str,
    now: i64,
) -> Result<(), AdminError> {
    let audit = AuditEvent::new(now, &actor.0, "client.delete", client_id, json!({}));
    if store.delete_client(client_id, &audit).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound("no such client"))
    }
}

/// A new client secret, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    pub client_secret: String,
    pub client_secret_expires_at: i64,
    /// When the previous secrets stop working.
    pub previous_secrets_expire_at: i64,
}

/// The longest previous secrets may keep working after a rotation.
pub const MAX_GRACE_PERIOD: u64 = 365 * 86_400;

/// Adds a new secret; the old ones keep working for `grace_period` seconds so deployments can
/// roll over without downtime.
pub async fn rotate_secret(
    store: &Store,
    actor: &Actor,
    client_id: &str,
    grace_period: u64,
    now: i64,
) -> Result<RotatedSecret, AdminError> {
    // Anything longer is a typo, and past i64 the sum below would overflow.
    if grace_period > MAX_GRACE_PERIOD {
        return Err(AdminError::invalid(
            "grace_period",
            "at most 31536000 seconds (a year)",
        ));
    }
    let client = get(store, client_id).await?;
    if !client.metadata.token_endpoint_auth_method.uses_secret() {
        return Err(AdminError::InvalidRequest(format!(
            "client authenticates with {}, not a secret",
            client.metadata.token_endpoint_auth_method.as_str()
        )));
    }
    let (secret, row) = new_secret(client_id, now);
    let old_expire_at = now + grace_period as i64;
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "client.rotate_secret",
        client_id,
        json!({ "grace_period": grace_period }),
    );
    if !store
        .rotate_client_secret(&row, old_expire_at, &audit)
        .await?
    {
        return Err(AdminError::NotFound("no such client"));
    }
    Ok(RotatedSecret {
        client_id: client_id.to_string(),
        client_secret: secret,
        client_secret_expires_at: 0,
        previous_secrets_expire_at: old_expire_at,
    })
}
