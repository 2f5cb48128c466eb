//! Form parameters of an OAuth request, parsed once with the RFC 6749 §3.1/§3.2 rules:
//! a parameter sent without a value is treated as omitted, and none may repeat, except those
//! defined to repeat (`resource`, RFC 8707 §2; `audience`, RFC 8693 §2.1).

use std::collections::HashMap;

use crate::error::OAuthError;
use crate::oauth::scope::Scope;

const REPEATABLE: [&str; 2] = ["resource", "audience"];

#[derive(Debug, Default, Clone)]
pub struct Params {
    single: HashMap<String, String>,
    repeated: HashMap<String, Vec<String>>,
}

impl Params {
    pub fn parse(body: &[u8]) -> Result<Params, OAuthError> {
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(body) {
            // RFC 6749 Appendix A: no parameter's syntax admits NUL, and one would reach the
            // store, where PostgreSQL refuses it.
            if name.contains('\0') || value.contains('\0') {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} contains a NUL character",
                    name.replace('\0', "")
                )));
            }
            if value.is_empty() {
                continue;
            }
            if REPEATABLE.contains(&name.as_ref()) {
                params
                    .repeated
                    .entry(name.into_owned())
                    .or_default()
                    .push(value.into_owned());
            } else if params.single.contains_key(name.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            } else {
                params.single.insert(name.into_owned(), value.into_owned());
            }
        }
        Ok(params)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    /// A parameter the request cannot do without (`invalid_request` when absent).
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// The `scope` parameter (RFC 6749 §3.3), if sent; malformed is `invalid_scope`.
    pub fn scope(&self) -> Result<Option<Scope>, OAuthError> {
        self.get("scope")
            .map(|s| Scope::parse(s).ok_or_else(|| OAuthError::invalid_scope("malformed scope")))
            .transpose()
    }

    pub fn get_all(&self, name: &str) -> &[String] {
        self.repeated.get(name).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_except_resource() {
        assert!(Params::parse(b"grant_type=a&grant_type=b").is_err());
        let p = Params::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(p.get_all("resource"), ["https://a", "https://b"]);
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let p = Params::parse(b"scope=&grant_type=x&scope=read").unwrap();
        assert_eq!(p.get("scope"), Some("read"));
        assert_eq!(p.get("grant_type"), Some("x"));
    }
}

#[cfg(test)]
mod proptests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any body parses or is refused as `invalid_request`; it never panics.
        #[test]
        fn any_body_parses_or_is_invalid_request(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(e) = Params::parse(&body) {
                prop_assert_eq!(e.code, "invalid_request");
            }
        }

        /// A form encoded by a client (RFC 6749 Appendix B) parses to the same parameters.
        #[test]
        fn an_encoded_form_parses_back(
            single in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{1,24}", 0..8),
            resources in proptest::collection::vec("\\PC{1,24}", 0..4),
        ) {
            let single: BTreeMap<String, String> = single
                .into_iter()
                .filter(|(k, v)| !REPEATABLE.contains(&k.as_str()) && !v.contains('\0'))
                .collect();
            let resources: Vec<String> = resources.into_iter().filter(|r| !r.contains('\0')).collect();
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(&single);
            for r in &resources {
                form.append_pair("resource", r);
            }
            let parsed = Params::parse(form.finish().as_bytes()).unwrap();
            for (name, value) in &single {
                prop_assert_eq!(parsed.get(name), Some(value.as_str()));
            }
            prop_assert_eq!(parsed.get_all("resource"), resources.as_slice());
        }

        /// CRLF and other controls survive parsing as data: never split into more parameters.
        #[test]
        fn control_characters_stay_inside_their_value(value in "[a-z]{0,4}[\\r\\n\\t\\x01-\\x1f]{1,4}[a-z=&]{0,4}") {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("state", &value)
                .finish();
            let parsed = Params::parse(body.as_bytes()).unwrap();
            prop_assert_eq!(parsed.get("state"), Some(value.as_str()));
            prop_assert_eq!(parsed.single.len(), 1);
        }
    }
}
