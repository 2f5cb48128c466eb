//! `portcullis issuer …`: trusted assertion issuers, through the same service as
//! `/admin/issuers`.

use portcullis::admin::{self, Actor, Page};

use super::Context;
use crate::IssuerCommand;

pub async fn run(ctx: &Context, command: IssuerCommand) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let (out, now) = (ctx.out, ctx.now);
    match command {
        IssuerCommand::Create { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
            };
            let req: admin::issuers::IssuerRequest =
                serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
                    .map_err(|e| match e.path().to_string().as_str() {
                        "." => anyhow::anyhow!("{}: {}", file.display(), e.inner()),
                        field => anyhow::anyhow!("{}: {field}: {}", file.display(), e.inner()),
                    })?;
            out.print(&admin::issuers::create(&store, &Actor::cli(), req, now).await?);
        }
        IssuerCommand::List { limit, after } => {
            out.print(&admin::issuers::list(&store, &Page { limit, after }).await?)
        }
        IssuerCommand::Show { id } => out.print(&admin::issuers::get(&store, &id).await?),
        IssuerCommand::Delete { id } => {
            admin::issuers::delete(&store, &Actor::cli(), &id, now).await?;
            eprintln!("deleted issuer {id}");
        }
    }
    store.close().await;
    Ok(())
}
