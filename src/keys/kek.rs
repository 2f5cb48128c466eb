//! The key-encryption key: AES-256-GCM over every private signing key at rest.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::KeyError;

/// The key that seals, and during a KEK change older keys that still open what
/// they sealed: `key_encryption_key` first, then `key_encryption_key_old`.
pub struct Kek {
    seal: LessSafeKey,
    also_open: Vec<LessSafeKey>,
}

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeyError::Kek("must be exactly 32 bytes".into()))?;
        Ok(Self {
            seal: LessSafeKey::new(key),
            also_open: Vec::new(),
        })
    }

    /// This key seals; `old` (and the keys it already accepts) still open.
    pub fn with_old(mut self, old: Kek) -> Self {
        self.also_open.push(old.seal);
        self.also_open.extend(old.also_open);
        self
    }

    /// Accepts standard or URL-safe base64, with or without padding.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = crate::secret::decode_key_base64(text).map_err(KeyError::Kek)?;
        Self::from_bytes(&bytes)
    }

    /// `nonce || ciphertext || tag`; `aad` binds the ciphertext to its key id, so a row's
    /// private key cannot be swapped into another row.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, KeyError> {
        let nonce_bytes: [u8; NONCE_LEN] = crate::secret::random_bytes();
        let mut buf = plaintext.to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| KeyError::Kek("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(KeyError::Kek("ciphertext too short".into()));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| KeyError::Kek("bad nonce".into()))?;
        for key in std::iter::once(&self.seal).chain(&self.also_open) {
            let mut buf = rest.to_vec();
            let nonce = Nonce::assume_unique_for_key(nonce);
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf) {
                return Ok(plain.to_vec());
            }
        }
        Err(KeyError::Kek(format!(
            "cannot decrypt signing key {aad}: it was sealed under another key; check \
             key_encryption_key (PORTCULLIS_KEY_ENCRYPTION_KEY), or the generated <db>.kek \
             file when that is unset, and during a KEK change key_encryption_key_old \
             (PORTCULLIS_KEY_ENCRYPTION_KEY_OLD)"
        )))
    }

    /// Whether this key opens `sealed` (with its `aad`), without returning the plaintext.
    pub fn opens(&self, sealed: &[u8], aad: &str) -> bool {
        self.open(sealed, aad).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_bind_aad() {
        let kek = Kek::from_bytes(&[7u8; 32]).unwrap();
        let sealed = kek.seal(b"private", "kid-1").unwrap();
        assert_eq!(kek.open(&sealed, "kid-1").unwrap(), b"private");
        assert!(kek.open(&sealed, "kid-2").is_err());
        let other = Kek::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, "kid-1").is_err());
    }

    #[test]
    fn an_old_key_still_opens_but_never_seals() {
        let old = Kek::from_bytes(&[7u8; 32]).unwrap();
        let sealed_by_old = old.seal(b"private", "kid-1").unwrap();
        let both = Kek::from_bytes(&[8u8; 32])
            .unwrap()
            .with_old(Kek::from_bytes(&[7u8; 32]).unwrap());
        assert_eq!(both.open(&sealed_by_old, "kid-1").unwrap(), b"private");
        let sealed_by_both = both.seal(b"private", "kid-1").unwrap();
        assert!(!old.opens(&sealed_by_both, "kid-1"), "the new key seals");
        let new = Kek::from_bytes(&[8u8; 32]).unwrap();
        assert!(new.opens(&sealed_by_both, "kid-1"));
        let error = new.open(&sealed_by_old, "kid-1").unwrap_err().to_string();
        assert!(error.contains("key_encryption_key"), "{error}");
    }

    #[test]
    fn base64_must_be_32_bytes() {
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Kek::from_base64("not base64!").is_err());
    }
}
