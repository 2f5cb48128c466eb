//! Trusted assertion issuers (RFC 7521 §5.1): the JWT issuers (RFC 7523) and SAML identity
//! providers (RFC 7522) whose assertions clients may exchange for access tokens.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Actor, AdminError, Page};
use crate::oauth::jwt_assertion::asymmetric_alg;
use crate::oauth::scope::Scope;
use crate::oauth::trusted_issuer::{IssuerConfig, IssuerKind, SubjectMapping, TrustedIssuer};
use crate::oauth::uri::parse_absolute;
use crate::store::{AuditEvent, IssuerRow, Store, StoreError};

/// A create or replace request. `issuer` + `jwks`/`jwks_uri` + `algorithms` for kind `jwt`;
/// `entity_id` + `certificates` for kind `saml`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerRequest {
    pub kind: IssuerKind,
    /// For people; the issuer or entity id when absent.
    pub name: Option<String>,
    /// Kind `jwt`: the assertions' `iss`.
    pub issuer: Option<String>,
    /// Kind `saml`: the identity provider's entity id.
    pub entity_id: Option<String>,
    /// Kind `jwt`: the issuer's JWK Set, inline (or give `jwks_uri`).
    pub jwks: Option<Value>,
    /// Kind `jwt`: where the issuer publishes its JWK Set (https).
    pub jwks_uri: Option<String>,
    /// Kind `jwt`: the JWA names its assertions may use, asymmetric only (RS*, PS*, ES256,
    /// ES384, EdDSA).
    pub algorithms: Option<Vec<String>>,
    /// Kind `saml`: the identity provider's signing certificates, PEM.
    pub certificates: Option<Vec<String>>,
    /// Client ids that may present this issuer's assertions.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
    /// The scopes a token obtained with this issuer's assertions may carry.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub subject: SubjectMapping,
}

/// A trusted issuer as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuerView {
    pub id: String,
    pub kind: IssuerKind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    pub allowed_clients: Vec<String>,
    pub scopes: Vec<String>,
    pub subject: SubjectMapping,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<TrustedIssuer> for IssuerView {
    fn from(i: TrustedIssuer) -> Self {
        let (issuer, entity_id) = match i.kind {
            IssuerKind::Jwt => (Some(i.issuer), None),
            IssuerKind::Saml => (None, Some(i.issuer)),
        };
        IssuerView {
            id: i.id,
            kind: i.kind,
            name: i.config.name,
            issuer,
            entity_id,
            jwks: i.config.jwks,
            jwks_uri: i.config.jwks_uri,
            algorithms: i.config.algorithms,
            certificates: i.config.certificates,
            allowed_clients: i.config.allowed_clients,
            scopes: i.config.scopes,
            subject: i.config.subject,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuerList {
    pub issuers: Vec<IssuerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Longest issuer identifier, in bytes: it is unique-indexed (PostgreSQL index entries hold
/// at most 2704 bytes).
pub const MAX_ISSUER_LEN: usize = 2000;

fn bad(field: &str, message: &str) -> AdminError {
    AdminError::invalid(field, message)
}

/// Fields of the other kind must be absent: a `saml` issuer with `jwks` is a mistake.
fn refuse_present<T>(field: &str, value: &Option<T>, kind: IssuerKind) -> Result<(), AdminError> {
    if value.is_some() {
        return Err(bad(field, &format!("not used by kind {}", kind.as_str())));
    }
    Ok(())
}

fn identifier(field: &str, value: Option<String>) -> Result<String, AdminError> {
    let value = value.ok_or_else(|| bad(field, "required"))?;
    if value.trim().is_empty() || value.trim() != value {
        return Err(bad(field, "must be non-empty, without surrounding spaces"));
    }
    if value.len() > MAX_ISSUER_LEN {
        return Err(bad(field, "at most 2000 bytes"));
    }
    Ok(value)
}

/// Checks a JWT issuer's key material: one key source, every key asymmetric and usable, and
/// algorithms from the asymmetric set only (RFC 8725 §3.1: never `none`, never HMAC with a
/// public key).
fn check_jwt(req: &IssuerRequest) -> Result<Vec<String>, AdminError> {
    match (&req.jwks, &req.jwks_uri) {
        (Some(_), Some(_)) => return Err(bad("jwks", "give jwks or jwks_uri, not both")),
        (None, None) => return Err(bad("jwks", "jwks or jwks_uri is required")),
        (Some(jwks), None) => {
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone())
                .map_err(|e| bad("jwks", &format!("not a JWK Set: {e}")))?;
            if set.keys.is_empty() {
                return Err(bad("jwks", "holds no key"));
            }
            // RFC 7517 §4.5: an assertion's `kid` must name one key.
            if crate::oauth::jwt_assertion::has_duplicate_kid(&set) {
                return Err(bad("jwks", "two keys share a kid"));
            }
            // RFC 7518 §6.2.2 / §6.3.2: `d` is private key material; it never belongs here.
            let private = jwks["keys"]
                .as_array()
                .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()));
            if private {
                return Err(bad("jwks", "must hold public keys only"));
            }
            for key in &set.keys {
                if matches!(
                    key.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
                ) {
                    return Err(bad("jwks", "symmetric (oct) keys are not accepted"));
                }
                jsonwebtoken::DecodingKey::from_jwk(key)
                    .map_err(|e| bad("jwks", &format!("unusable key: {e}")))?;
            }
        }
        (None, Some(uri)) => {
            let url = url::Url::parse(uri).map_err(|e| bad("jwks_uri", &e.to_string()))?;
            let loopback = crate::oauth::uri::is_loopback_host(url.host_str());
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(bad("jwks_uri", "must be https"));
            }
        }
    }
    let algorithms = req
        .algorithms
        .clone()
        .ok_or_else(|| bad("algorithms", "required"))?;
    if algorithms.is_empty() {
        return Err(bad("algorithms", "name at least one"));
    }
    for a in &algorithms {
        if asymmetric_alg(a).is_none() {
            return Err(bad(
                "algorithms",
                &format!(
                    "{a:?} is not accepted: asymmetric algorithms only (RS*, PS*, ES256, ES384, EdDSA)"
                ),
            ));
        }
    }
    Ok(algorithms)
}

fn check_saml(req: &IssuerRequest) -> Result<Vec<String>, AdminError> {
    let certificates = req
        .certificates
        .clone()
        .ok_or_else(|| bad("certificates", "required"))?;
    if certificates.is_empty() {
        return Err(bad("certificates", "name at least one"));
    }
    for (i, pem) in certificates.iter().enumerate() {
        crate::oauth::saml::signing_key(pem).map_err(|e| {
            bad(
                "certificates",
                &format!("[{i}]: not a PEM certificate: {e}"),
            )
        })?;
    }
    Ok(certificates)
}

async fn to_row(
    store: &Store,
    req: IssuerRequest,
    id: String,
    created_at: i64,
    now: i64,
) -> Result<IssuerRow, AdminError> {
    let kind = req.kind;
    let (issuer, algorithms, certificates) = match kind {
        IssuerKind::Jwt => {
            refuse_present("entity_id", &req.entity_id, kind)?;
            refuse_present("certificates", &req.certificates, kind)?;
            let algorithms = check_jwt(&req)?;
            (
                identifier("issuer", req.issuer.clone())?,
                algorithms,
                Vec::new(),
            )
        }
        IssuerKind::Saml => {
            refuse_present("issuer", &req.issuer, kind)?;
            refuse_present("jwks", &req.jwks, kind)?;
            refuse_present("jwks_uri", &req.jwks_uri, kind)?;
            refuse_present("algorithms", &req.algorithms, kind)?;
            let certificates = check_saml(&req)?;
            (
                identifier("entity_id", req.entity_id.clone())?,
                Vec::new(),
                certificates,
            )
        }
    };
    if kind == IssuerKind::Jwt {
        parse_absolute(&issuer).map_err(|m| bad("issuer", m))?;
    }
    for scope in &req.scopes {
        if Scope::parse(scope)
            .filter(|p| p.iter().count() == 1)
            .is_none()
        {
            return Err(bad(
                "scopes",
                &format!("{scope:?} is not a single scope token"),
            ));
        }
    }
    for client_id in &req.allowed_clients {
        if store.get_client(client_id).await?.is_none() {
            return Err(bad(
                "allowed_clients",
                &format!("no such client {client_id:?}"),
            ));
        }
    }
    let config = IssuerConfig {
        name: req.name.unwrap_or_else(|| issuer.clone()),
        jwks: req.jwks,
        jwks_uri: req.jwks_uri,
        algorithms,
        certificates,
        allowed_clients: req.allowed_clients,
        scopes: req.scopes,
        subject: req.subject,
    };
    Ok(IssuerRow {
        id,
        kind: kind.as_str().to_string(),
        issuer,
        config: serde_json::to_string(&config).map_err(|e| AdminError::Internal(e.to_string()))?,
        created_at,
        updated_at: now,
    })
}

fn conflict(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict => {
            AdminError::Conflict("an issuer of this kind with this identifier exists")
        }
        other => other.into(),
    }
}

