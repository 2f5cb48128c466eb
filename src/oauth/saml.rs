//! RFC 7522 §3: verifying a SAML 2.0 assertion presented as an authorization grant.
//!
//! XML-DSig and canonicalisation are bergshamra's (ARCHITECTURE.md says why). A valid
//! signature somewhere in a document proves nothing about the element we read, so the
//! signature is bound to what we consume (against signature wrapping):
//! 1. no DOCTYPE and no entity declarations, a bounded size, one parse, and the document
//!    element is `saml:Assertion`;
//! 2. verified with the registered certificates only (`KeyInfo` is never trusted);
//! 3. the valid signature is a child of that document element, and its one reference
//!    resolved to that element with its digest verified;
//! 4. every field is read from that same parsed document, with the deep text accessor (a
//!    comment cannot cut a `NameID` short).

use bergshamra::core::algorithm;
use bergshamra::xml::{Document, NodeId};
use bergshamra::{DsigContext, KeysManager, VerifyResult};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// RFC 7522 §3 item 7 / SAML Profiles §3.3: the bearer confirmation method.
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Signature algorithms accepted: RSA (PKCS#1 v1.5 or PSS) and ECDSA with SHA-256 or better.
const SIGNATURE_METHODS: [&str; 9] = [
    algorithm::RSA_SHA256,
    algorithm::RSA_SHA384,
    algorithm::RSA_SHA512,
    algorithm::RSA_PSS_SHA256,
    algorithm::RSA_PSS_SHA384,
    algorithm::RSA_PSS_SHA512,
    algorithm::ECDSA_SHA256,
    algorithm::ECDSA_SHA384,
    algorithm::ECDSA_SHA512,
];
const DIGEST_METHODS: [&str; 3] = [algorithm::SHA256, algorithm::SHA384, algorithm::SHA512];
/// The transforms an enveloped SAML signature needs, and no others (no XPath, no XSLT).
const TRANSFORMS: [&str; 2] = [algorithm::ENVELOPED_SIGNATURE, algorithm::EXC_C14N];

/// Why an assertion was refused. `Display` is public-safe text naming the rule.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the assertion is not base64url-encoded UTF-8 XML")]
    Encoding,
    #[error("the assertion is too large")]
    TooLarge,
    #[error("the assertion must not contain a DOCTYPE or entity declaration")]
    Doctype,
    #[error("the assertion is not well-formed XML")]
    Malformed(String),
    #[error("the document element is not a SAML 2.0 Assertion")]
    NotAnAssertion,
    #[error("the assertion has no Issuer")]
    NoIssuer,
    #[error("the assertion is not signed")]
    Unsigned,
    #[error("the assertion's signature uses an algorithm or transform that is not accepted")]
    Algorithm(String),
    #[error("the assertion signature is not valid")]
    Signature(String),
    #[error("the assertion has no Subject with a NameID")]
    NoSubject,
    #[error("the assertion has no bearer SubjectConfirmation for this token endpoint")]
    Confirmation,
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion is not yet valid")]
    NotYetValid,
    #[error("the assertion expires too far in the future")]
    TooLong,
    #[error("the assertion's AudienceRestriction does not name this server")]
    Audience,
    #[error("the assertion has a malformed time")]
    Time,
}

impl Refusal {
    /// What the log gets besides the public text.
    pub fn detail(&self) -> String {
        match self {
            Refusal::Malformed(d) | Refusal::Algorithm(d) | Refusal::Signature(d) => {
                format!("{self}: {d}")
            }
            other => other.to_string(),
        }
    }
}

/// What the server expects of an assertion besides its issuer's signature.
pub struct Expected<'a> {
    /// Values an `Audience` may take: this server's issuer and token endpoint (§3 item 3).
    pub audiences: &'a [&'a str],
    /// The token endpoint URL, the bearer confirmation's `Recipient` (§3 item 4).
    pub recipient: &'a str,
    /// Seconds of clock skew tolerated.
    pub leeway: i64,
    /// Seconds: the assertion may stay usable at most this long after `now`.
    pub max_lifetime: i64,
}

