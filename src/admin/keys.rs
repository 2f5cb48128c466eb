//! Signing key listing and rotation.

use serde_json::json;

use super::{Actor, AdminError};
use crate::config::{Config, SigningAlg};
use crate::keys::{KeyInfo, KeyRing};
use crate::store::{AuditEvent, Store};

/// The furthest ahead a new key may be scheduled to start signing.
pub const MAX_ACTIVATE_IN: u64 = 365 * 86_400;

pub async fn list(store: &Store, keys: &KeyRing, now: i64) -> Result<Vec<KeyInfo>, AdminError> {
    let rows = store.list_signing_keys(now).await?;
    Ok(keys.describe(&rows, now))
}

/// Adds a new key for each algorithm in `algs` (all when empty), signing from
/// `now + activate_in`. The key it replaces stays published until every token it signed has
/// expired: the longest access or ID token lifetime past the switch.
pub async fn rotate(
    store: &Store,
    keys: &KeyRing,
    config: &Config,
    actor: &Actor,
    algs: &[SigningAlg],
    activate_in: u64,
    now: i64,
) -> Result<Vec<KeyInfo>, AdminError> {
    rotate_reporting(store, keys, config, actor, algs, activate_in, now, |_| {}).await
}

/// `rotate`, telling `progress` each algorithm before its key is generated (RSA takes a
/// moment): the CLI's progress lines.
#[allow(clippy::too_many_arguments)]
pub async fn rotate_reporting(
    store: &Store,
    keys: &KeyRing,
    config: &Config,
    actor: &Actor,
    algs: &[SigningAlg],
    activate_in: u64,
    now: i64,
    mut progress: impl FnMut(SigningAlg),
) -> Result<Vec<KeyInfo>, AdminError> {
    // Anything longer is a typo, and past i64 the sum below would overflow.
    if activate_in > MAX_ACTIVATE_IN {
        return Err(AdminError::invalid(
            "activate_in",
            "at most 31536000 seconds (a year)",
        ));
    }
    let algs: Vec<SigningAlg> = if algs.is_empty() {
        SigningAlg::ALL.to_vec()
    } else {
        algs.to_vec()
    };
    let valid_from = now + activate_in as i64;
    let longest = store
        .longest_access_token_lifetime(config.tokens.access_token_lifetime)
        .await?
        .max(config.tokens.id_token_lifetime) as i64;
    let rows = algs
        .into_iter()
        .map(|alg| {
            progress(alg);
            keys.new_key_row(alg, now, valid_from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let kids: Vec<&str> = rows.iter().map(|r| r.kid.as_str()).collect();
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "keys.rotate",
        &kids.join(","),
        json!({ "valid_from": valid_from }),
    );
    store
        .insert_signing_keys(&rows, Some(longest), Some(&audit))
        .await?;
    keys.reload(store, now).await?;
    list(store, keys, now).await
}
