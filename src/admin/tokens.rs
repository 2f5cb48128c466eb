//! Admin API tokens: random, shown once, stored as SHA-256.

use serde::Serialize;
use serde_json::json;

use super::{Actor, AdminError};
use crate::secret::{constant_time_eq, random_token, sha256_hex};
use crate::store::{AdminTokenRow, AuditEvent, Store};

/// Prefix that lets secret scanners recognise a leaked admin token.
const PREFIX: &str = "pcadm_";

#[derive(Debug, Serialize)]
pub struct CreatedAdminToken {
    pub id: String,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

pub async fn create(
    store: &Store,
    actor: &Actor,
    description: &str,
    lifetime: Option<u64>,
    now: i64,
) -> Result<CreatedAdminToken, AdminError> {
    let token = format!("{PREFIX}{}", random_token());
    let row = AdminTokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        token_hash: sha256_hex(&token),
        description: description.to_string(),
        created_at: now,
        expires_at: lifetime.map(|l| now + l as i64),
    };
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "admin_token.create",
        &row.id,
        json!({ "description": description }),
    );
    store.insert_admin_token(&row, &audit).await?;
    Ok(CreatedAdminToken {
        id: row.id,
        token,
        expires_at: row.expires_at,
    })
}

/// Who a presented admin token belongs to, if anyone: the bootstrap token from config or a
/// stored one. The bootstrap comparison is constant-time; stored ones are found by digest.
pub async fn authenticate(
    store: &Store,
    bootstrap_hash: Option<&str>,
    presented: &str,
    now: i64,
) -> Result<Option<Actor>, AdminError> {
    let hash = sha256_hex(presented);
    if bootstrap_hash.is_some_and(|b| constant_time_eq(b, &hash)) {
        return Ok(Some(Actor("bootstrap".into())));
    }
    Ok(store
        .find_admin_token(&hash, now)
        .await?
        .map(|row| Actor(format!("admin-token:{}", row.id))))
}
