//! The store: one method per use case, each atomic on its own, over
//! SQLite or Postgres. SQL text is shared where the dialects agree (`$1` placeholders work on
//! both); `on_pool!` expands a body once per backend so each arm is type-checked against its
//! own driver. Times are Unix seconds (`BIGINT`), ids are text, JSON is text: the same on both.

mod admin;
mod clients;
mod codes;
mod consents;
mod device_codes;
mod events;
mod issuers;
mod keys;
mod legacy_usage;
mod migrations;
mod options;
mod page;
mod purge;
mod rate_limit;
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
pub use events::EventFilter;
pub use issuers::IssuerRow;
pub use keys::SigningKeyRow;
pub use legacy_usage::LegacyUsageRow;
pub use migrations::MigrationStatus;
pub use options::{DatabaseConfig, SqliteSynchronous};
pub use page::Page;
pub use resources::ResourceRow;
pub use session_clients::SessionClientRow;
pub use sessions::SessionRow;
pub use throttle::{Backoff, ThrottleRow};
pub use tokens::{IssuedRows, OpaqueTokenRow, RefreshTokenRow, Rotation, grant_key, jti_key};
pub use users::UserRow;

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// SQLite allows one writer per database file, and a write that finds another in progress
/// sleeps in SQLite's busy handler (1, 2, 5, 10… ms) while the holder needs a fraction of a
/// millisecond. The writes of the protocol flows (codes, tokens, sessions) take turns here
/// instead, in an async FIFO queue, so none of them sleeps. Process-wide: a process serves one
/// database (tests that run several servers in one process only share the queue).
static SQLITE_WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Store {
    /// Held for the length of a write on SQLite; nothing on Postgres, whose writers of
    /// different rows do not wait for each other.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'static, ()>> {
        match self {
            Store::Sqlite(_) => Some(SQLITE_WRITER.lock().await),
            Store::Postgres(_) => None,
        }
    }
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
            sqlx::Error::Database(db) if is_transient(db.as_ref()) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Database errors that say "not now" rather than "never": the request may succeed once the
/// database is back, so they are answered 503, not 500.
/// - Postgres (SQLSTATE, Appendix A): class 08 (connection exception), 57P01–57P03 (the
///   server is shutting down, crashed, or not accepting connections yet: what a client sees
///   when Postgres is stopped or restarted under it), 53300 (too many connections).
/// - SQLite (result codes): 5 `SQLITE_BUSY` and 6 `SQLITE_LOCKED`, with their extended codes
///   (the low byte): another connection held the lock past `busy_timeout`.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
    }
    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
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

impl<T> Consumed<T> {
    /// The grant of a replayed code or token; `None` for the others.
    pub fn replayed_grant(self) -> Option<String> {
        match self {
            Consumed::Replayed { grant_id } => Some(grant_id),
            Consumed::Fresh(_) | Consumed::Missing => None,
        }
    }
}

impl Store {
    /// Connects with the default pool settings (`DatabaseConfig::default()`); the CLI's
    /// one-shot commands use it.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, &DatabaseConfig::default()).await
    }

    /// Connects (a `sqlite:` URL's file is created if missing); `bootstrap` applies the
    /// migrations after. A request never waits longer than `database.acquire_timeout` for a
    /// connection: when the database is down, unreachable or silent, the acquire fails with
    /// `PoolTimedOut` (→ `Unavailable` → 503 `temporarily_unavailable`) instead of hanging.
    /// sqlx pings an idle connection before handing it out (`test_before_acquire`, on by
    /// default), inside that same bound, so connections broken while the database was away
    /// are replaced by new ones when it returns: the pool recovers without a restart.
    pub async fn connect_with(url: &str, db: &DatabaseConfig) -> Result<Store> {
        let acquire_timeout = Duration::from_secs(db.acquire_timeout);
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .synchronous(match db.sqlite_synchronous {
                    SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
                    SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
                })
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(db.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await?;
            Store::Sqlite(pool)
        } else {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(db.max_connections)
                .acquire_timeout(acquire_timeout)
                .test_before_acquire(true)
                .connect_with(options)
                .await?;
            Store::Postgres(pool)
        };
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => migrations::SQLITE.run(pool).await?,
            Store::Postgres(pool) => migrations::POSTGRES.run(pool).await?,
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
