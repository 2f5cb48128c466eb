//! The signing key ring (RFC 7517 key sets, published at `jwks_uri`, RFC 8414 §2): every key has `valid_from` and, once a newer key
//! takes over, `publish_until`. The newest key of an algorithm whose `valid_from` has passed
//! signs; keys stay in JWKS until `publish_until`, which outlives every token they signed.
//! Every node reloads the ring from the store on a timer, so a rotation made on one node takes
//! effect on all of them within `keys.reload_interval`.

mod alg;
pub mod kek;
pub mod kek_file;
pub mod kek_rotation;
pub mod signer;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{SigningKeyRow, Store, StoreError};
pub use alg::SigningAlg;
use kek::Kek;
use signer::{PrivateKey, PublicKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key encryption key: {0}")]
    Kek(String),
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("no active {0} signing key")]
    NoActiveKey(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct LoadedKey {
    kid: String,
    alg: SigningAlg,
    valid_from: i64,
    private: PrivateKey,
    public: PublicKey,
}

/// One consistent view of the ring, swapped whole on reload.
struct KeySet {
    /// Newest first: ordered by (`valid_from`, `kid`) descending, the order the store uses.
    keys: Vec<LoadedKey>,
    by_kid: HashMap<String, usize>,
    /// JWKS serialised once per load, not per request.
    jwks: Arc<[u8]>,
    /// Tokens this set has verified, by the SHA-256 of their exact text: a resource server
    /// introspecting the same token on every call costs one signature check, not one per
    /// call. Tied to the set, so a reload (every `keys.reload_interval`, or a rotation)
    /// starts afresh and a removed key verifies nothing from then on.
    verified: RwLock<HashMap<[u8; 32], Verified>>,
}

/// A verified token's header and claims.
type Verified = Arc<(Value, Value)>;

/// Most verified tokens a key set remembers (about 1 KiB each); past it, it forgets them all.
const MAX_VERIFIED: usize = 4_096;

pub struct KeyRing {
    kek: Kek,
    current: RwLock<Arc<KeySet>>,
}

/// What `GET /admin/keys` and `portcullis keys list` show; never private material.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    #[schema(example = "ES256")]
    pub alg: String,
    pub created_at: i64,
    /// When the key starts signing (Unix seconds); it is in JWKS from the moment it is added.
    pub valid_from: i64,
    /// When the key leaves JWKS; null while no newer key has replaced it.
    #[schema(required = true)]
    pub publish_until: Option<i64>,
    /// `active` (signs now), `next` (signs from `valid_from`) or `retiring` (published only).
    #[schema(value_type = String, example = "active")]
    pub status: &'static str,
}

impl KeyRing {
    /// Loads the ring, generating a key for every algorithm that has none (first start).
    pub async fn load_or_generate(store: &Store, kek: Kek, now: i64) -> Result<Self, KeyError> {
        let ring = KeyRing {
            kek,
            current: RwLock::new(Arc::new(KeySet::empty())),
        };
        let rows = store.list_signing_keys(now).await?;
        for alg in SigningAlg::ALL {
            if !rows.iter().any(|r| r.alg == alg.as_str()) {
                let row = ring.new_key_row(alg, now, now)?;
                store
                    .insert_signing_keys(std::slice::from_ref(&row), None, None)
                    .await?;
                tracing::info!(kid = %row.kid, alg = alg.as_str(), "generated signing key");
            }
        }
        ring.reload(store, now).await?;
        Ok(ring)
    }

