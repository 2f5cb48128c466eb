//! Schema migrations (`migrations/{sqlite,postgres}`): applying them one at a time with
//! progress, and telling `portcullis doctor` what is applied, pending or unknown.

use sqlx::migrate::Migrator;

use super::{Result, Store, StoreError, on_pool};

pub(super) static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
pub(super) static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// How the database's `_sqlx_migrations` compares with the migrations this build carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: usize,
    /// In this build, not in the database: `migrate` (or any start) applies them.
    pub pending: Vec<(i64, String)>,
    /// In the database, not in this build: a newer version ran here.
    pub unknown: Vec<i64>,
    /// Applied, but the file in this build differs, or the run failed part-way.
    pub broken: Vec<i64>,
}

#[derive(sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self {
            Store::Sqlite(_) => &SQLITE,
            Store::Postgres(_) => &POSTGRES,
        }
    }

    /// Applies pending migrations one by one, telling `progress` each (version, description)
    /// before it runs.
    pub async fn migrate_reporting(&self, mut progress: impl FnMut(i64, &str)) -> Result<()> {
        let status = self.migration_status().await?;
        for (version, description) in &status.pending {
            progress(*version, description);
            match self {
                Store::Sqlite(pool) => SQLITE.run_to(*version, pool).await?,
                Store::Postgres(pool) => POSTGRES.run_to(*version, pool).await?,
            }
        }
        // Anything else (none, or a migration the status could not see) in one last run.
        self.migrate().await
    }

    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let exists: bool = match self {
            Store::Sqlite(pool) => sqlx::query_scalar(
                "SELECT COUNT(*) > 0 FROM sqlite_master \
                 WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?,
            Store::Postgres(pool) => {
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::from)?
            }
        };
        let applied: Vec<AppliedRow> = if exists {
            on_pool!(self, pool => sqlx::query_as::<_, AppliedRow>(
                "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(pool)
            .await)?
        } else {
            Vec::new()
        };
        let ours: Vec<_> = self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .collect();
        let mut status = MigrationStatus {
            applied: applied.len(),
            ..MigrationStatus::default()
        };
        for m in &ours {
            match applied.iter().find(|a| a.version == m.version) {
                None => status.pending.push((m.version, m.description.to_string())),
                Some(a) if !a.success || a.checksum != *m.checksum => status.broken.push(m.version),
                Some(_) => {}
            }
        }
        status.unknown = applied
            .iter()
            .filter(|a| !ours.iter().any(|m| m.version == a.version))
            .map(|a| a.version)
            .collect();
        Ok(status)
    }

    /// The database server's clock, Unix seconds (doctor compares it with ours).
    pub async fn database_time(&self) -> Result<i64> {
        Ok(match self {
            Store::Sqlite(pool) => {
                sqlx::query_scalar("SELECT CAST(strftime('%s', 'now') AS INTEGER)")
                    .fetch_one(pool)
                    .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_scalar("SELECT CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)")
                    .fetch_one(pool)
                    .await?
            }
        })
    }
}
