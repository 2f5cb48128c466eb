//! URI rules shared by the config, client registration and the authorization endpoint.

/// RFC 8252 §7.3 / §8.3: loopback interface redirects. `localhost` is accepted as loopback for
/// an issuer in development but linted for redirect URIs (§8.3 prefers the IP literal).
pub fn is_loopback_host(host: Option<&str>) -> bool {
    matches!(host, Some("127.0.0.1" | "[::1]" | "::1" | "localhost"))
        || host.is_some_and(|h| h.starts_with("127."))
}

/// An absolute URI without a fragment (RFC 6749 §3.1.2; RFC 8707 §2 for resources).
pub fn parse_absolute(value: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(value).map_err(|_| "is not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    Ok(url)
}
