//! The store (DESIGN.md "Store"): one method per use case, each atomic on its own, over
//! SQLite or Postgres. SQL text is shared where the dialects agree (`$1` placeholders work on
//! both); `on_pool!` expands a body once per backend so each arm is type-checked against its
//! own driver. Times are Unix seconds (`BIGINT`), ids are text, JSON is text: the same on both.

mod admin;
mod clients;
mod codes;
mod consents;
mod device_codes;
mod issuers;
mod keys;
mod legacy_usage;
mod purge;
mod resources;
mod session_clients;
mod sessions;
mod throttle;
mod tokens;
mod user_revocation;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use admin::{AdminTokenRow, AuditEvent};
pub use clients::{ClientRow, ClientSecretRow, LiveSecret};
pub use codes::CodeRow;
pub use consents::AuthorizationRequestRow;
pub use device_codes::{DeviceCodeRow, DeviceCodeStatus, SLOW_DOWN_STEP};
pub use issuers::IssuerRow;
pub use keys::SigningKeyRow;
pub use legacy_usage::LegacyUsageRow;
pub use resources::ResourceRow;
pub use session_clients::SessionClientRow;
pub use sessions::SessionRow;
pub use throttle::{Backoff, ThrottleRow};
pub use tokens::{OpaqueTokenRow, RefreshTokenRow, grant_key, jti_key};
pub use users::UserRow;

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Expands `$body` once for each backend with `$pool` bound to that backend's pool.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached now; the request may succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused the write.
    #[error("already exists")]
    Conflict,
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Single-use artifacts (codes, device codes, refresh tokens) are *taken* by one atomic
/// statement; the outcome says whether this caller won, or the artifact was already used
/// (a replay, whose grant must then be revoked), or never existed.
#[derive(Debug)]
pub enum Consumed<T> {
    Fresh(T),
    Replayed { grant_id: String },
    Missing,
}

impl Store {
    /// Connects and applies migrations. A `sqlite:` URL's file is created if missing.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Store::Sqlite(pool)
        } else {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // Fail fast when the database is down: a 503 beats a hung client.
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(options)
                .await?;
            Store::Postgres(pool)
        };
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// `/readyz`: the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
