//! `Params::parse` on any body: never a panic, and a parsed form re-encoded parses to the same
//! parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Some(params) = portcullis::fuzzing::form(body) else {
        return;
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .into_owned()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let again = portcullis::fuzzing::form(encoded.as_bytes()).expect("a re-encoded form parses");
    for (name, value) in &pairs {
        if name == "resource" || name == "audience" {
            assert!(params.get_all(name).contains(value));
            assert_eq!(again.get_all(name), params.get_all(name));
        } else {
            assert_eq!(params.get(name), Some(value.as_str()));
            assert_eq!(again.get(name), Some(value.as_str()));
        }
    }
});
