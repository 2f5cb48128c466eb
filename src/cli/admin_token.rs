//! `portcullis admin-token create`: a token for the admin API, shown once.

use portcullis::admin::{self, Actor};

use super::Context;
use crate::AdminTokenCommand;

pub async fn run(ctx: &Context, command: AdminTokenCommand) -> anyhow::Result<()> {
    let AdminTokenCommand::Create {
        description,
        expires_in,
    } = command;
    let store = ctx.store().await?;
    let created =
        admin::tokens::create(&store, &Actor::cli(), &description, expires_in, ctx.now).await?;
    eprintln!("admin token created; it is shown once, store it now:");
    ctx.out.print(&created);
    store.close().await;
    Ok(())
}
