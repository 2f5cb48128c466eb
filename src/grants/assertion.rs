//! RFC 7521 §4.1 / §5.2: what the JWT bearer and SAML 2.0 bearer grants do once an
//! assertion's own checks have passed — the client may use the issuer, the subject maps to a
//! token subject, the scope stays within what the client, the issuer and the APIs allow, the
//! assertion's one-time id is spent, and the access token is issued.

use serde_json::Map;

use super::TokenContext;
use crate::admin::users::{User, normalize_username};
use crate::error::OAuthError;
use crate::oauth::issue::{AccessTokenSpec, TokenResponse, issue_access_token};
use crate::oauth::params::Params;
use crate::oauth::resource::resolve_targets;
use crate::oauth::scope::Scope;
use crate::oauth::trusted_issuer::{SubjectMapping, TrustedIssuer};

/// The assertion's one-time identifier (JWT `jti`, SAML `ID`), kept until it expires.
pub struct OneTimeId<'a> {
    pub id: &'a str,
    pub expires_at: i64,
}

/// RFC 7521 §5.1: the issuer is trusted for the clients it names. Checked before the
/// assertion's signature, so an issuer's keys are never fetched for a client that may not use it.
pub fn check_client(cx: &TokenContext<'_>, issuer: &TrustedIssuer) -> Result<(), OAuthError> {
    if issuer.may_be_used_by(&cx.client.id) {
        return Ok(());
    }
    Err(
        OAuthError::invalid_grant("this client may not present assertions from this issuer")
            .with_detail(format!("client {} issuer {}", cx.client.id, issuer.id)),
    )
}

/// The verified assertion's subject as the token's `sub` (RFC 7521 §5.2: the subject
/// identifies the resource owner; how it maps is the issuer's registration).
pub(crate) async fn map_subject(
    cx: &TokenContext<'_>,
    issuer: &TrustedIssuer,
    subject: &str,
) -> Result<String, OAuthError> {
    let store = &cx.protocol.store;
    let unknown = || {
        OAuthError::invalid_grant("the assertion subject is not a known user").with_detail(format!(
            "issuer {} {:?} subject {subject:?}",
            issuer.id, issuer.config.subject
        ))
    };
    let row = match issuer.config.subject {
        SubjectMapping::External => return Ok(subject.to_string()),
        SubjectMapping::UserId => store.get_user(subject).await?,
        SubjectMapping::Username => match normalize_username(subject) {
            Ok(name) => store.find_user_by_username(&name).await?,
            Err(_) => None,
        },
        SubjectMapping::Email => {
            let mut found = store.find_users_by_email(subject, 2).await?;
            // Emails are not unique: an address two accounts share names neither.
            if found.len() > 1 {
                return Err(OAuthError::invalid_grant(
                    "the assertion subject matches more than one user",
                )
                .with_detail(format!("issuer {} email subject", issuer.id)));
            }
            found.pop()
        }
    };
    let user = User::from_row(row.ok_or_else(unknown)?)?;
    if user.disabled {
        return Err(unknown());
    }
    Ok(user.id)
}

/// Issues the access token for a verified assertion of `issuer` about `subject`.
pub async fn issue_for_assertion(
    cx: &TokenContext<'_>,
    issuer: &TrustedIssuer,
    subject: &str,
    one_time: OneTimeId<'_>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let requested = params.scope()?;
    let mut target_ids = params.get_all("resource").to_vec();
    target_ids.extend(params.get_all("audience").iter().cloned());
    let targets = resolve_targets(cx.protocol, cx.client, &target_ids).await?;
    // RFC 7521 §4.1: the scope is limited to what the client may ask, what the issuer may
    // obtain, and what the target APIs define.
    let allowed = Scope::from_tokens(cx.client.allowed_scopes().filter(|s| {
        issuer.config.scopes.iter().any(|i| i == s) && targets.iter().any(|t| t.defines_scope(s))
    }));
    let scope = requested.unwrap_or_else(|| allowed.clone());
    let escalated = scope.not_in(&allowed);
    if !escalated.is_empty() {
        return Err(OAuthError::invalid_scope(
            "the scope exceeds what this client may obtain with this issuer's assertions",
        )
        .with_detail(format!(
            "client {} issuer {} asked for {escalated:?}",
            cx.client.id, issuer.id
        )));
    }
    let sub = map_subject(cx, issuer, subject).await?;
    // RFC 7523 §3 item 7 / RFC 7522 §3 item 9: spent last, so a request refused for its scope
    // or target can be corrected and sent again with the same assertion.
    let fresh = cx
        .protocol
        .store
        .record_jti(
            &format!("{}:{}", issuer.kind.as_str(), issuer.issuer),
            one_time.id,
            one_time.expires_at,
        )
        .await?;
    if !fresh {
        crate::audit::record(
            &cx.protocol.store,
            cx.now,
            crate::audit::action::ASSERTION_REPLAY,
            &crate::audit::client_actor(&cx.client.id),
            &issuer.id,
            serde_json::json!({ "kind": issuer.kind.as_str() }),
        )
        .await;
        return Err(
            OAuthError::invalid_grant("the assertion has already been used")
                .with_detail(format!("issuer {} replayed id", issuer.id)),
        );
    }
    let token = issue_access_token(
        cx.protocol,
        AccessTokenSpec {
            client_id: &cx.client.id,
            subject: &sub,
            scope: &scope,
            targets: &targets,
            grant_id: None,
            extra: Map::new(),
            not_after: None,
        },
        cx.now,
    )
    .await?;
    Ok(TokenResponse::bearer(token, &scope))
}
