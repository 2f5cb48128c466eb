//! OpenID Connect Back-Channel Logout 1.0 §2.4: the Logout Token, a JWT typed `logout+jwt`
//! that tells a relying party a user's session at this server has ended.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;

/// §2.4: the explicit type of a Logout Token (RFC 8725 §3.11), so it cannot pass for an ID
/// token.
pub const TYP_LOGOUT_TOKEN: &str = "logout+jwt";
/// §2.4: the member of `events` that makes a JWT a Logout Token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Seconds a Logout Token is valid: §2.4 recommends a short lifetime, at most two minutes.
pub const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// Whose session ended, for which client.
pub struct LogoutTokenSpec<'a> {
    /// The audience; signed with the algorithm of its ID tokens.
    pub client: &'a Client,
    pub subject: &'a str,
    pub sid: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: Map<String, Value>,
}

/// §2.4: iss, aud, iat, exp, jti, `sub` and `sid` (both: the client may key its sessions on
/// either, and `backchannel_logout_session_required` is met), `events`, and never a `nonce`
/// (§2.4: a Logout Token must not be mistaken for an ID token). Signed like the client's ID
/// tokens (its `id_token_signed_response_alg`, else `tokens.id_token_alg`): §2.6 has the
/// client validate it as it validates ID tokens, so it expects that algorithm.
pub fn issue_logout_token(
    state: &ProtocolContext,
    spec: LogoutTokenSpec<'_>,
    now: i64,
) -> Result<String, OAuthError> {
    let mut events = Map::new();
    events.insert(BACKCHANNEL_LOGOUT_EVENT.into(), Value::Object(Map::new()));
    let claims = Claims {
        iss: &state.issuer,
        aud: &spec.client.id,
        iat: now,
        exp: now + LOGOUT_TOKEN_LIFETIME,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sub: spec.subject,
        sid: spec.sid,
        events,
    };
    let alg = spec.client.id_token_alg(state.config.tokens.id_token_alg);
    Ok(state.keys.sign(alg, TYP_LOGOUT_TOKEN, &claims, now)?)
}
