//! RFC 7521 §5.1 / §5.2: what the JWT bearer and SAML 2.0 bearer grants, and token exchange of
//! a trusted issuer's subject token, check of a verified assertion besides its own rules: the
//! client may use the issuer, and the subject maps to a token subject. Issuing the token is
//! `oauth::issue::assertion`.

use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::trusted_issuer::{SubjectMapping, TrustedIssuer};
use crate::users::{User, normalize_username};

/// The assertion's one-time identifier (JWT `jti`, SAML `ID`), kept until it expires.
pub struct OneTimeId<'a> {
    pub id: &'a str,
    pub expires_at: i64,
}

/// RFC 7521 §5.1: the issuer is trusted for the clients it names. Checked before the
/// assertion's signature, so an issuer's keys are never fetched for a client that may not use it.
pub fn check_client(client: &Client, issuer: &TrustedIssuer) -> Result<(), OAuthError> {
    if issuer.may_be_used_by(&client.id) {
        return Ok(());
    }
    Err(
        OAuthError::invalid_grant("this client may not present assertions from this issuer")
            .with_detail(format!("client {} issuer {}", client.id, issuer.id)),
    )
}

/// The verified assertion's subject as the token's `sub` (RFC 7521 §5.2: the subject
/// identifies the resource owner; how it maps is the issuer's registration).
pub(crate) async fn map_subject(
    protocol: &ProtocolContext,
    issuer: &TrustedIssuer,
    subject: &str,
) -> Result<String, OAuthError> {
    let store = &protocol.store;
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
