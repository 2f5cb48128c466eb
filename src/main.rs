//! The `portcullis` command: parses the CLI and calls into the library. How results print
//! (`--output`), `doctor` and `keys rotate-kek` are in `cli/`.

mod cli;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use portcullis::admin::client_metadata::ClientRegistration;
use portcullis::admin::{self, Actor, Page};
use portcullis::config::{Config, LogFormat, SigningAlg};
use portcullis::log_batch::LogBatch;
use portcullis::oauth::client::{AuthMethod, Profile};

use cli::output::Output;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.0 / OpenID Connect authorization server"
)]
struct Cli {
    /// TOML configuration file (default: portcullis.toml if present).
    #[arg(long, env = "PORTCULLIS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format: text or json (overrides log_format).
    #[arg(long, global = true)]
    log_format: Option<String>,
    /// How results print on stdout: table, or json (the admin API's shape). Default: a table
    /// on a terminal, JSON otherwise.
    #[arg(long, global = true, value_enum)]
    output: Option<Output>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage local user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage trusted assertion issuers (JWT issuers, SAML identity providers).
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage admin API tokens.
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Delete expired codes, tokens, sessions and replay-cache entries now (one housekeeping
    /// pass); prints each table's count as it goes, then all counts.
    Purge,
    /// Check this config and the deployment it points at (issuer, https, database and
    /// migrations, keys, KEK, clocks); exits non-zero when a check fails.
    Doctor,
    /// Security events and admin changes, newest first, as `GET /admin/events` gives them.
    Events(EventsArgs),
}

#[derive(Args)]
struct EventsArgs {
    /// Unix seconds: events at or after.
    #[arg(long)]
    since: Option<i64>,
    /// Unix seconds: events before.
    #[arg(long)]
    until: Option<i64>,
    /// The event type, e.g. sign_in.failure.
    #[arg(long = "type")]
    action: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    /// What the events are about (a user id, client id, grant id, …).
    #[arg(long)]
    target: Option<String>,
    #[arg(long)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Subcommand)]
enum IssuerCommand {
    /// Register an issuer from a JSON file (`-` for stdin), the body `POST /admin/issuers` takes.
    Create {
        file: PathBuf,
    },
    List {
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        after: Option<String>,
    },
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and, once, its secret.
    Create(CreateClient),
    List {
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        after: Option<String>,
    },
    Show {
        client_id: String,
    },
    Delete {
        client_id: String,
    },
    /// Issue a new secret; the old one keeps working for the grace period.
    RotateSecret {
        client_id: String,
        /// Seconds the old secret stays valid (default: clients.secret_grace_period).
        #[arg(long)]
        grace_period: Option<u64>,
    },
}

#[derive(Args)]
struct CreateClient {
    #[arg(long)]
    name: String,
    /// web | spa | native | service | device | api
    #[arg(long, value_parser = parse_profile)]
    profile: Option<Profile>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// client_secret_basic | client_secret_post | private_key_jwt | none
    #[arg(long, value_parser = parse_auth_method)]
    auth_method: Option<AuthMethod>,
    #[arg(long)]
    scope: Option<String>,
    /// Resource identifiers the client may request tokens for.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// Resource identifiers a token exchange by this client may target (RFC 8693).
    #[arg(long = "exchange-audience")]
    exchange_audiences: Vec<String>,
    #[arg(long)]
    jwks_uri: Option<String>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; without a password they cannot sign in with one.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of stdin (not echoed on a terminal).
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password itself: other local users can see it in the process list.
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    List {
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        after: Option<String>,
    },
    /// Set a user's password, read from the first line of stdin.
    SetPassword {
        /// The user's id or username.
        user: String,
        /// Accepted for symmetry with `create`: the password is always read from stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from signing in.
    Disable { user: String },
    /// Let a disabled user sign in again.
    Enable { user: String },
    /// Clear a user's sign-in lockout (their account's failed sign-in count).
    Unlock { user: String },
}

/// One line of stdin without its line ending; typed without echo on a terminal, and twice.
fn read_password() -> anyhow::Result<portcullis::secret::Secret> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let read_line = |prompt: &str| -> anyhow::Result<String> {
        let mut line = String::new();
        if tty {
            eprint!("{prompt}");
            set_echo(false);
        }
        let read = stdin.lock().read_line(&mut line);
        if tty {
            set_echo(true);
            eprintln!();
        }
        read?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
    };
    let password = read_line("password: ")?;
    if tty && read_line("again: ")? != password {
        anyhow::bail!("the passwords differ");
    }
    Ok(portcullis::secret::Secret::new(password))
}

/// `user disable` and `user enable`: a replace that changes only `disabled`.
async fn set_disabled(
    state: &portcullis::state::AppState,
    user: &str,
    disabled: bool,
    now: i64,
) -> anyhow::Result<portcullis::users::User> {
    let user = admin::users::find(&state.store, user).await?;
    let req = portcullis::users::UserRequest {
        disabled: Some(disabled),
        ..Default::default()
    };
    Ok(admin::users::update(state, &Actor::cli(), &user.id, req, now).await?)
}

/// Terminal echo on or off through `stty`, which saves a terminal crate for one call.
fn set_echo(on: bool) {
    #[cfg(unix)]
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .status();
    #[cfg(not(unix))]
    let _ = on;
}

#[derive(Subcommand)]
enum KeysCommand {
    List,
    /// Re-encrypt every private signing key under a new key-encryption key, in one
    /// transaction. The new key comes from --new-kek-file or PORTCULLIS_NEW_KEY_ENCRYPTION_KEY;
    /// with neither, it is key_encryption_key while key_encryption_key_old is set (a rolling
    /// change), or a fresh key for the generated <db>.kek file.
    RotateKek {
        /// A file holding the new KEK: 32 bytes, base64 (`openssl rand -base64 32`).
        #[arg(long)]
        new_kek_file: Option<PathBuf>,
    },
    /// Add new signing keys; the old ones stay published until their tokens expire.
    Rotate {
        /// ES256 | RS256 | EdDSA; all when omitted.
        #[arg(long = "alg", value_parser = parse_alg)]
        algs: Vec<SigningAlg>,
        /// Seconds until the new keys sign (they are published at once).
        #[arg(long, default_value_t = 0)]
        activate_in: u64,
    },
}

#[derive(Subcommand)]
enum AdminTokenCommand {
    /// Create an admin API token; it is printed once.
    Create {
        #[arg(long, default_value = "created with the CLI")]
        description: String,
        /// Seconds until it expires; never when omitted.
        #[arg(long)]
        expires_in: Option<u64>,
    },
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    serde_json::from_value(serde_json::Value::from(s))
        .map_err(|_| "web, spa, native, service, device or api".into())
}

fn parse_auth_method(s: &str) -> Result<AuthMethod, String> {
    serde_json::from_value(serde_json::Value::from(s))
        .map_err(|_| "client_secret_basic, client_secret_post, private_key_jwt or none".into())
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(s).ok_or_else(|| "ES256, RS256 or EdDSA".into())
}

/// The batched stderr of `serve` (`log_batch.rs`), flushed once more when the process ends.
static SERVER_LOG: std::sync::OnceLock<LogBatch<std::io::Stderr>> = std::sync::OnceLock::new();

/// `batched`: the server's lines go through `LogBatch`; other commands write each line at
/// once, in order with the progress they print.
fn init_logging(format: LogFormat, batched: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    if batched {
        let batch = LogBatch::new(std::io::stderr());
        batch.flush_periodically();
        let _ = SERVER_LOG.set(batch.clone());
        install_logging(format, filter, batch);
    } else {
        install_logging(format, filter, std::io::stderr);
    }
}

fn install_logging<W>(format: LogFormat, filter: tracing_subscriber::EnvFilter, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    // Colour only for a person at a terminal: a log file or a collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = real_main().await;
    if let Some(log) = SERVER_LOG.get() {
        log.flush();
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let out = Output::resolve(cli.output);
    let loaded = Config::load(cli.config.as_deref());
    if let (Some(Command::Doctor), Err(e)) = (&cli.command, &loaded) {
        return cli::doctor::report(out, &[cli::doctor::config_error(e)]);
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
    init_logging(config.log_format, matches!(command, Command::Serve));
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if let Command::Migrate = command {
        let store =
            portcullis::store::Store::connect_with(&config.database_url, &config.database).await?;
        eprintln!("applying migrations to the {} database…", store.backend());
        store
            .migrate_reporting(|version, name| eprintln!("  applying {version:04} {name}…"))
            .await?;
        eprintln!("migrations applied");
        return Ok(());
    }
    if let Command::Doctor = command {
        let checks = cli::doctor::run(&config, &warnings).await;
        return cli::doctor::report(out, &checks);
    }
    let (state, more_warnings) = portcullis::bootstrap(config).await?;
    for w in &more_warnings {
        tracing::warn!("{w}");
    }
    let now = state.now();
    let store = &state.store;
    match command {
        Command::Serve | Command::Migrate | Command::Doctor => serve(state.clone()).await?,
        Command::Client(c) => match c {
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
                let registered = admin::clients::register(store, &Actor::cli(), req, now).await?;
                for w in &registered.warnings {
                    eprintln!("warning: {w}");
                }
                out.print(&registered);
            }
            ClientCommand::List { limit, after } => {
                out.print(&admin::clients::list(store, &Page { limit, after }).await?)
            }
            ClientCommand::Show { client_id } => {
                out.print(&admin::clients::get(store, &client_id).await?)
            }
            ClientCommand::Delete { client_id } => {
                admin::clients::delete(store, &Actor::cli(), &client_id, now).await?;
                eprintln!("deleted client {client_id}");
            }
            ClientCommand::RotateSecret {
                client_id,
                grace_period,
            } => {
                let grace = grace_period.unwrap_or(state.config.clients.secret_grace_period);
                out.print(
                    &admin::clients::rotate_secret(store, &Actor::cli(), &client_id, grace, now)
                        .await?,
                );
            }
        },
        Command::User(c) => match c {
            UserCommand::Create {
                username,
                password_stdin,
                password,
                email,
                name,
            } => {
                if password.is_some() {
                    eprintln!(
                        "warning: --password is visible to other users; prefer --password-stdin"
                    );
                }
                let password = match password {
                    Some(p) => Some(portcullis::secret::Secret::new(p)),
                    None if password_stdin => Some(read_password()?),
                    None => None,
                };
                let req = portcullis::users::UserRequest {
                    username: Some(username),
                    password,
                    disabled: None,
                    claims: Some(portcullis::users::Claims {
                        email,
                        name,
                        ..Default::default()
                    }),
                };
                out.print(
                    &admin::users::create(store, &state.passwords, &Actor::cli(), req, now).await?,
                );
            }
            UserCommand::List { limit, after } => {
                out.print(&admin::users::list(store, &Page { limit, after }).await?)
            }
            UserCommand::SetPassword { user, .. } => {
                let user = admin::users::find(store, &user).await?;
                let password = read_password()?;
                admin::users::set_password(
                    store,
                    &state.passwords,
                    &Actor::cli(),
                    &user.id,
                    password,
                    now,
                )
                .await?;
                eprintln!("password set for {} ({})", user.username, user.id);
            }
            UserCommand::Disable { user } => {
                out.print(&set_disabled(&state, &user, true, now).await?)
            }
            UserCommand::Enable { user } => {
                out.print(&set_disabled(&state, &user, false, now).await?)
            }
            UserCommand::Unlock { user } => {
                let user = admin::users::find(store, &user).await?;
                admin::users::clear_lockout(store, &Actor::cli(), &user.id, now).await?;
                eprintln!(
                    "sign-in lockout cleared for {} ({})",
                    user.username, user.id
                );
            }
        },
        Command::Issuer(c) => match c {
            IssuerCommand::Create { file } => {
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
                };
                let req: admin::issuers::IssuerRequest = serde_path_to_error::deserialize(
                    &mut serde_json::Deserializer::from_str(&text),
                )
                .map_err(|e| match e.path().to_string().as_str() {
                    "." => anyhow::anyhow!("{}: {}", file.display(), e.inner()),
                    field => anyhow::anyhow!("{}: {field}: {}", file.display(), e.inner()),
                })?;
                out.print(&admin::issuers::create(store, &Actor::cli(), req, now).await?);
            }
            IssuerCommand::List { limit, after } => {
                out.print(&admin::issuers::list(store, &Page { limit, after }).await?)
            }
            IssuerCommand::Show { id } => out.print(&admin::issuers::get(store, &id).await?),
            IssuerCommand::Delete { id } => {
                admin::issuers::delete(store, &Actor::cli(), &id, now).await?;
                eprintln!("deleted issuer {id}");
            }
        },
        Command::Keys(KeysCommand::List) => {
            out.print(&admin::keys::list(store, &state.keys, now).await?)
        }
        Command::Keys(KeysCommand::RotateKek { new_kek_file }) => {
            cli::rotate_kek::run(&state, new_kek_file.as_deref(), now).await?
        }
        Command::Keys(KeysCommand::Rotate { algs, activate_in }) => {
            let keys = admin::keys::rotate_reporting(
                store,
                &state.keys,
                &state.config,
                &Actor::cli(),
                &algs,
                activate_in,
                now,
                |alg| eprintln!("generating a {} key…", alg.as_str()),
            )
            .await?;
            out.print(&keys);
            eprintln!(
                "running servers pick the new keys up within {} s (keys.reload_interval)",
                state.config.keys.reload_interval
            );
        }
        Command::AdminToken(AdminTokenCommand::Create {
            description,
            expires_in,
        }) => {
            let created =
                admin::tokens::create(store, &Actor::cli(), &description, expires_in, now).await?;
            eprintln!("admin token created; it is shown once, store it now:");
            out.print(&created);
        }
        Command::Purge => {
            eprintln!(
                "deleting expired rows, {} per statement…",
                state.config.housekeeping.batch_size
            );
            let counts = portcullis::tasks::purge_once(&state, |table, n| {
                eprintln!("  {table}: {n} expired rows deleted")
            })
            .await?;
            eprintln!("done: {} rows", counts.total());
            let by_table: serde_json::Map<String, serde_json::Value> = counts
                .0
                .iter()
                .map(|(t, n)| (t.to_string(), (*n).into()))
                .collect();
            out.print(&by_table);
        }
        Command::Events(a) => {
            let query = portcullis::audit::EventQuery {
                since: a.since,
                until: a.until,
                action: a.action,
                actor: a.actor,
                target: a.target,
                limit: a.limit,
                cursor: a.cursor,
            };
            out.print(&portcullis::audit::list(store, &query).await?);
        }
    }
    state.store.close().await;
    Ok(())
}

async fn serve(state: std::sync::Arc<portcullis::state::AppState>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "Portcullis listening on http://{addr} — issuer {}, {} database",
        state.issuer,
        state.store.backend()
    );
    tracing::info!(
        "discovery: {}/.well-known/openid-configuration",
        state.issuer
    );
    if state.bootstrap_admin_hash.is_none() {
        tracing::info!(
            "admin API: create a token with `portcullis admin-token create` \
             (from a checkout: `cargo run --release -- admin-token create`), \
             or set PORTCULLIS_ADMIN_TOKEN"
        );
    }
    portcullis::run(listener, state, shutdown_signal()).await?;
    Ok(())
}
