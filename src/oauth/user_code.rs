//! RFC 8628 §6.1: user codes. Eight characters from the twenty consonants
//! `BCDFGHJKLMNPQRSTVWXZ` (no vowels, so no words; no digits to mistake for letters), shown as
//! `WDJB-MJHT` and accepted in any case, with or without the dash or spaces. 20^8 ≈ 2^34.6
//! codes: with guessing throttled per address and per browser and a lifetime of minutes, a
//! guess is hopeless (§5.1). Only the SHA-256 of the normalised code is stored.

use rand::Rng;

use crate::secret::sha256_hex;

pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const LENGTH: usize = 8;

/// A fresh user code in normalised form (eight capitals, no dash); each character drawn
/// uniformly from the OS generator.
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The code as shown to people: `WDJB-MJHT`.
pub fn display(normalised: &str) -> String {
    let (a, b) = normalised.split_at(normalised.len().min(LENGTH / 2));
    format!("{a}-{b}")
}

/// What the user typed, as a normalised code: upper-cased, dashes and spaces dropped
/// (§6.1: punctuation is not part of the code). `None` when it cannot be a code of ours.
pub fn normalize(input: &str) -> Option<String> {
    // Anything this long is not a mistyped code; no need to look at it further.
    if input.len() > 4 * LENGTH {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a normalised code.
pub fn digest(normalised: &str) -> String {
    sha256_hex(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_eight_consonants() {
        for _ in 0..200 {
            let code = generate();
            assert_eq!(code.len(), LENGTH);
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn shown_with_a_dash_and_read_back_in_any_form() {
        assert_eq!(display("WDJBMJHT"), "WDJB-MJHT");
        for typed in [
            "WDJB-MJHT",
            "wdjb-mjht",
            "wdjbmjht",
            " WdJb MjHt ",
            "WDJB--MJHT",
        ] {
            assert_eq!(normalize(typed).as_deref(), Some("WDJBMJHT"), "{typed:?}");
        }
        for bad in [
            "",
            "WDJB-MJH",
            "WDJB-MJHTX",
            "WDJB-MJHA",
            "WDJB-MJH1",
            "ŴDJB-MJHT",
            "WDJB_MJHT",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(normalize(&"-".repeat(10_000)), None);
    }
}
