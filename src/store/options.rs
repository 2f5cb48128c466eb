//! The connection pool's settings (the `database` section of the config, which embeds this
//! type so that the store needs nothing from the config).

use serde::{Deserialize, Serialize};

/// SQLite's `PRAGMA synchronous` in WAL mode (https://sqlite.org/pragma.html#pragma_synchronous).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is on disk before it is answered (an fsync per write transaction).
    #[default]
    Full,
    /// Commits survive a crash of the process but the last ones may roll back on a power loss
    /// or an operating-system crash (revocations included); no fsync per commit.
    Normal,
}

/// The connection pool: the `database` section of the config. The URL is `database_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Seconds a request waits for a database connection (including opening one) before it
    /// is answered 503 `temporarily_unavailable`: with the database down or unreachable,
    /// requests fail this fast instead of hanging.
    pub acquire_timeout: u64,
    /// Connections this node keeps open at most.
    pub max_connections: u32,
    /// SQLite only: whether each commit waits for the disk (`full`) or not (`normal`).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            acquire_timeout: 3,
            max_connections: 16,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}
