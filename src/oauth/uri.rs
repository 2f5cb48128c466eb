//! URI rules shared by the config, client registration and the authorization endpoint.

pub use crate::proxy::is_loopback_host;

/// An absolute URI without a fragment (RFC 6749 §3.1.2; RFC 8707 §2 for resources).
pub fn parse_absolute(value: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(value).map_err(|_| "is not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    Ok(url)
}