/// The facts of a verified assertion.
#[derive(Debug)]
pub struct VerifiedAssertion {
    /// The assertion `ID`: single use (§3 item 9).
    pub id: String,
    /// The `NameID`: the subject.
    pub subject: String,
    /// The earliest `NotOnOrAfter` that bounds its use.
    pub expires_at: i64,
}

/// The public key of a PEM X.509 certificate registered for a SAML identity provider.
pub fn signing_key(pem: &str) -> Result<bergshamra::Key, String> {
    bergshamra::keys::loader::load_x509_cert_pem(pem.as_bytes()).map_err(|e| e.to_string())
}

/// RFC 7522 §2.1: the `assertion` parameter is one base64url-encoded Assertion. Decoded and
/// screened before any parsing: size first, then any DTD (rule 1 — no entity can expand and
/// no external entity is ever resolved).
pub fn decode(assertion: &str, max_bytes: usize) -> Result<String, Refusal> {
    use base64::Engine;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    // base64 grows data by 4/3: a parameter this long cannot decode to an acceptable size.
    if assertion.len() > max_bytes.saturating_mul(4) / 3 + 4 {
        return Err(Refusal::TooLarge);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(assertion.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(assertion))
        .map_err(|_| Refusal::Encoding)?;
    if bytes.len() > max_bytes {
        return Err(Refusal::TooLarge);
    }
    let xml = String::from_utf8(bytes).map_err(|_| Refusal::Encoding)?;
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(Refusal::Doctype);
    }
    Ok(xml)
}

/// An assertion parsed once; everything later is read from this document.
pub struct ParsedAssertion<'a> {
    doc: Document<'a>,
    root: NodeId,
}

impl<'a> ParsedAssertion<'a> {
    /// Rule 1: parse once; the document element is `saml:Assertion`, version 2.0.
    pub fn parse(xml: &'a str) -> Result<Self, Refusal> {
        let doc =
            bergshamra::xml::uppsala::parse(xml).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if doc.doctype.is_some() {
            return Err(Refusal::Doctype);
        }
        let root = doc.document_element().ok_or(Refusal::NotAnAssertion)?;
        let is_assertion = doc
            .element(root)
            .is_some_and(|e| e.matches_name_ns(SAML, "Assertion"));
        if !is_assertion || doc.get_attribute(root, "Version") != Some("2.0") {
            return Err(Refusal::NotAnAssertion);
        }
        Ok(ParsedAssertion { doc, root })
    }

    /// The `Issuer` the assertion names: whose certificates to verify it with. Read before the
    /// signature is checked, only to choose those certificates.
    pub fn issuer(&self) -> Result<String, Refusal> {
        self.child(self.root, "Issuer")
            .map(|n| self.text(n))
            .filter(|t| !t.is_empty())
            .ok_or(Refusal::NoIssuer)
    }

