//! Token-endpoint grants, one module per flow, looked up by `grant_type` in a registry built
//! from config (node-oidc-provider's `registerGrantType`). Discovery reads the same registry,
//! so what is advertised is exactly what is served.
//!
//! A grant imports `oauth/` (issuance, revocation, assertion checks), never another grant. The
//! one hand-off: `jwt_bearer` passes Microsoft Entra's on-behalf-of form, which shares its
//! `grant_type`, to `token_exchange::entra_on_behalf_of`, since it is a token exchange
//! (RFC 8693) in another envelope.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod implicit;
pub mod jwt_bearer;
pub mod password;
pub mod refresh_token;
pub mod saml_bearer;
pub mod token_exchange;

use std::net::IpAddr;

use async_trait::async_trait;

use crate::config::Config;
use crate::error::OAuthError;
use crate::oauth::client::Client;
use crate::oauth::context::ProtocolContext;
use crate::oauth::issue::TokenResponse;
use crate::oauth::params::Params;

/// What a grant handler gets besides the form: the authenticated client, the time, and the
/// caller's address (the password grant's per-IP throttle).
pub struct TokenContext<'a> {
    pub protocol: &'a ProtocolContext,
    pub client: &'a Client,
    pub now: i64,
    pub peer: IpAddr,
}

#[async_trait]
pub trait GrantHandler: Send + Sync {
    fn grant_type(&self) -> &'static str;

    /// RFC 6749 §2.1: most grants need a client that can keep a secret.
    fn allows_public_clients(&self) -> bool {
        false
    }

    async fn handle(
        &self,
        cx: &TokenContext<'_>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError>;
}

pub struct GrantRegistry {
    grants: Vec<Box<dyn GrantHandler>>,
}

impl GrantRegistry {
    pub fn from_config(config: &Config) -> Self {
        let mut grants: Vec<Box<dyn GrantHandler>> = vec![
            Box::new(authorization_code::AuthorizationCode),
            Box::new(client_credentials::ClientCredentials),
            Box::new(refresh_token::RefreshToken),
        ];
        if config.grants.token_exchange {
            grants.push(Box::new(token_exchange::TokenExchange));
        }
        // Legacy flows (RFC 9700 §2.4): registered only when switched on, so while off the grant is
        // unknown to the token endpoint and absent from discovery.
        if config.legacy.password {
            grants.push(Box::new(password::Password));
        }
        if config.device.enabled {
            grants.push(Box::new(device_code::DeviceCode));
        }
        // RFC 7523; also answers Entra's on-behalf-of form (`token_exchange`).
        if config.assertions.jwt_bearer {
            grants.push(Box::new(jwt_bearer::JwtBearer));
        }
        if config.assertions.saml2_bearer {
            grants.push(Box::new(saml_bearer::Saml2Bearer));
        }
        GrantRegistry { grants }
    }

    pub fn get(&self, grant_type: &str) -> Option<&dyn GrantHandler> {
        self.grants
            .iter()
            .find(|g| g.grant_type() == grant_type)
            .map(|g| g.as_ref())
    }

    pub fn grant_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.grants.iter().map(|g| g.grant_type())
    }
}
