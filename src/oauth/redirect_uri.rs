//! RFC 6749 §3.1.2: where an authorization response may go. Checked before anything else of
//! an authorization request: until the redirect URI is verified, no error goes to the client.

use crate::oauth::client::{Client, Profile};

/// RFC 6749 §3.1.2.3 / RFC 9700 §2.1: the redirect URI equals a registered one exactly, but
/// for a native app's loopback URI, whose port may differ (RFC 8252 §7.3). Absent, it is the
/// client's only registered one.
pub fn verify_redirect_uri(
    client: &Client,
    requested: Option<&str>,
) -> Result<String, &'static str> {
    let registered = &client.meta.redirect_uris;
    let Some(requested) = requested else {
        return match registered.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err("redirect_uri is required"),
        };
    };
    if registered.iter().any(|r| r == requested) {
        return Ok(requested.to_string());
    }
    if client.meta.profile == Profile::Native
        && registered
            .iter()
            .any(|r| same_loopback_but_port(r, requested))
    {
        return Ok(requested.to_string());
    }
    Err("redirect_uri is not registered for the client")
}

/// RFC 8252 §7.3: `http` on the IP literal loopback, same host, path and query; any port.
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        u.scheme() == "http"
            && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
            && u.username().is_empty()
            && u.password().is_none()
            && u.fragment().is_none()
    };
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports_may_differ_but_nothing_else() {
        let r = "http://127.0.0.1/callback";
        assert!(same_loopback_but_port(r, "http://127.0.0.1:51234/callback"));
        assert!(same_loopback_but_port(
            "http://[::1]:1/cb",
            "http://[::1]:8080/cb"
        ));
        assert!(!same_loopback_but_port(r, "http://127.0.0.1:51234/other"));
        assert!(!same_loopback_but_port(
            r,
            "http://localhost:51234/callback"
        ));
        assert!(!same_loopback_but_port(
            r,
            "https://127.0.0.1:51234/callback"
        ));
        assert!(!same_loopback_but_port(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use crate::fuzzing::redirect_uri;

    const GOOD: &str = "https://good.example/cb";

    fn registered() -> Vec<String> {
        vec![GOOD.to_string(), "https://good.example/cb?x=1".to_string()]
    }

    /// Open-redirect tricks against a registered URI (RFC 9700 §4.1): none is "the same".
    #[test]
    fn near_misses_of_a_registered_uri_are_refused() {
        for trick in [
            "https://good.example@evil.example/cb",
            "https://good.example/cb@evil.example",
            "https://evil.example/cb",
            "https://good.example.evil.example/cb",
            "https://GOOD.example/cb",
            "HTTPS://good.example/cb",
            "https://good.example./cb",
            "https://good.example/cb/",
            "https://good.example/cb/..",
            "https://good.example/cb/../evil",
            "https://good.example/x/../cb",
            "https://good.example/cb%2f..%2fevil",
            "https://good.example/cb%2F..%2Fevil",
            "https://good.example%2fcb",
            "https://good.example/cb#evil",
            "https://good.example/cb?x=2",
            "https://good.example/cb?x=1&y=2",
            "https://good.example:443/cb",
            "https://good.example:8443/cb",
            "https://user:pass@good.example/cb",
            "http://good.example/cb",
            "https://good.example/cb\r\nLocation: https://evil.example",
            "https://good.example/cb%0d%0aLocation:%20https://evil.example",
            "https://good.example/CB",
            " https://good.example/cb",
            "https://good.example/cb ",
            "https://good.example\\@evil.example/cb",
            "//evil.example/cb",
            "https:/good.example/cb",
        ] {
            assert_eq!(
                redirect_uri(&registered(), false, Some(trick)),
                None,
                "{trick}"
            );
            assert_eq!(
                redirect_uri(&registered(), true, Some(trick)),
                None,
                "{trick}"
            );
        }
        assert_eq!(
            redirect_uri(&registered(), false, Some(GOOD)).as_deref(),
            Some(GOOD)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A web client's response goes to a registered URI, character for character, or
        /// nowhere.
        #[test]
        fn only_registered_uris_are_accepted(
            requested in prop_oneof![
                "\\PC{0,60}",
                "https://good\\.example[/:@.?#%a-zA-Z0-9]{0,20}",
                "[hH][tT][tT][pP][sS]?://[gG][oO][oO][dD]\\.example\\.?(:[0-9]{1,5})?/cb[/?#.]{0,3}",
            ],
            native in any::<bool>(),
        ) {
            let got = redirect_uri(&registered(), native, Some(&requested));
            if let Some(got) = got {
                prop_assert_eq!(&got, &requested);
                prop_assert!(registered().contains(&got), "{}", got);
            }
        }

        /// A native app's loopback URI matches on any port, and on nothing else.
        #[test]
        fn native_loopback_varies_only_by_port(port in 1u16.., path in "/[a-z]{0,6}", other in "/[a-z]{0,6}") {
            let registered = vec![format!("http://127.0.0.1{path}")];
            let same = format!("http://127.0.0.1:{port}{path}");
            prop_assert_eq!(redirect_uri(&registered, true, Some(&same)), Some(same.clone()));
            prop_assert_eq!(redirect_uri(&registered, false, Some(&same)).is_some(), registered[0] == same);
            let elsewhere = format!("http://127.0.0.1:{port}{other}");
            let url_of = |s: &str| url::Url::parse(s).unwrap().path().to_string();
            prop_assert_eq!(
                redirect_uri(&registered, true, Some(&elsewhere)).is_some(),
                url_of(&elsewhere) == url_of(&registered[0])
            );
            for host in ["localhost", "127.0.0.2", "evil.example"] {
                let moved = format!("http://{host}:{port}{path}");
                prop_assert_eq!(redirect_uri(&registered, true, Some(&moved)), None);
            }
        }
    }
}
