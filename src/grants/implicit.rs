//! RFC 6749 §4.2 / OIDC Core §3.2: the implicit flow's authorization response. A legacy flow
//! (RFC 9700 §2.1.2: SHOULD NOT be used), served only when `legacy.implicit` is on and only to
//! clients registered for it. `/authorize` checks the request like a code request
//! (`oauth::authorize_request`), with the same redirect URI, sign-in and consent rules; once the
//! user has consented, `issue` makes the tokens (`oauth::issue::implicit`) that go back in the
//! fragment or form_post, never in the query. Never a refresh token (RFC 6749 §4.2.2).

use crate::error::OAuthError;
use crate::oauth::authorize_request::AuthorizeRequest;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::issue::implicit::implicit_tokens;
use crate::oauth::legacy_usage::{LegacyFlow, record_use};

/// The response parameters (RFC 6749 §4.2.2, OIDC Core §3.2.2.5) for an authorization request
/// of an implicit response type that `user_id`, who authenticated at `auth_time`, consented to;
/// the use of the legacy flow is counted.
pub async fn issue(
    state: &ProtocolContext,
    client: &Client,
    request: &AuthorizeRequest,
    user_id: &str,
    auth_time: i64,
    sid: &str,
    now: i64,
) -> Result<Vec<(&'static str, String)>, OAuthError> {
    let fields = implicit_tokens(state, client, request, user_id, auth_time, sid, now).await?;
    record_use(state, &client.id, LegacyFlow::Implicit, now).await?;
    // Counted like the token endpoint's issuance (http/token.rs).
    metrics::counter!(
        "portcullis_tokens_issued_total",
        "grant_type" => crate::names::grant_type::IMPLICIT,
        "client_id" => client.id.clone()
    )
    .increment(1);
    Ok(fields)
}
