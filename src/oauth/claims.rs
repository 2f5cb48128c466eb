//! OIDC Core §5.4: which user claims each scope asks for, shared by userinfo and the ID tokens
//! of the implicit flow, and listed by discovery.

use serde_json::{Map, Value};

use crate::oauth::scope::Scope;

/// OIDC Core §5.4: the claims each scope asks for. `sub` is always returned (§5.3.2).
const SCOPE_CLAIMS: [(&str, &[&str]); 4] = [
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Every claim userinfo can return, for discovery's `claims_supported`.
pub fn claims_supported() -> Vec<&'static str> {
    let mut claims = vec!["sub"];
    for (_, names) in SCOPE_CLAIMS {
        claims.extend_from_slice(names);
    }
    claims
}

/// OIDC Core §5.4: `sub`, and the claims of each granted scope that the user has.
pub fn by_scope(mut all: Map<String, Value>, scope: &Scope) -> Map<String, Value> {
    let mut claims = Map::new();
    if let Some(sub) = all.remove("sub") {
        claims.insert("sub".into(), sub);
    }
    for (_, names) in SCOPE_CLAIMS.iter().filter(|(s, _)| scope.contains(s)) {
        for name in *names {
            if let Some(value) = all.remove(*name) {
                claims.insert((*name).into(), value);
            }
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_the_scope() {
        let all: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "sub": "u1", "name": "Alice", "email": "a@example.com", "email_verified": true,
            "phone_number": "+1 555", "address": {"country": "FR"}, "updated_at": 5,
            "preferred_username": "alice",
        }))
        .unwrap();
        let only = |scope: &str| {
            let claims = by_scope(all.clone(), &Scope::parse(scope).unwrap());
            let mut names: Vec<String> = claims.keys().cloned().collect();
            names.sort();
            names
        };
        assert_eq!(only("openid"), ["sub"]);
        assert_eq!(only("openid email"), ["email", "email_verified", "sub"]);
        assert_eq!(
            only("openid profile"),
            ["name", "preferred_username", "sub", "updated_at"]
        );
        assert_eq!(
            only("openid address phone"),
            ["address", "phone_number", "sub"]
        );
        assert!(claims_supported().contains(&"phone_number_verified"));
    }
}