    /// Rules 2–4, then RFC 7522 §3 items 2–7 read from the verified element.
    pub fn verify(
        &self,
        certificates: &[String],
        expected: &Expected<'_>,
        now: i64,
    ) -> Result<VerifiedAssertion, Refusal> {
        self.verify_signature(certificates)?;
        let doc = &self.doc;
        let id = doc
            .get_attribute(self.root, "ID")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Refusal::Signature("no ID".into()))?
            .to_string();
        // §3 item 2: the Subject identifies the resource owner by NameID.
        let subject = self.child(self.root, "Subject").ok_or(Refusal::NoSubject)?;
        let name_id = self
            .child(subject, "NameID")
            .map(|n| self.text(n))
            .filter(|t| !t.is_empty())
            .ok_or(Refusal::NoSubject)?;
        let leeway = expected.leeway;
        // §3 item 4 / 7: a bearer confirmation for our token endpoint, still usable.
        let mut confirmation_until = None;
        let mut confirmation_expired = false;
        for c in self.children(subject, "SubjectConfirmation") {
            if doc.get_attribute(c, "Method") != Some(BEARER) {
                continue;
            }
            let Some(data) = self.child(c, "SubjectConfirmationData") else {
                continue;
            };
            if doc.get_attribute(data, "Recipient") != Some(expected.recipient) {
                continue;
            }
            let until = time_attr(doc, data, "NotOnOrAfter")?;
            if time_attr(doc, data, "NotBefore")?.is_some_and(|t| t > now + leeway) {
                return Err(Refusal::NotYetValid);
            }
            match until {
                Some(t) if t + leeway <= now => confirmation_expired = true,
                Some(t) => {
                    confirmation_until = Some(t);
                    break;
                }
                None => {
                    confirmation_until = Some(i64::MAX);
                    break;
                }
            }
        }
        let confirmation_until = match confirmation_until {
            Some(t) => t,
            None if confirmation_expired => return Err(Refusal::Expired),
            None => return Err(Refusal::Confirmation),
        };
        // §3 item 3 and 5: the Conditions window and an AudienceRestriction naming us.
        let conditions = self.child(self.root, "Conditions");
        let mut conditions_until = None;
        let mut audience_restrictions = 0;
        if let Some(conditions) = conditions {
            if time_attr(doc, conditions, "NotBefore")?.is_some_and(|t| t > now + leeway) {
                return Err(Refusal::NotYetValid);
            }
            conditions_until = time_attr(doc, conditions, "NotOnOrAfter")?;
            if conditions_until.is_some_and(|t| t + leeway <= now) {
                return Err(Refusal::Expired);
            }
            for restriction in self.children(conditions, "AudienceRestriction") {
                audience_restrictions += 1;
                // SAML Core §2.5.1.4: each restriction must be met on its own.
                let names_us = self.children(restriction, "Audience").into_iter().any(|a| {
                    let value = self.text(a);
                    expected.audiences.contains(&value.as_str())
                });
                if !names_us {
                    return Err(Refusal::Audience);
                }
            }
        }
        if audience_restrictions == 0 {
            return Err(Refusal::Audience);
        }
        // §3 item 4: without a NotOnOrAfter on Conditions, the confirmation must carry one.
        let expires_at = confirmation_until.min(conditions_until.unwrap_or(i64::MAX));
        if expires_at == i64::MAX {
            return Err(Refusal::Confirmation);
        }
        if expires_at > now + expected.max_lifetime + leeway {
            return Err(Refusal::TooLong);
        }
        Ok(VerifiedAssertion {
            id,
            subject: name_id,
            expires_at,
        })
    }

    /// Rules 2 and 3: exactly one signature, a child of the assertion, with accepted
    /// algorithms, whose single reference is the assertion itself; valid under a registered
    /// certificate.
    fn verify_signature(&self, certificates: &[String]) -> Result<(), Refusal> {
        let doc = &self.doc;
        let signatures: Vec<NodeId> = doc
            .children(self.root)
            .into_iter()
            .filter(|&n| {
                doc.element(n)
                    .is_some_and(|e| e.matches_name_ns(DSIG, "Signature"))
            })
            .collect();
        let signature = match signatures.as_slice() {
            [] => return Err(Refusal::Unsigned),
            [one] => *one,
            _ => return Err(Refusal::Signature("more than one signature".into())),
        };
        self.check_algorithms(signature)?;
        let mut keys = KeysManager::new();
        for pem in certificates {
            keys.add_key(signing_key(pem).map_err(Refusal::Signature)?);
        }
        // Secure defaults: registered keys only (KeyInfo ignored), strict reference positions,
        // every reference digest verified.
        let ctx = DsigContext::new(keys);
        // Duplicate IDs make the whole document an error here.
        let results = bergshamra::dsig::verify::verify_all_document(&ctx, doc)
            .map_err(|e| Refusal::Signature(e.to_string()))?;
        let bound = results.iter().any(|r| match r {
            VerifyResult::Valid {
                signature_node,
                references,
                ..
            } => {
                *signature_node == signature
                    && references.len() == 1
                    && references[0].digest_verified
                    && references[0].resolved_node == Some(self.root)
            }
            VerifyResult::Invalid { .. } => false,
        });
        if bound {
            return Ok(());
        }
        let reason = results
            .iter()
            .find_map(|r| match r {
                VerifyResult::Invalid { reason } => Some(reason.clone()),
                VerifyResult::Valid { .. } => None,
            })
            .unwrap_or_else(|| "the valid signature does not cover the assertion".into());
        Err(Refusal::Signature(reason))
    }

    /// Exclusive C14N, an accepted signature and digest algorithm, one reference to the
    /// assertion's own ID, and only the enveloped-signature and exclusive C14N transforms.
    fn check_algorithms(&self, signature: NodeId) -> Result<(), Refusal> {
        let doc = &self.doc;
        let refuse = |what: &str| Refusal::Algorithm(what.to_string());
        let signed_info = self
            .ds_child(signature, "SignedInfo")
            .ok_or_else(|| refuse("no SignedInfo"))?;
        let algorithm_of = |parent: NodeId, name: &str| {
            self.ds_child(parent, name)
                .and_then(|n| doc.get_attribute(n, "Algorithm"))
                .unwrap_or_default()
        };
        let c14n = algorithm_of(signed_info, "CanonicalizationMethod");
        if c14n != algorithm::EXC_C14N {
            return Err(refuse(&format!("canonicalization {c14n}")));
        }
        let method = algorithm_of(signed_info, "SignatureMethod");
        if !SIGNATURE_METHODS.contains(&method) {
            return Err(refuse(&format!("signature method {method}")));
        }
        let references = self.ds_children(signed_info, "Reference");
        let [reference] = references.as_slice() else {
            return Err(refuse("exactly one Reference is accepted"));
        };
        let own_id = doc.get_attribute(self.root, "ID").unwrap_or_default();
        let uri = doc.get_attribute(*reference, "URI").unwrap_or_default();
        if own_id.is_empty() || uri.strip_prefix('#') != Some(own_id) {
            return Err(Refusal::Signature(
                "the signature's Reference does not name the assertion's ID".into(),
            ));
        }
        let digest = algorithm_of(*reference, "DigestMethod");
        if !DIGEST_METHODS.contains(&digest) {
            return Err(refuse(&format!("digest method {digest}")));
        }
        if let Some(transforms) = self.ds_child(*reference, "Transforms") {
            for t in self.ds_children(transforms, "Transform") {
                let a = doc.get_attribute(t, "Algorithm").unwrap_or_default();
                if !TRANSFORMS.contains(&a)
                    || !doc.children(t).iter().all(|&c| doc.element(c).is_none())
                {
                    return Err(refuse(&format!("transform {a}")));
                }
            }
        }
        Ok(())
    }

    fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        self.doc.first_child_element_by_name_ns(parent, SAML, name)
    }

    fn children(&self, parent: NodeId, name: &str) -> Vec<NodeId> {
        self.doc.child_elements_by_name_ns(parent, SAML, name)
    }

    fn ds_child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        self.doc.first_child_element_by_name_ns(parent, DSIG, name)
    }

    fn ds_children(&self, parent: NodeId, name: &str) -> Vec<NodeId> {
        self.doc.child_elements_by_name_ns(parent, DSIG, name)
    }

    /// Rule 4: all the text under the node, comments skipped but never truncating it.
    fn text(&self, node: NodeId) -> String {
        self.doc.text_content_deep(node).trim().to_string()
    }
}

