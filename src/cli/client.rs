//! `portcullis client …`: registrations, through the same service as `/admin/clients`.

use portcullis::admin::client_metadata::ClientRegistration;
use portcullis::admin::{self, Actor, Page};

use super::Context;
use crate::ClientCommand;

pub async fn run(ctx: &Context, command: ClientCommand) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let (out, now) = (ctx.out, ctx.now);
    match command {
        ClientCommand::Create(c) => {
            let req = ClientRegistration {
                client_name: Some(c.name),
                profile: c.profile,
                redirect_uris: (!c.redirect_uris.is_empty()).then_some(c.redirect_uris),
                grant_types: (!c.grant_types.is_empty()).then_some(c.grant_types),
                token_endpoint_auth_method: c.auth_method,
                scope: c.scope,
                allowed_resources: (!c.resources.is_empty()).then_some(c.resources),
                token_exchange_audiences: (!c.exchange_audiences.is_empty())
                    .then_some(c.exchange_audiences),
                jwks_uri: c.jwks_uri,
                ..ClientRegistration::default()
            };
            let registered = admin::clients::register(&store, &Actor::cli(), req, now).await?;
            for w in &registered.warnings {
                eprintln!("warning: {w}");
            }
            out.print(&registered);
        }
        ClientCommand::List { limit, after } => {
            out.print(&admin::clients::list(&store, &Page { limit, after }).await?)
        }
        ClientCommand::Show { client_id } => {
            out.print(&admin::clients::get(&store, &client_id).await?)
        }
        ClientCommand::Delete { client_id } => {
            admin::clients::delete(&store, &Actor::cli(), &client_id, now).await?;
            eprintln!("deleted client {client_id}");
        }
        ClientCommand::RotateSecret {
            client_id,
            grace_period,
        } => {
            let grace = grace_period.unwrap_or(ctx.config.clients.secret_grace_period);
            out.print(
                &admin::clients::rotate_secret(&store, &Actor::cli(), &client_id, grace, now)
                    .await?,
            );
        }
    }
    store.close().await;
    Ok(())
}
