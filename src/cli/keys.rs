//! `portcullis keys …`: the signing key ring (list, rotate) and the key-encryption key
//! (`rotate-kek`). Each loads the ring, which also checks that the KEK opens the keys.

use portcullis::admin::{self, Actor};

use super::{Context, rotate_kek};
use crate::KeysCommand;

pub async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let (store, keys) = ctx.store_and_keys().await?;
    let now = ctx.now;
    match command {
        KeysCommand::List => ctx.out.print(&admin::keys::list(&store, &keys, now).await?),
        KeysCommand::RotateKek { new_kek_file } => {
            rotate_kek::run(&ctx.config, &store, new_kek_file.as_deref(), now).await?
        }
        KeysCommand::Rotate { algs, activate_in } => {
            let rotated = admin::keys::rotate_reporting(
                &store,
                &keys,
                &ctx.config,
                &Actor::cli(),
                &algs,
                activate_in,
                now,
                |alg| eprintln!("generating a {} key…", alg.as_str()),
            )
            .await?;
            ctx.out.print(&rotated);
            eprintln!(
                "running servers pick the new keys up within {} s (keys.reload_interval)",
                ctx.config.keys.reload_interval
            );
        }
    }
    store.close().await;
    Ok(())
}
