//! Parsed signing and verification keys. Private keys are parsed once when the ring loads:
//! `jsonwebtoken::encode` re-parses a PKCS#8 key on every call (~150 µs for RSA-2048).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::KeyError;
use super::SigningAlg;

pub enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// Newly generated key material: the PKCS#8 v1 document to store (encrypted) and the public JWK.
pub struct GeneratedKey {
    pub pkcs8: Vec<u8>,
    pub public_jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rejected(e: impl std::fmt::Display) -> KeyError {
    KeyError::Invalid(e.to_string())
}

pub fn generate(alg: SigningAlg, kid: &str) -> Result<GeneratedKey, KeyError> {
    let pkcs8 = match alg {
        SigningAlg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        SigningAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        // PKCS#8 v1: v2 documents make `jsonwebtoken::Jwk::from_encoding_key` fail.
        SigningAlg::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| KeyError::Invalid("key generation failed".into()))?;
    let key = PrivateKey::from_pkcs8(alg, &pkcs8)?;
    Ok(GeneratedKey {
        public_jwk: key.public_jwk(alg, kid),
        pkcs8,
    })
}

impl PrivateKey {
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, KeyError> {
        Ok(match alg {
            SigningAlg::RS256 => PrivateKey::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            SigningAlg::ES256 => PrivateKey::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            SigningAlg::EdDSA => PrivateKey::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
        })
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Invalid("signing failed".into());
        match self {
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(failed)?;
                Ok(sig)
            }
            // FIXED: JWS wants r || s (RFC 7518 §3.4), not DER.
            PrivateKey::Ec(k) => Ok(k
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            PrivateKey::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    /// RFC 7517 public JWK with `kid`, `use` and `alg`.
    pub fn public_jwk(&self, alg: SigningAlg, kid: &str) -> Value {
        match self {
            PrivateKey::Rsa(k) => {
                let public = k.public_key();
                json!({
                    "kty": "RSA", "kid": kid, "use": "sig", "alg": alg.as_str(),
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            PrivateKey::Ec(k) => {
                // Uncompressed point: 0x04 || X || Y.
                let point = k.public_key().as_ref();
                json!({
                    "kty": "EC", "kid": kid, "use": "sig", "alg": alg.as_str(), "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
            PrivateKey::Ed(k) => json!({
                "kty": "OKP", "kid": kid, "use": "sig", "alg": alg.as_str(), "crv": "Ed25519",
                "x": b64(k.public_key().as_ref()),
            }),
        }
    }
}

/// A public key ready to verify our own tokens.
pub enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Ed(Vec<u8>),
}

impl PublicKey {
    pub fn from_private(key: &PrivateKey) -> Self {
        match key {
            PrivateKey::Rsa(k) => {
                let p = k.public_key();
                PublicKey::Rsa {
                    n: p.modulus().big_endian_without_leading_zero().to_vec(),
                    e: p.exponent().big_endian_without_leading_zero().to_vec(),
                }
            }
            PrivateKey::Ec(k) => PublicKey::Ec(k.public_key().as_ref().to_vec()),
            PrivateKey::Ed(k) => PublicKey::Ed(k.public_key().as_ref().to_vec()),
        }
    }

    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Rsa { n, e } => PublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            PublicKey::Ec(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok(),
            PublicKey::Ed(point) => UnparsedPublicKey::new(&ED25519, point)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alg_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let generated = generate(alg, "k").unwrap();
            let key = PrivateKey::from_pkcs8(alg, &generated.pkcs8).unwrap();
            let sig = key.sign(b"message").unwrap();
            let public = PublicKey::from_private(&key);
            assert!(public.verify(b"message", &sig), "{alg:?}");
            assert!(!public.verify(b"massage", &sig), "{alg:?}");
            assert_eq!(generated.public_jwk["alg"], alg.as_str());
            assert!(generated.public_jwk.get("d").is_none());
        }
    }
}
