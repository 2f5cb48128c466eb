//! RFC 7522 §2.1: a SAML 2.0 assertion from a trusted identity provider used as an
//! authorization grant. `oauth::saml` verifies it (RFC 7522 §3); every refusal is
//! `invalid_grant` (§3.1) naming the rule that failed.

use async_trait::async_trait;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::grant_type::SAML2_BEARER;
use crate::names::path;
use crate::oauth::assertion::{OneTimeId, check_client};
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::assertion::issue_for_assertion;
use crate::oauth::params::Params;
use crate::oauth::saml::{self, Expected, ParsedAssertion, Refusal};
use crate::oauth::trusted_issuer::{IssuerKind, TrustedIssuer};

pub struct Saml2Bearer;

fn refused(r: Refusal) -> OAuthError {
    OAuthError::invalid_grant(r.to_string()).with_detail(r.detail())
}

#[async_trait]
impl GrantHandler for Saml2Bearer {
    fn grant_type(&self) -> &'static str {
        SAML2_BEARER
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let config = &cx.protocol.config.assertions;
        // RFC 7522 §2.1: one base64url-encoded Assertion in `assertion`.
        let xml =
            saml::decode(params.require("assertion")?, config.saml_max_bytes).map_err(refused)?;
        let parsed = ParsedAssertion::parse(&xml).map_err(refused)?;
        // RFC 7522 §3 item 1: the Issuer must be an identity provider this server trusts.
        let entity_id = parsed.issuer().map_err(refused)?;
        let row = cx
            .protocol
            .store
            .find_issuer(IssuerKind::Saml.as_str(), &entity_id)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_grant("the assertion issuer is not trusted")
                    .with_detail(format!("SAML issuer {entity_id:?}"))
            })?;
        let issuer = TrustedIssuer::from_row(row)?;
        check_client(cx.client, &issuer)?;
        let token_endpoint = cx.protocol.endpoint(path::TOKEN);
        let expected = Expected {
            audiences: &[cx.protocol.issuer.as_str(), token_endpoint.as_str()],
            recipient: &token_endpoint,
            leeway: config.clock_skew as i64,
            max_lifetime: config.max_lifetime as i64,
        };
        let verified = parsed
            .verify(&issuer.config.certificates, &expected, cx.now)
            .map_err(|r| {
                OAuthError::invalid_grant(r.to_string()).with_detail(format!(
                    "issuer {}: {}",
                    issuer.id,
                    r.detail()
                ))
            })?;
        issue_for_assertion(
            cx.protocol,
            cx.client,
            cx.now,
            &issuer,
            &verified.subject,
            OneTimeId {
                id: &verified.id,
                expires_at: verified.expires_at + config.clock_skew as i64,
            },
            params,
        )
        .await
    }
}
