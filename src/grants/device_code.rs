//! RFC 8628: the device authorization grant. `authorize_device` answers the device
//! authorization request (§3.1–3.2); the handler answers the device's polls at the token
//! endpoint (§3.4–3.5). The user's side, the verification pages, is `http::device`.

use async_trait::async_trait;
use serde::Serialize;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::DEVICE_CODE;
use crate::names::path;
use crate::oauth::authorize_request::OIDC_SCOPES;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::user_grant::{
    UserGrant, default_audience, issue_tokens, narrow, store_refresh,
};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::revoke::revoke_replayed_grant;
use crate::oauth::scope::Scope;
use crate::oauth::user_code;
use crate::secret::{random_token, sha256_hex};
use crate::store::{Consumed, DeviceCodeRow, DeviceCodeStatus};

/// RFC 8628 §3.2: the device authorization response.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// Draws of a user code that collide with a live one before giving up (with 20^8 codes, even
/// one collision means millions of live codes).
const USER_CODE_DRAWS: usize = 5;

/// RFC 8628 §3.1–3.2: checks the request of an authenticated client and starts a device
/// authorization: a device code of 256 random bits and a user code, both stored only as
/// SHA-256, pending until the user decides or `device.code_lifetime` passes.
pub async fn authorize_device(
    state: &ProtocolContext,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<DeviceAuthorization, OAuthError> {
    // RFC 8628 §3.1: the client must be registered for this grant.
    if !client.has_grant_type(DEVICE_CODE) {
        return Err(OAuthError::unauthorized_client(
            "the client is not registered for the device flow",
        )
        .with_detail(format!("client {}", client.id)));
    }
    // RFC 6749 §3.3: no scope means the client's pre-registered scope.
    let scope = match params.scope()? {
        Some(s) if !s.is_empty() => s,
        _ => Scope::parse(&client.meta.scope).unwrap_or_default(),
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("scope is required"));
    }
    // As at the authorization endpoint: the OpenID scopes, and those registered.
    let allowed = Scope::from_tokens(client.allowed_scopes().chain(OIDC_SCOPES));
    let beyond = scope.not_in(&allowed);
    if !beyond.is_empty() {
        return Err(
            OAuthError::invalid_scope("the client may not request this scope")
                .with_detail(format!("client {} scope {beyond:?}", client.id)),
        );
    }
    let resources = params.get_all("resource").to_vec();
    if !resources.is_empty() {
        // RFC 8707 §2: each resource registered and allowed for the client.
        resolve_targets(state, client, &resources).await?;
    }
    let config = &state.config.device;
    let device_code = random_token();
    let mut row = DeviceCodeRow {
        device_code_hash: sha256_hex(&device_code),
        user_code_hash: String::new(),
        grant_id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
        audience: serde_json::to_string(&resources).unwrap_or_default(),
        status: DeviceCodeStatus::Pending.as_str().into(),
        user_id: None,
        auth_time: None,
        poll_interval: config.interval as i64,
        last_polled_at: None,
        slow_down: 0,
        issued_at: now,
        expires_at: now + config.code_lifetime as i64,
        consumed_at: None,
    };
    for _ in 0..USER_CODE_DRAWS {
        let code = user_code::generate();
        row.user_code_hash = user_code::digest(&code);
        if state.store.insert_device_code(&row, now).await? {
            tracing::info!(client_id = %client.id, grant_id = %row.grant_id, "device authorization started");
            let shown = user_code::display(&code);
            let verification_uri = state.endpoint(path::DEVICE);
            // RFC 8628 §3.3.1: the same page with the code filled in.
            let mut complete = url::Url::parse(&verification_uri)
                .map_err(|e| OAuthError::server_error().with_detail(e.to_string()))?;
            complete.query_pairs_mut().append_pair("user_code", &shown);
            return Ok(DeviceAuthorization {
                device_code,
                user_code: shown,
                verification_uri,
                verification_uri_complete: complete.into(),
                expires_in: config.code_lifetime,
                interval: config.interval,
            });
        }
    }
    Err(OAuthError::temporarily_unavailable().with_detail("no free user code"))
}

pub struct DeviceCode;

/// The token request, typed (RFC 8628 §3.4).
struct Request<'a> {
    device_code: &'a str,
    /// RFC 8707 §2.2: a subset of the granted resources for this access token.
    resources: &'a [String],
}

impl<'a> Request<'a> {
    fn parse(params: &'a Params) -> Result<Self, OAuthError> {
        Ok(Request {
            device_code: params.require("device_code")?,
            resources: params.get_all("resource"),
        })
    }
}

