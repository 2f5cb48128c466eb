//! Trading a SAML 2.0 assertion from an identity provider you trust for a Portcullis access
//! token: the SAML 2.0 bearer assertion grant (RFC 7522). Typical use: an enterprise IdP
//! (ADFS, Shibboleth…) has signed an assertion about a user, and a service presents it to get
//! a token for your API.
//!
//! This example plays the IdP too. Its key and certificate are demo files beside this one
//! (`examples/saml/demo_idp_*.pem`, made with `openssl req -x509 -newkey ec -pkeyopt
//! ec_paramgen_curve:P-256 -nodes -days 36500 …`): published on purpose, never trust them for
//! anything else. It registers the IdP's certificate at `/admin/issuers` (mapping the NameID, an
//! email address, to a local user), writes an assertion valid for the next few minutes
//! (RFC 7522 §3: Issuer, Subject with a bearer SubjectConfirmation for the token endpoint,
//! Conditions with an AudienceRestriction naming this server, a unique ID), signs it with
//! ECDSA-SHA256 and exclusive C14N (the `bergshamra` crate), and presents it. (The signed files
//! in `tests/fixtures/saml/` are pinned to the year 2030 and to another server's name, so a
//! live server refuses them: that is why this example signs its own.) No browser.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8080 PORTCULLIS_ADMIN_TOKEN=… cargo run --example saml_bearer
//! ```

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Portcullis, jwt_claims, show, step};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const IDP_KEY: &str = include_str!("saml/demo_idp_key.pem");
const IDP_CERT: &str = include_str!("saml/demo_idp_cert.pem");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Portcullis::from_env()?;
    let api = format!("https://payroll-{}.example.com", server.run);
    let idp = format!("https://idp-{}.example.com/saml", server.run);

    step("Registering the API, the service that presents assertions, and a user");
    server
        .admin(
            "/resources",
            json!({ "identifier": api, "scopes": ["payroll:read"] }),
        )
        .await?;
    let (client_id, secret) = server
        .register_client(json!({
            "client_name": "Example payroll sync",
            "profile": "service",
            "grant_types": [SAML2_BEARER],
            "scope": "payroll:read",
            "allowed_resources": [api],
        }))
        .await?;
    let secret = secret.context("a service gets a secret")?;
    let username = server.register_user().await?;
    let email = format!("{username}@example.com");

    step("Trusting the IdP: its certificate, the client it talks to, NameID = email");
    server
        .admin(
            "/issuers",
            json!({
                "kind": "saml",
                "name": "Example enterprise IdP",
                "entity_id": idp,
                "certificates": [IDP_CERT],
                "allowed_clients": [client_id],
                "scopes": ["payroll:read"],
                "subject": "email",
            }),
        )
        .await?;
    println!("    entity ID: {idp}");

    step("The IdP writes and signs an assertion about the user");
    let xml = assertion(&idp, &email, &server.base, &server.url("/token"))?;
    let signed = sign(&xml)?;
    println!("    {} bytes of signed XML; NameID {email}", signed.len());

    step("The service presents it at the token endpoint (RFC 7522 §2.1)");
    let answer = server
        .token(
            &client_id,
            Some(&secret),
            &[
                ("grant_type", SAML2_BEARER),
                // RFC 7522 §2.1: base64url of the Assertion element.
                ("assertion", &URL_SAFE_NO_PAD.encode(&signed)),
            ],
        )
        .await?;
    let token = answer["access_token"].as_str().context("no access_token")?;
    let claims = jwt_claims(token)?;
    ensure!(
        claims["aud"] == json!(api),
        "the token should be for the API"
    );

    show("Access token claims", &claims);
    println!(
        "\nThe service holds a token for {} about user {} (sub).",
        claims["aud"].as_str().unwrap_or("?"),
        claims["sub"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// An unsigned assertion with an empty signature template (XML-DSig §2) after the Issuer.
fn assertion(
    idp: &str,
    email: &str,
    audience: &str,
    token_endpoint: &str,
) -> anyhow::Result<String> {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let at = |seconds: i64| (now + time::Duration::seconds(seconds)).format(&Rfc3339);
    let (issued, not_before, confirm_until, not_after) = (at(0)?, at(-30)?, at(120)?, at(300)?);
    let id = format!("_{}", uuid::Uuid::new_v4().simple());
    Ok(format!(
        r##"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}">
  <saml:Issuer>{idp}</saml:Issuer>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
      <ds:Reference URI="#{id}">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue></ds:SignatureValue>
  </ds:Signature>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
      <saml:SubjectConfirmationData NotOnOrAfter="{confirm_until}" Recipient="{token_endpoint}"/>
    </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}">
    <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AuthnStatement AuthnInstant="{issued}">
    <saml:AuthnContext>
      <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
    </saml:AuthnContext>
  </saml:AuthnStatement>
</saml:Assertion>"##
    ))
}

/// Fills in the template's digest and signature with the IdP's key.
fn sign(template: &str) -> anyhow::Result<String> {
    let key = bergshamra::keys::loader::load_ec_p256_private_pem(IDP_KEY.as_bytes())?;
    let mut keys = bergshamra::KeysManager::new();
    keys.add_key(key);
    Ok(bergshamra::sign(
        &bergshamra::DsigContext::new(keys),
        template,
    )?)
}
