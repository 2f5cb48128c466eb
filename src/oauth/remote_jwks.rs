//! Keys published at a client's `jwks_uri` (RFC 7591 §2), cached per process. A cache of
//! remote data is safe per node: every node fetches the same document. An unknown `kid`
//! triggers a re-fetch (key rotation at the client), at most once per `MIN_REFETCH`. Ages are
//! measured on the server's clock (`now`: time comes in from outside), so tests can
//! exercise the re-fetch without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

/// Seconds a fetched key set is used before it is fetched again.
const TTL: i64 = 300;
/// Seconds after a fetch during which an unknown `kid` does not cause another.
const MIN_REFETCH: i64 = 10;
const MAX_BYTES: usize = 256 * 1024;

pub struct RemoteJwks {
    http: reqwest::Client,
    /// By URI: when it was fetched (Unix seconds) and the key set.
    cache: Mutex<HashMap<String, (i64, Arc<JwkSet>)>>,
}

impl Default for RemoteJwks {
    fn default() -> Self {
        Self::new()
    }
}

impl RemoteJwks {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        RemoteJwks {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key set at `uri` at `now`, re-fetched when stale or when it lacks `kid`.
    pub async fn get(&self, uri: &str, kid: Option<&str>, now: i64) -> Result<Arc<JwkSet>, String> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uri)
            .cloned();
        if let Some((fetched_at, set)) = &cached {
            let age = now - fetched_at;
            let has_kid = kid.is_none_or(|k| set.find(k).is_some());
            // A clock stepped back makes the entry stale rather than fresh for longer.
            if (0..TTL).contains(&age) && (has_kid || age < MIN_REFETCH) {
                return Ok(set.clone());
            }
        }
        match self.fetch(uri).await {
            Ok(set) => {
                let set = Arc::new(set);
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(uri.to_string(), (now, set.clone()));
                Ok(set)
            }
            // A client whose JWKS host blips keeps working on the keys we already have.
            Err(e) => cached.map(|(_, set)| set).ok_or(e),
        }
    }

    async fn fetch(&self, uri: &str) -> Result<JwkSet, String> {
        let response = self
            .http
            .get(uri)
            .send()
            .await
            .map_err(|e| format!("fetching {uri}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("fetching {uri}: status {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading {uri}: {e}"))?;
        if body.len() > MAX_BYTES {
            return Err(format!("{uri}: key set larger than {MAX_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{uri}: not a JWK set: {e}"))
    }
}
