//! RFC 6265 cookies, the little this server needs: read one by name, write one with fixed
//! attributes. Values are our own random tokens (base64url), so no quoting is needed.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
}

/// The value of cookie `name`, if the request carries it exactly once. Two cookies of one
/// name mean someone else (a sibling subdomain, say) set one: neither can be trusted.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k.trim() == name {
                if found.is_some() {
                    return None;
                }
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// A `Set-Cookie` value: `HttpOnly`, `Path=/`, `Secure` when `secure`, and `Max-Age` when
/// given (0 deletes the cookie). `value` must be a cookie-octet string (RFC 6265 §4.1.1).
pub fn set(
    name: &str,
    value: &str,
    same_site: SameSite,
    secure: bool,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={}",
        match same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
        }
    );
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Our names and values are ASCII without control characters, so this cannot fail; keep a
    // harmless fallback rather than a panic.
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// RFC 6265 §4.1.2.5: cookies carry `Secure` whenever the issuer is served over https.
pub fn secure(state: &AppState) -> bool {
    state.issuer.starts_with("https://")
}

/// True for what `secret::random_token` makes: 43 base64url characters. Anything else is not
/// worth a database round trip.
pub fn is_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let h = headers(&["a=1; portcullis_csrf=xyz ; b=2"]);
        assert_eq!(get(&h, "portcullis_csrf").as_deref(), Some("xyz"));
        assert_eq!(get(&h, "c"), None);
        let h = headers(&["a=1", "b=2"]);
        assert_eq!(get(&h, "b").as_deref(), Some("2"));
    }

    #[test]
    fn a_duplicated_cookie_is_not_trusted() {
        assert_eq!(get(&headers(&["a=1; a=2"]), "a"), None);
        assert_eq!(get(&headers(&["a=1", "a=1"]), "a"), None);
    }

    #[test]
    fn set_cookie_carries_the_attributes() {
        let v = set("s", "v", SameSite::Lax, true, Some(60));
        assert_eq!(v, "s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        let v = set("s", "v", SameSite::Strict, false, None);
        assert_eq!(v, "s=v; Path=/; HttpOnly; SameSite=Strict");
    }
}