#[async_trait]
impl GrantHandler for DeviceCode {
    fn grant_type(&self) -> &'static str {
        DEVICE_CODE
    }

    /// RFC 8628 §3.4: devices are usually public clients (§5.6: they cannot keep a secret).
    fn allows_public_clients(&self) -> bool {
        true
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let request = Request::parse(params)?;
        let invalid = || OAuthError::invalid_grant("the device code is invalid");
        let store = &cx.protocol.store;
        let hash = sha256_hex(request.device_code);
        // One statement records this poll and judges it against the previous one, whichever
        // node served that. Another client's code is not found (RFC 6749 §5.2 invalid_grant:
        // issued to another client), and its polling state is left alone.
        let Some(polled) = store.poll_device_code(&hash, &cx.client.id, cx.now).await? else {
            return Err(invalid().with_detail("unknown device code, or another client's"));
        };
        if polled.consumed_at.is_some() {
            return Err(replayed(cx, &polled.grant_id).await?);
        }
        // RFC 8628 §3.5 expired_token.
        if polled.expires_at <= cx.now {
            return Err(OAuthError::expired_token("the device code has expired"));
        }
        match polled.status() {
            // RFC 8628 §3.5: slow_down when polled sooner than the interval (now 5 s longer),
            // else authorization_pending.
            Some(DeviceCodeStatus::Pending) if polled.slow_down != 0 => {
                return Err(OAuthError::slow_down("poll less often"));
            }
            Some(DeviceCodeStatus::Pending) => {
                return Err(OAuthError::authorization_pending(
                    "the user has not decided yet",
                ));
            }
            // RFC 8628 §3.5 access_denied.
            Some(DeviceCodeStatus::Denied) => {
                return Err(OAuthError::access_denied("the user denied the request"));
            }
            Some(DeviceCodeStatus::Approved) => {}
            None => {
                return Err(OAuthError::server_error().with_detail(format!(
                    "device code of grant {}: bad status",
                    polled.grant_id
                )));
            }
        }
        // Tokens once: the take is atomic, so of two racing polls one gets them.
        let row = match store.take_device_code(&hash, &cx.client.id, cx.now).await? {
            Consumed::Fresh(row) => row,
            Consumed::Replayed { grant_id } => return Err(replayed(cx, &grant_id).await?),
            Consumed::Missing => return Err(invalid().with_detail("device code gone")),
        };
        let corrupt = |what: &str| {
            OAuthError::server_error()
                .with_detail(format!("device code of grant {}: bad {what}", row.grant_id))
        };
        let (Some(user_id), Some(auth_time)) = (row.user_id.as_deref(), row.auth_time) else {
            return Err(corrupt("approval"));
        };
        let scope = Scope::parse(&row.scope).ok_or_else(|| corrupt("scope"))?;
        let named: Vec<String> =
            serde_json::from_str(&row.audience).map_err(|_| corrupt("audience"))?;
        let granted = default_audience(cx.protocol, cx.client, &scope, named).await?;
        let audience = narrow(&granted, request.resources)?;
        let issued = issue_tokens(
            cx.protocol,
            cx.client,
            UserGrant {
                grant_id: &row.grant_id,
                subject: user_id,
                granted: &scope,
                scope: &scope,
                granted_audience: &granted,
                audience: &audience,
                auth_time,
                nonce: None,
                // The approving browser session is not the device's: tokens outlive it.
                sid: None,
                acr: None,
                refresh_family_expires_at: None,
            },
            cx.now,
        )
        .await?;
        store_refresh(cx.protocol, issued).await
    }
}

/// A device code presented again after its tokens were issued: as for a replayed
/// authorization code (RFC 6749 §4.1.2, RFC 9700 §4.5), everything the grant produced is
/// revoked, since either poller may be an attacker holding a stolen code.
async fn replayed(cx: &TokenContext<'_>, grant_id: &str) -> Result<OAuthError, OAuthError> {
    revoke_replayed_grant(cx.protocol, grant_id, cx.now).await?;
    crate::audit::record(
        &cx.protocol.store,
        cx.now,
        crate::audit::action::CODE_REPLAY,
        &crate::audit::client_actor(&cx.client.id),
        grant_id,
        serde_json::json!({ "code": "device_code" }),
    )
    .await;
    Ok(
        OAuthError::invalid_grant("the device code is invalid").with_detail(format!(
            "device code replayed by client {}; grant {grant_id} revoked",
            cx.client.id
        )),
    )
}
