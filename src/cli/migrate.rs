//! `portcullis migrate`: applies the migrations, saying which as it goes.

use portcullis::store::Store;

use super::Context;

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let config = &ctx.config;
    let store = Store::connect_with(&config.database_url, &config.database).await?;
    eprintln!("applying migrations to the {} database…", store.backend());
    store
        .migrate_reporting(|version, name| eprintln!("  applying {version:04} {name}…"))
        .await?;
    eprintln!("migrations applied");
    Ok(())
}
