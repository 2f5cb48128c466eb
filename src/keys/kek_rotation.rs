//! Changing the key-encryption key. Every private signing key is opened with the
//! current KEK (or `key_encryption_key_old`) and sealed under the new one, all in one
//! transaction: the store never holds keys under two KEKs at once.

use std::path::Path;

use serde_json::json;

use super::KeyError;
use super::kek::Kek;
use super::kek_file;
use crate::store::{AuditEvent, Store};

/// Re-encrypts every stored signing key (published or not) from `current` to `new`; returns
/// how many. `actor` is who the audit trail names (`cli` from the command line). `progress` hears each `kid` as it is resealed.
pub async fn rotate_kek(
    store: &Store,
    current: &Kek,
    new: &Kek,
    actor: &str,
    now: i64,
    mut progress: impl FnMut(&str),
) -> Result<usize, KeyError> {
    let audit = AuditEvent::new(now, actor, "keys.rotate_kek", "signing_keys", json!({}));
    store
        .reseal_signing_keys(
            |row| {
                let der = current.open(&row.private_key, &row.kid)?;
                progress(&row.kid);
                new.seal(&der, &row.kid)
            },
            &audit,
        )
        .await
}

/// The generated `<db>.kek` file: writes a fresh key to `<db>.kek.new`, re-encrypts under it,
/// then renames the file into place. A crash at any step leaves a pair that the next start
/// settles (`kek_file::finish_interrupted_rotation`).
pub async fn rotate_generated_file(
    store: &Store,
    path: &Path,
    current: &Kek,
    actor: &str,
    now: i64,
    progress: impl FnMut(&str),
) -> anyhow::Result<usize> {
    let pending = kek_file::pending_path(path);
    if pending.exists() {
        anyhow::bail!(
            "{} exists: another rotate-kek is running, or one was interrupted (any \
             `portcullis` command that loads the signing keys settles it); try again after that",
            pending.display()
        );
    }
    let encoded = kek_file::random_kek_base64();
    kek_file::write_private_file(&pending, &encoded)?;
    let new = Kek::from_base64(&encoded)?;
    match rotate_kek(store, current, &new, actor, now, progress).await {
        Ok(count) => {
            kek_file::commit_pending(path)?;
            Ok(count)
        }
        Err(e) => {
            // Nothing committed: the old file still opens every key.
            let _ = std::fs::remove_file(&pending);
            Err(e.into())
        }
    }
}
