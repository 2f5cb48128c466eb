//! RFC 7636: Proof Key for Code Exchange, S256 only (`plain` is refused by policy,
//! RFC 9700 §2.1.1). `parse_challenge` serves the authorization endpoint, `verify` the token
//! endpoint.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::OAuthError;
use crate::secret::constant_time_eq;

/// RFC 7636 §4.2 `code_challenge_method` value; the only one served.
pub const S256: &str = "S256";

/// A validated `code_challenge` and its method (always S256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    pub challenge: String,
    pub method: &'static str,
}

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request:
/// both absent is `None`; anything but a 43-character base64url S256 challenge is
/// `invalid_request` (RFC 7636 §4.4.1).
pub fn parse_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<CodeChallenge>, OAuthError> {
    let challenge = match (challenge, method) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(c), m) => {
            // RFC 7636 §4.3: an absent method means plain; RFC 9700 §2.1.1: plain refused.
            if m != Some(S256) {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256",
                ));
            }
            c
        }
    };
    // RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)), 32 bytes, 43 characters.
    let decodes_to_32 = challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|bytes| bytes.len() == 32);
    if !decodes_to_32 {
        return Err(OAuthError::invalid_request(
            "code_challenge must be 43 characters of base64url",
        ));
    }
    Ok(Some(CodeChallenge {
        challenge: challenge.to_string(),
        method: S256,
    }))
}

/// RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks a token request's `code_verifier` against what the code was issued with. Every
/// failure is `invalid_grant`, with the reason only in the log.
pub fn verify(
    challenge: Option<&str>,
    method: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    let refused =
        |why: &str| OAuthError::invalid_grant("PKCE verification failed").with_detail(why);
    match (challenge, verifier) {
        (None, None) => Ok(()),
        // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is refused
        // (PKCE downgrade).
        (None, Some(_)) => Err(refused("code_verifier sent, but the code has no challenge")),
        // RFC 7636 §4.6: a code issued with a challenge needs the verifier.
        (Some(_), None) => Err(refused("code_verifier missing")),
        (Some(challenge), Some(verifier)) => {
            // RFC 9700 §2.1.1: S256 only, plain refused by policy.
            if method != Some(S256) {
                return Err(refused("code challenge method is not S256"));
            }
            // RFC 7636 §4.1: the verifier's length and alphabet.
            if !is_verifier(verifier) {
                return Err(refused("malformed code_verifier"));
            }
            // RFC 7636 §4.6: compare BASE64URL(SHA256(verifier)) with the stored challenge.
            if !constant_time_eq(&s256(verifier), challenge) {
                return Err(refused("code_verifier does not match the challenge"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn appendix_b_vector() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        assert!(verify(Some(CHALLENGE), Some(S256), Some(VERIFIER)).is_ok());
    }

    #[test]
    fn verification_failures_are_invalid_grant() {
        let other = "x".repeat(43);
        for (challenge, method, verifier) in [
            (Some(CHALLENGE), Some(S256), Some(other.as_str())),
            (Some(CHALLENGE), Some(S256), None),
            (None, None, Some(VERIFIER)),
            (Some(VERIFIER), Some("plain"), Some(VERIFIER)),
            (Some(CHALLENGE), Some(S256), Some("short")),
            (Some(CHALLENGE), Some(S256), Some(&"a".repeat(129))),
        ] {
            let e = verify(challenge, method, verifier).unwrap_err();
            assert_eq!(e.code, "invalid_grant");
        }
        assert!(verify(None, None, None).is_ok());
    }

    #[test]
    fn verifier_alphabet() {
        assert!(is_verifier(&"aZ09-._~".repeat(6)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(is_verifier(&"a".repeat(128)));
    }

    #[test]
    fn authorization_request_challenges() {
        let ok = parse_challenge(Some(CHALLENGE), Some(S256))
            .unwrap()
            .unwrap();
        assert_eq!(ok.challenge, CHALLENGE);
        assert_eq!(parse_challenge(None, None).unwrap(), None);
        for (challenge, method) in [
            (Some(CHALLENGE), None),
            (Some(CHALLENGE), Some("plain")),
            (None, Some(S256)),
            (Some("too-short"), Some(S256)),
            (Some(&format!("{}=", &CHALLENGE[..42])), Some(S256)),
            // 43 characters whose trailing bits are not zero: not the encoding of 32 bytes.
            (
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"),
                Some(S256),
            ),
        ] {
            let e = parse_challenge(challenge, method).unwrap_err();
            assert_eq!(e.code, "invalid_request", "{challenge:?} {method:?}");
        }
    }
}
