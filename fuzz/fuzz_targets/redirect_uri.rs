//! The redirect URI matcher (`verify_redirect_uri`): never a panic, and it answers only with a
//! URI the client registered exactly, or (for a native app) the same loopback URI on another
//! port (RFC 8252 §7.3).
//!
//! Input: a first byte (bit 0: a native app), then lines: the requested URI, then more
//! registered URIs besides `REGISTERED`.
#![no_main]

use libfuzzer_sys::fuzz_target;

const REGISTERED: [&str; 3] = [
    "https://good.example/cb",
    "https://good.example/cb?x=1",
    "http://127.0.0.1/native",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let native = flags & 1 == 1;
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let requested = lines.next().filter(|_| flags & 2 == 0);
    let mut registered: Vec<String> = REGISTERED.iter().map(|s| s.to_string()).collect();
    registered.extend(lines.map(str::to_string));
    let Some(chosen) = portcullis::fuzzing::redirect_uri(&registered, native, requested) else {
        return;
    };
    let Some(requested) = requested else {
        panic!("with several registered URIs, none is chosen for the client: {chosen:?}");
    };
    assert_eq!(
        chosen, requested,
        "the response goes where it was asked, or nowhere"
    );
    if registered.contains(&chosen) {
        return;
    }
    assert!(
        native,
        "a web client's redirect URI must be registered exactly: {chosen:?}"
    );
    let url = parts(&chosen);
    assert_eq!(url.0, "http", "{chosen:?}");
    assert!(url.1 == "127.0.0.1" || url.1 == "[::1]", "{chosen:?}");
    assert!(
        registered.iter().any(|r| {
            let r = parts(r);
            r.0 == url.0 && r.1 == url.1 && r.2 == url.2
        }),
        "{chosen:?} matches no registered loopback URI but for the port"
    );
});

/// Scheme, host, and path with query, as the WHATWG parser sees them.
fn parts(s: &str) -> (String, String, String) {
    let Ok(u) = url::Url::parse(s) else {
        return Default::default();
    };
    (
        u.scheme().to_string(),
        u.host_str().unwrap_or("").to_string(),
        format!("{}?{:?}", u.path(), u.query()),
    )
}