/// An `xs:dateTime` attribute as Unix seconds (SAML Core §1.3.3: UTC).
fn time_attr(doc: &Document<'_>, node: NodeId, name: &str) -> Result<Option<i64>, Refusal> {
    doc.get_attribute(node, name)
        .map(|v| {
            OffsetDateTime::parse(v.trim(), &Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| Refusal::Time)
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference time of tests/fixtures/saml (2030-01-01T00:00:00Z).
    const T: i64 = 1_893_456_000;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    fn check(name: &str) -> Result<VerifiedAssertion, Refusal> {
        let xml = fixture(name);
        let parsed = ParsedAssertion::parse(&xml)?;
        let expected = Expected {
            audiences: &["https://as.example.test", "https://as.example.test/token"],
            recipient: "https://as.example.test/token",
            leeway: 60,
            max_lifetime: 600,
        };
        parsed.verify(&[fixture("idp_cert.pem")], &expected, T + 10)
    }

    /// Which binding rule stops each signature attack (the HTTP tests see only the public text).
    #[test]
    fn each_wrapping_attack_is_stopped_by_its_rule() {
        let valid = check("valid.xml").unwrap();
        assert_eq!(valid.id, "_a0001");
        assert_eq!(valid.subject, "alice@example.test");
        assert_eq!(valid.expires_at, T + 300);
        // Rule 4: the deep text, not the first text node.
        assert_eq!(
            check("comment_injection.xml").unwrap().subject,
            "alice@example.test.evil.org"
        );
        let detail = |name: &str| check(name).unwrap_err().detail();
        assert!(
            detail("tampered.xml").contains("digest"),
            "{}",
            detail("tampered.xml")
        );
        // Rule 2: KeyInfo's certificate is not trusted.
        assert!(matches!(
            check("untrusted_key.xml"),
            Err(Refusal::Signature(_))
        ));
        // Rule 1: the document element is the assertion we read.
        assert!(matches!(
            check("evil_before_signed.xml"),
            Err(Refusal::NotAnAssertion)
        ));
        // Rule 3: the signature is the document element's own, and covers exactly it.
        assert!(matches!(
            check("wrapped_in_advice.xml"),
            Err(Refusal::Unsigned)
        ));
        assert!(
            detail("signature_moved.xml").contains("does not name the assertion's ID"),
            "{}",
            detail("signature_moved.xml")
        );
        assert!(
            detail("duplicate_ids.xml").contains("duplicate ID"),
            "{}",
            detail("duplicate_ids.xml")
        );
        assert!(matches!(check("rsa_sha1.xml"), Err(Refusal::Algorithm(_))));
    }

    #[test]
    fn doctype_and_size_are_refused_before_parsing() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(matches!(decode(&b64(xxe), 4096), Err(Refusal::Doctype)));
        assert!(matches!(
            decode(&b64("<!doctype a><a/>"), 4096),
            Err(Refusal::Doctype)
        ));
        let big = format!("<a>{}</a>", "x".repeat(5000));
        assert!(matches!(decode(&b64(&big), 4096), Err(Refusal::TooLarge)));
        assert!(matches!(decode("%%%", 4096), Err(Refusal::Encoding)));
    }
}

#[cfg(test)]
mod proptests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use crate::fuzzing;

    const T: i64 = 1_893_456_000;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    fn check(xml: &str) -> Result<String, String> {
        fuzzing::saml_assertion(
            &URL_SAFE_NO_PAD.encode(xml),
            &[fixture("idp_cert.pem")],
            1024 * 1024,
            T + 10,
        )
    }

    /// Entity declarations in every spelling are refused before the parser sees them:
    /// billion laughs, external entities, parameter entities.
    #[test]
    fn entity_declarations_are_refused_before_parsing() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
            <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\
            <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>\
            <saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">&lol2;</saml:Assertion>";
        let external = "<!DOCTYPE a [<!ENTITY x SYSTEM \"http://127.0.0.1:1/x\">]><a>&x;</a>";
        let parameter = "<!DoCtYpE a [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><a/>";
        for xml in [laughs, external, parameter] {
            assert_eq!(check(xml).unwrap_err(), super::Refusal::Doctype.to_string());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any text is refused without a panic.
        #[test]
        fn any_text_is_refused(xml in "\\PC{0,300}", raw in "[A-Za-z0-9_=-]{0,300}") {
            prop_assert!(check(&xml).is_err());
            prop_assert!(fuzzing::saml_assertion(&raw, &[fixture("idp_cert.pem")], 4096, T).is_err());
        }

        /// However deep the nesting, the parser's depth cap refuses it (no stack overflow).
        #[test]
        fn deep_nesting_is_refused(depth in 100usize..20_000) {
            let xml = format!(
                "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" Version=\"2.0\">{}{}</saml:Assertion>",
                "<a>".repeat(depth),
                "</a>".repeat(depth)
            );
            prop_assert!(check(&xml).is_err());
        }

        /// One byte changed anywhere in a signed assertion: refused, or (where C14N makes the
        /// change invisible) still the subject the IdP signed.
        #[test]
        fn a_changed_byte_never_changes_the_subject(at in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
            let mut xml = fixture("valid.xml").into_bytes();
            let i = at.index(xml.len());
            xml[i] = byte;
            let Ok(xml) = String::from_utf8(xml) else { return Ok(()); };
            if let Ok(subject) = check(&xml) {
                prop_assert_eq!(subject, "alice@example.test");
            }
        }
    }
}
