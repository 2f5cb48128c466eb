//! RFC 7523 §2.1: a JWT from a trusted issuer used as an authorization grant. Verified per
//! RFC 7523 §3 with the issuer's registered keys and algorithms; every refusal is
//! `invalid_grant` (§3.1) naming the rule that failed.

use async_trait::async_trait;

use super::{GrantHandler, TokenContext};
use crate::error::OAuthError;
use crate::names::REQUESTED_TOKEN_USE_OBO;
use crate::names::grant_type::JWT_BEARER;
use crate::names::path;
use crate::oauth::assertion::{OneTimeId, check_client};
use crate::oauth::issue::TokenResponse;
use crate::oauth::issue::assertion::issue_for_assertion;
use crate::oauth::jwt_assertion::{self, Expected};
use crate::oauth::params::Params;
use crate::oauth::trusted_issuer::{IssuerKind, TrustedIssuer};

pub struct JwtBearer;

#[async_trait]
impl GrantHandler for JwtBearer {
    fn grant_type(&self) -> &'static str {
        JWT_BEARER
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        // Entra's on-behalf-of request shares this grant type and adds
        // `requested_token_use=on_behalf_of`: it is a token exchange (RFC 8693), answered there.
        if params.get("requested_token_use") == Some(REQUESTED_TOKEN_USE_OBO) {
            return super::token_exchange::entra_on_behalf_of(cx, params).await;
        }
        // RFC 7523 §2.1: exactly one JWT in `assertion`.
        let assertion = params.require("assertion")?;
        let iss = jwt_assertion::unverified_claim(assertion, "iss").ok_or_else(|| {
            OAuthError::invalid_grant("the assertion is not a JWT with an iss claim")
        })?;
        // RFC 7523 §3 item 1: the issuer must be one this server trusts.
        let row = cx
            .protocol
            .store
            .find_issuer(IssuerKind::Jwt.as_str(), &iss)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_grant("the assertion issuer is not trusted")
                    .with_detail(format!("iss {iss:?}"))
            })?;
        let issuer = TrustedIssuer::from_row(row)?;
        check_client(cx.client, &issuer)?;
        let (algorithms, keys) = issuer.jwt_keys().ok_or_else(|| {
            OAuthError::server_error().with_detail(format!("issuer {} has no keys", issuer.id))
        })?;
        let config = &cx.protocol.config.assertions;
        let leeway = config.clock_skew as i64;
        // RFC 7523 §3 item 3: the audience is this server, by issuer or token endpoint URL.
        let token_endpoint = cx.protocol.endpoint(path::TOKEN);
        let expected = Expected {
            algorithms: &algorithms,
            issuer: &issuer.issuer,
            subject: None,
            audiences: &[cx.protocol.issuer.as_str(), token_endpoint.as_str()],
            leeway,
            max_lifetime: config.max_lifetime as i64,
        };
        let claims =
            jwt_assertion::verify(&cx.protocol.remote_jwks, assertion, keys, &expected, cx.now)
                .await
                .map_err(|r| {
                    OAuthError::invalid_grant(r.to_string()).with_detail(format!(
                        "issuer {}: {}",
                        issuer.id,
                        r.detail()
                    ))
                })?;
        let jti = claims.jti.as_deref().unwrap_or_default();
        issue_for_assertion(
            cx.protocol,
            cx.client,
            cx.now,
            &issuer,
            &claims.sub,
            OneTimeId {
                id: jti,
                expires_at: claims.exp + leeway,
            },
            params,
        )
        .await
    }
}
