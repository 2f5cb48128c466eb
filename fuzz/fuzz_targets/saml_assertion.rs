//! RFC 7522 assertion verification (`oauth::saml`) on any XML: never a panic, a stack
//! overflow or an unbounded allocation, and a document that is not the signed fixture is never
//! accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CERT: &str = include_str!("../../tests/fixtures/saml/idp_cert.pem");
/// The reference time of tests/fixtures/saml, plus ten seconds.
const NOW: i64 = 1_893_456_010;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let certificates = [CERT.to_string()];
    // The parameter as sent: base64url screening first, as the grant does.
    let _ = portcullis::fuzzing::saml_assertion(xml, &certificates, 32 * 1024, NOW);
    if xml.len() > 32 * 1024 {
        return;
    }
    if let Ok(subject) = portcullis::fuzzing::saml_xml(xml, &certificates, NOW) {
        // Only the IdP can sign: whatever was accepted names the subject the IdP signed.
        assert!(
            subject.starts_with("alice@example.test") || subject == "bob@example.test",
            "accepted subject {subject:?}"
        );
    }
});
