//! Where the key-encryption key comes from: `key_encryption_key` (+ `key_encryption_key_old`
//! during a change), or for an embedded SQLite database a random key kept in a 0600 file
//! beside it (`<db>.kek`, created on first start), or for an in-memory database a fresh one.
//!
//! `keys rotate-kek` on the generated file writes `<db>.kek.new` first, commits the
//! re-encrypted keys, then renames it over `<db>.kek`. A crash between those steps leaves both
//! files; `finish_interrupted_rotation` (every start) keeps whichever opens the stored keys.

use std::path::{Path, PathBuf};

use base64::Engine;

use super::kek::Kek;
use crate::store::Store;

/// Where a KEK comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// `key_encryption_key` (and perhaps `key_encryption_key_old`).
    Configured,
    /// The generated `<db>.kek` file beside an SQLite database.
    GeneratedFile(PathBuf),
    /// A random key for this process only (in-memory SQLite).
    Ephemeral,
}

impl KekSource {
    /// `configured`: whether `key_encryption_key` is set; otherwise the database decides.
    pub fn of(configured: bool, database_url: &str) -> KekSource {
        if configured {
            return KekSource::Configured;
        }
        match sqlite_kek_path(database_url) {
            Some(path) => KekSource::GeneratedFile(path),
            None => KekSource::Ephemeral,
        }
    }
}

/// The KEK in the generated file at `path`, creating the file on first start. Returns a
/// warning for the operator: production sets `key_encryption_key`.
pub fn load_or_create(path: &Path) -> anyhow::Result<(Kek, String)> {
    let warning = format!(
        "signing keys are encrypted with the generated key in {}; set key_encryption_key \
         (PORTCULLIS_KEY_ENCRYPTION_KEY) in production",
        path.display()
    );
    if let Ok(text) = std::fs::read_to_string(path) {
        let kek =
            Kek::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok((kek, warning));
    }
    let encoded = random_kek_base64();
    write_private_file(path, &encoded)?;
    Ok((Kek::from_base64(&encoded)?, warning))
}

/// 32 random bytes, standard base64: what `key_encryption_key` takes.
pub fn random_kek_base64() -> String {
    base64::engine::general_purpose::STANDARD.encode(crate::secret::random_bytes::<32>())
}

pub fn sqlite_kek_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    if file.is_empty() || file == ":memory:" || rest.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(format!("{file}.kek")))
}

/// `<db>.kek.new`: the key a rotation in progress changes to.
pub fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// Creates `path` (0600 on Unix), refusing to overwrite, and flushes it to disk.
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Renames `<db>.kek.new` over `<db>.kek` (atomic on one file system) and flushes the
/// directory entry, so the pair on disk is the new key from here on.
pub fn commit_pending(path: &Path) -> std::io::Result<()> {
    std::fs::rename(pending_path(path), path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Directory fsync is how a rename is made durable on Unix; elsewhere it may fail.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Settles a `<db>.kek.new` left by an interrupted `keys rotate-kek`: the re-encryption is one
/// transaction, so the stored keys open under exactly one of the two files. Returns what was
/// done, for the operator.
pub async fn finish_interrupted_rotation(
    store: &Store,
    path: &Path,
) -> anyhow::Result<Option<String>> {
    let pending = pending_path(path);
    let Ok(text) = std::fs::read_to_string(&pending) else {
        return Ok(None);
    };
    let rows = store.all_signing_keys().await?;
    // A half-written file cannot have been committed: the transaction starts after the write.
    let committed = Kek::from_base64(&text).is_ok_and(|new| {
        rows.first()
            .is_some_and(|row| new.opens(&row.private_key, &row.kid))
    });
    if committed {
        commit_pending(path)?;
        Ok(Some(format!(
            "finished an interrupted key-encryption-key rotation: {} now holds the new key",
            path.display()
        )))
    } else {
        std::fs::remove_file(&pending)?;
        Ok(Some(format!(
            "removed {}: the key-encryption-key rotation that wrote it never committed",
            pending.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_file_sits_beside_the_sqlite_file() {
        assert_eq!(
            sqlite_kek_path("sqlite://portcullis.db"),
            Some(PathBuf::from("portcullis.db.kek"))
        );
        assert_eq!(
            sqlite_kek_path("sqlite:///var/lib/p.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/p.db.kek"))
        );
        assert_eq!(sqlite_kek_path("sqlite::memory:"), None);
        assert_eq!(sqlite_kek_path("postgres://x"), None);
        assert_eq!(
            pending_path(Path::new("/var/lib/p.db.kek")),
            PathBuf::from("/var/lib/p.db.kek.new")
        );
    }
}