fn audit_detail(row: &IssuerRow) -> Value {
    // The key material is public, but the audit trail needs only what changed hands.
    let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
    json!({
        "kind": row.kind,
        "issuer": row.issuer,
        "allowed_clients": config["allowed_clients"],
        "scopes": config["scopes"],
        "subject": config["subject"],
    })
}

pub async fn create(
    store: &Store,
    actor: &Actor,
    req: IssuerRequest,
    now: i64,
) -> Result<IssuerView, AdminError> {
    let row = to_row(store, req, uuid::Uuid::new_v4().to_string(), now, now).await?;
    let audit = AuditEvent::new(now, &actor.0, "issuer.create", &row.id, audit_detail(&row));
    store.insert_issuer(&row, &audit).await.map_err(conflict)?;
    Ok(TrustedIssuer::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn get(store: &Store, id: &str) -> Result<IssuerView, AdminError> {
    let row = store
        .get_issuer(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such issuer"))?;
    Ok(TrustedIssuer::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn list(store: &Store, page: &Page) -> Result<IssuerList, AdminError> {
    let limit = page.limit();
    let rows = store.list_issuers(page.after.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let issuers = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| {
            TrustedIssuer::from_row(r)
                .map(IssuerView::from)
                .map_err(AdminError::Protocol)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next = more.then(|| issuers.last().map(|i| i.id.clone())).flatten();
    Ok(IssuerList { issuers, next })
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: &str,
    req: IssuerRequest,
    now: i64,
) -> Result<IssuerView, AdminError> {
    let existing = store
        .get_issuer(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such issuer"))?;
    let row = to_row(store, req, id.to_string(), existing.created_at, now).await?;
    let audit = AuditEvent::new(now, &actor.0, "issuer.update", id, audit_detail(&row));
    if !store.update_issuer(&row, &audit).await.map_err(conflict)? {
        return Err(AdminError::NotFound("no such issuer"));
    }
    Ok(TrustedIssuer::from_row(row)
        .map_err(AdminError::Protocol)?
        .into())
}

pub async fn delete(store: &Store, actor: &Actor, id: &str, now: i64) -> Result<(), AdminError> {
    let audit = AuditEvent::new(now, &actor.0, "issuer.delete", id, json!({}));
    if store.delete_issuer(id, &audit).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound("no such issuer"))
    }
}
