//! `portcullis keys rotate-kek`: moves every private signing key to a new
//! key-encryption key. README "Changing the key-encryption key" is the operator's procedure.

use std::path::Path;

use portcullis::config::Config;
use portcullis::keys::kek::Kek;
use portcullis::keys::kek_file::{self, KekSource};
use portcullis::keys::kek_rotation;
use portcullis::store::Store;

/// The environment variable that may carry the new KEK instead of a file.
pub const NEW_KEK_ENV: &str = "PORTCULLIS_NEW_KEY_ENCRYPTION_KEY";

/// The new KEK from `--new-kek-file` or the environment, if given; errors name the source.
fn new_kek(file: Option<&Path>) -> anyhow::Result<Option<Kek>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("--new-kek-file {}: {e}", file.display()))?;
        let kek = Kek::from_base64(&text)
            .map_err(|e| anyhow::anyhow!("--new-kek-file {}: {e}", file.display()))?;
        return Ok(Some(kek));
    }
    match std::env::var(NEW_KEK_ENV) {
        Ok(text) => Ok(Some(
            Kek::from_base64(&text).map_err(|e| anyhow::anyhow!("{NEW_KEK_ENV}: {e}"))?,
        )),
        Err(_) => Ok(None),
    }
}

/// `store`'s key ring has been loaded, so its keys exist and open under the current KEK.
pub async fn run(
    config: &Config,
    store: &Store,
    new_kek_file: Option<&Path>,
    now: i64,
) -> anyhow::Result<()> {
    let actor = portcullis::audit::Actor::cli().0;
    let progress = |kid: &str| eprintln!("  resealed {kid}");
    let source = portcullis::kek_source(config);
    if source == KekSource::Ephemeral {
        anyhow::bail!("an in-memory database keeps no keys beyond this process: nothing to rotate");
    }
    // After the key ring's load the generated file exists, so this creates nothing.
    let (current, _) = portcullis::resolve_kek(config)?;
    if let Some(new) = new_kek(new_kek_file)? {
        eprintln!("re-encrypting every signing key under the new key-encryption key…");
        let count = kek_rotation::rotate_kek(store, &current, &new, &actor, now, progress).await?;
        eprintln!("committed: {count} keys now sealed under the new key-encryption key");
        match source {
            KekSource::GeneratedFile(path) => eprintln!(
                "next: set key_encryption_key (PORTCULLIS_KEY_ENCRYPTION_KEY) to the new key, \
                 then delete {} (it holds the old one)",
                path.display()
            ),
            _ => eprintln!(
                "next: set key_encryption_key (PORTCULLIS_KEY_ENCRYPTION_KEY) to the new key on \
                 every node and restart them; the old key no longer opens anything"
            ),
        }
        return Ok(());
    }
    match source {
        KekSource::GeneratedFile(path) => {
            eprintln!(
                "re-encrypting every signing key under a new generated key (written to {} first)…",
                kek_file::pending_path(&path).display()
            );
            let count =
                kek_rotation::rotate_generated_file(store, &path, &current, &actor, now, progress)
                    .await?;
            eprintln!(
                "committed: {count} keys now sealed under the new key in {}; restart running \
                 servers so they read it",
                path.display()
            );
        }
        _ if config.key_encryption_key_old.is_some() => {
            // The rolling change: every node already seals with key_encryption_key.
            let new = portcullis::configured_kek(&Config {
                key_encryption_key_old: None,
                ..config.clone()
            })?
            .ok_or_else(|| anyhow::anyhow!("key_encryption_key is not set"))?;
            eprintln!(
                "re-encrypting every signing key from key_encryption_key_old to key_encryption_key…"
            );
            let count =
                kek_rotation::rotate_kek(store, &current, &new, &actor, now, progress).await?;
            eprintln!(
                "committed: {count} keys now sealed under key_encryption_key; remove \
                 key_encryption_key_old from every node"
            );
        }
        _ => anyhow::bail!(
            "give the new key-encryption key with --new-kek-file FILE or {NEW_KEK_ENV}, or set \
             key_encryption_key_old (see README \"Changing the key-encryption key\")"
        ),
    }
    Ok(())
}