    /// Reads the ring from the store again; cheap when nothing changed (no parsing of keys
    /// already loaded would be cheaper still, but rotations are rare and keys few).
    pub async fn reload(&self, store: &Store, now: i64) -> Result<(), KeyError> {
        let rows = store.list_signing_keys(now).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(alg) = SigningAlg::parse(&row.alg) else {
                tracing::warn!(kid = %row.kid, alg = %row.alg, "skipping key of unknown algorithm");
                continue;
            };
            let der = self.kek.open(&row.private_key, &row.kid)?;
            let private = PrivateKey::from_pkcs8(alg, &der)?;
            keys.push(LoadedKey {
                kid: row.kid.clone(),
                alg,
                valid_from: row.valid_from,
                public: PublicKey::from_private(&private),
                private,
            });
        }
        let jwks: Vec<Value> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.public_jwk).ok())
            .collect();
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let by_kid = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.kid.clone(), i))
            .collect();
        let set = KeySet {
            keys,
            by_kid,
            jwks: jwks.into(),
            verified: RwLock::default(),
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        read_lock(&self.current).clone()
    }

    pub fn jwks(&self) -> Arc<[u8]> {
        self.snapshot().jwks.clone()
    }

    /// Makes a new key row: generated, private key sealed under the KEK.
    pub fn new_key_row(
        &self,
        alg: SigningAlg,
        now: i64,
        valid_from: i64,
    ) -> Result<SigningKeyRow, KeyError> {
        // Time-ordered (UUIDv7, lowercase hex): keys with the same `valid_from` are ranked by
        // kid, so a key made later must sort later, or a rotation within the same second as
        // the previous key's start would leave the old key signing half the time.
        let kid = uuid::Uuid::now_v7().simple().to_string();
        let generated = signer::generate(alg, &kid)?;
        Ok(SigningKeyRow {
            private_key: self.kek.seal(&generated.pkcs8, &kid)?,
            public_jwk: generated.public_jwk.to_string(),
            kid,
            alg: alg.as_str().to_string(),
            created_at: now,
            valid_from,
            publish_until: None,
        })
    }

    /// Signs a compact JWS (RFC 7515 §7.1) with the active key of `alg`.
    pub fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
        now: i64,
    ) -> Result<String, KeyError> {
        let set = self.snapshot();
        let key = set
            .keys
            .iter()
            .find(|k| k.alg == alg && k.valid_from <= now)
            .ok_or(KeyError::NoActiveKey(alg.as_str()))?;
        let header = serde_json::json!({ "alg": alg.as_str(), "typ": typ, "kid": key.kid });
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut jws = URL_SAFE_NO_PAD.encode(header.to_string());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let signature = key.private.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }

    /// The `kid` that would sign for `alg` at `now`.
    pub fn active_kid(&self, alg: SigningAlg, now: i64) -> Option<String> {
        self.snapshot()
            .keys
            .iter()
            .find(|k| k.alg == alg && k.valid_from <= now)
            .map(|k| k.kid.clone())
    }

    /// Verifies a compact JWS signed by one of our published keys; returns header and claims.
    /// Expiry, issuer and audience are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<(Value, Value)> {
        let set = self.snapshot();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = read_lock(&set.verified).get(&digest) {
            return Some((**hit).clone());
        }
        let verified = Self::verify_with(&set, token)?;
        let mut cache = set.verified.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_VERIFIED {
            cache.clear();
        }
        cache.insert(digest, Arc::new(verified.clone()));
        Some(verified)
    }

    fn verify_with(set: &KeySet, token: &str) -> Option<(Value, Value)> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let key = &set.keys[*set.by_kid.get(header.get("kid")?.as_str()?)?];
        // RFC 8725 §3.1: the algorithm is the key's, never the one the token names.
        if header.get("alg")?.as_str()? != key.alg.as_str() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
        let signed = &token[..h.len() + 1 + p.len()];
        if !key.public.verify(signed.as_bytes(), &signature) {
            return None;
        }
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        claims.is_object().then_some((header, claims))
    }

    pub fn describe(&self, rows: &[SigningKeyRow], now: i64) -> Vec<KeyInfo> {
        let set = self.snapshot();
        rows.iter()
            .map(|r| {
                let signing = SigningAlg::parse(&r.alg)
                    .and_then(|alg| {
                        set.keys
                            .iter()
                            .find(|k| k.alg == alg && k.valid_from <= now)
                    })
                    .is_some_and(|k| k.kid == r.kid);
                let status = if signing {
                    "active"
                } else if r.valid_from > now {
                    "next"
                } else {
                    "retiring"
                };
                KeyInfo {
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
                    created_at: r.created_at,
                    valid_from: r.valid_from,
                    publish_until: r.publish_until,
                    status,
                }
            })
            .collect()
    }
}

impl KeySet {
    fn empty() -> Self {
        KeySet {
            keys: Vec::new(),
            by_kid: HashMap::new(),
            jwks: Arc::from(&b"{\"keys\":[]}"[..]),
            verified: RwLock::default(),
        }
    }
}

/// A read guard whatever happened to a writer: the data behind these locks is replaced whole,
/// never left half-written.
fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}
