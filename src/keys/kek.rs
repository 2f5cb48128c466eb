//! The key-encryption key: AES-256-GCM over every private signing key at rest.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::KeyError;

pub struct Kek(LessSafeKey);

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeyError::Kek("must be exactly 32 bytes".into()))?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Accepts standard or URL-safe base64, with or without padding.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| KeyError::Kek("not valid base64".into()))?;
        if bytes.len() != 32 {
            return Err(KeyError::Kek(format!(
                "must decode to 32 bytes, got {}",
                bytes.len()
            )));
        }
        Self::from_bytes(&bytes)
    }

    /// `nonce || ciphertext || tag`; `aad` binds the ciphertext to its key id, so a row's
    /// private key cannot be swapped into another row.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, KeyError> {
        let nonce_bytes: [u8; NONCE_LEN] = crate::secret::random_bytes();
        let mut buf = plaintext.to_vec();
        self.0
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
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| KeyError::Kek("bad nonce".into()))?;
        let mut buf = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| {
                KeyError::Kek(
                    "cannot decrypt a signing key: the key_encryption_key is not the one it was \
                     stored with"
                        .into(),
                )
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
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
    fn base64_must_be_32_bytes() {
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Kek::from_base64("not base64!").is_err());
    }
}
