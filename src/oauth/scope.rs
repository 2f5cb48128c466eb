//! RFC 6749 §3.3 scopes: space-delimited, case-sensitive, order-insensitive.

use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a `scope` parameter; `None` when a token has a character §3.3 forbids.
    pub fn parse(value: &str) -> Option<Scope> {
        let mut tokens: Vec<String> = Vec::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return None;
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_string());
            }
        }
        Some(Scope(tokens))
    }

    pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Scope {
        let mut scope = Scope::default();
        for t in tokens {
            if !scope.contains(t) {
                scope.0.push(t.to_string());
            }
        }
        scope
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that `allowed` does not contain.
    pub fn not_in<'a>(&'a self, allowed: &Scope) -> Vec<&'a str> {
        self.iter().filter(|t| !allowed.contains(t)).collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_refuses_bad_characters() {
        let s = Scope::parse("read  write read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("read \"quoted\"").is_none());
        assert!(Scope::parse("back\\slash").is_none());
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn not_in_lists_escalations() {
        let allowed = Scope::parse("a b").unwrap();
        assert!(Scope::parse("a").unwrap().not_in(&allowed).is_empty());
        assert_eq!(Scope::parse("a c").unwrap().not_in(&allowed), vec!["c"]);
    }
}
