//! The `portcullis` command's arguments; `cli/` runs each command (one module per area).

mod cli;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use portcullis::keys::SigningAlg;
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = cli::run(Cli::parse()).await;
    cli::logging::flush();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
