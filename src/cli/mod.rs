//! The command-line tool behind `main.rs`'s argument parsing: one module per command area,
//! each doing only the set-up its commands need. Admin commands open the store (migrated
//! first, as the server would, so a fresh database works); those that read or write signing
//! keys also load the key ring; only `serve` (and the user commands that cut off a user's
//! tokens) builds the whole server state. `doctor` only reads.

pub mod admin_token;
pub mod client;
pub mod doctor;
pub mod events;
pub mod issuer;
pub mod keys;
pub mod logging;
pub mod migrate;
pub mod output;
pub mod purge;
pub mod rotate_kek;
pub mod serve;
pub mod user;

use portcullis::config::{Config, LogFormat};
use portcullis::keys::KeyRing;
use portcullis::store::Store;

use crate::{Cli, Command};
use output::Output;

/// What every command is given: the loaded config, how results print, and the time.
pub struct Context {
    pub config: Config,
    pub out: Output,
    pub now: i64,
}

impl Context {
    /// The configured store, migrated.
    pub async fn store(&self) -> anyhow::Result<Store> {
        portcullis::open_store(&self.config).await
    }

    /// The store and the signing key ring over it (generated on first use, as a start would);
    /// settles an interrupted `keys rotate-kek` first.
    pub async fn store_and_keys(&self) -> anyhow::Result<(Store, KeyRing)> {
        let store = self.store().await?;
        let (keys, warnings) = portcullis::load_keys(&self.config, &store, self.now).await?;
        log_warnings(&warnings);
        Ok((store, keys))
    }

    /// The whole server state, as `serve` builds it.
    pub async fn state(&self) -> anyhow::Result<std::sync::Arc<portcullis::state::AppState>> {
        let (state, warnings) = portcullis::bootstrap(self.config.clone()).await?;
        log_warnings(&warnings);
        Ok(state)
    }
}

fn log_warnings(warnings: &[String]) {
    for w in warnings {
        tracing::warn!("{w}");
    }
}

/// Loads the config, starts logging and runs the command (`serve` when none is given).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output::resolve(cli.output);
    let loaded = Config::load(cli.config.as_deref());
    if let (Some(Command::Doctor), Err(e)) = (&cli.command, &loaded) {
        return doctor::report(out, &[doctor::config_error(e)]);
    }
    let (mut config, warnings) = loaded?;
    if let Some(f) = &cli.log_format {
        config.log_format = match f.as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => anyhow::bail!("--log-format must be text or json"),
        };
    }
    let command = cli.command.unwrap_or(Command::Serve);
    logging::init(config.log_format, matches!(command, Command::Serve));
    log_warnings(&warnings);
    let ctx = Context {
        config,
        out,
        now: portcullis::clock::Clock::default().now(),
    };
    match command {
        Command::Serve => serve::run(&ctx).await,
        Command::Migrate => migrate::run(&ctx).await,
        Command::Doctor => doctor::report(out, &doctor::run(&ctx.config, &warnings).await),
        Command::Client(c) => client::run(&ctx, c).await,
        Command::User(c) => user::run(&ctx, c).await,
        Command::Issuer(c) => issuer::run(&ctx, c).await,
        Command::Keys(c) => keys::run(&ctx, c).await,
        Command::AdminToken(c) => admin_token::run(&ctx, c).await,
        Command::Purge => purge::run(&ctx).await,
        Command::Events(a) => events::run(&ctx, a).await,
    }
}
