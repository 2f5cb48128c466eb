//! Registered clients and their secrets (SHA-256 digests only).

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, on_pool};

macro_rules! insert_secret {
    ($executor:expr, $s:expr) => {
        sqlx::query(
            "INSERT INTO client_secrets (id, client_id, secret_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&$s.id)
        .bind(&$s.client_id)
        .bind(&$s.secret_hash)
        .bind($s.created_at)
        .bind($s.expires_at)
        .execute($executor)
        .await?
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub client_id: String,
    pub client_name: String,
    pub profile: String,
    pub token_endpoint_auth_method: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// A client secret's digest and when it stops authenticating (`None`: never).
#[derive(Debug, Clone)]
pub struct LiveSecret {
    pub hash: String,
    pub expires_at: Option<i64>,
}

impl LiveSecret {
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl Store {
    pub async fn insert_client(
        &self,
        client: &ClientRow,
        secret: Option<&ClientSecretRow>,
        audit: &AuditEvent,
    ) -> Result<()> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            sqlx::query(
                "INSERT INTO clients (client_id, client_name, profile, token_endpoint_auth_method, \
                 metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&client.client_id)
            .bind(&client.client_name)
            .bind(&client.profile)
            .bind(&client.token_endpoint_auth_method)
            .bind(&client.metadata)
            .bind(client.created_at)
            .bind(client.updated_at)
            .execute(&mut *tx)
            .await?;
            if let Some(s) = secret {
                insert_secret!(&mut *tx, s);
            }
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    /// Replaces a client's metadata; with `secret`, adds it (a client switched to a secret-based
    /// authentication method). Returns false when the client does not exist.
    pub async fn update_client(
        &self,
        client: &ClientRow,
        secret: Option<&ClientSecretRow>,
        audit: &AuditEvent,
    ) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query(
                "UPDATE clients SET client_name = $2, profile = $3, \
                 token_endpoint_auth_method = $4, metadata = $5, updated_at = $6 \
                 WHERE client_id = $1",
            )
            .bind(&client.client_id)
            .bind(&client.client_name)
            .bind(&client.profile)
            .bind(&client.token_endpoint_auth_method)
            .bind(&client.metadata)
            .bind(client.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1
                && let Some(s) = secret
            {
                insert_secret!(&mut *tx, s);
            }
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Option<ClientRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ClientRow>(
            "SELECT client_id, client_name, profile, token_endpoint_auth_method, metadata, \
             created_at, updated_at FROM clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Clients whose stored metadata mentions `text` (a host name): the cheap first cut of the
    /// CORS check, which then reads each one's redirect URIs. `LIKE` with its wildcards
    /// escaped, the same on both backends (SQLite's is case-insensitive: more rows, same
    /// answer after the exact check).
    pub async fn clients_mentioning(&self, text: &str) -> Result<Vec<ClientRow>> {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ClientRow>(
            "SELECT client_id, client_name, profile, token_endpoint_auth_method, metadata, \
             created_at, updated_at FROM clients \
             WHERE metadata LIKE '%' || $1 || '%' ESCAPE '\\' LIMIT 100",
        )
        .bind(&escaped)
        .fetch_all(pool)
        .await)?)
    }

    /// Keyset pagination by `client_id`: stable under concurrent inserts.
    pub async fn list_clients(&self, after: Option<&str>, limit: i64) -> Result<Vec<ClientRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ClientRow>(
            "SELECT client_id, client_name, profile, token_endpoint_auth_method, metadata, \
             created_at, updated_at FROM clients WHERE client_id > $1 \
             ORDER BY client_id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn delete_client(&self, client_id: &str, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    /// The client and the digests of its secrets that still authenticate at `now`, each with
    /// its expiry (so a cached copy can drop a secret the moment it expires), in one round
    /// trip: this is on the token endpoint's hot path.
    pub async fn get_client_with_secrets(
        &self,
        client_id: &str,
        now: i64,
    ) -> Result<Option<(ClientRow, Vec<LiveSecret>)>> {
        #[derive(sqlx::FromRow)]
        struct Joined {
            #[sqlx(flatten)]
            client: ClientRow,
            secret_hash: Option<String>,
            expires_at: Option<i64>,
        }
        let rows = on_pool!(self, pool => sqlx::query_as::<_, Joined>(
            "SELECT c.client_id, c.client_name, c.profile, c.token_endpoint_auth_method, \
             c.metadata, c.created_at, c.updated_at, s.secret_hash, s.expires_at \
             FROM clients c LEFT JOIN client_secrets s ON s.client_id = c.client_id \
             AND (s.expires_at IS NULL OR s.expires_at > $2) \
             WHERE c.client_id = $1",
        )
        .bind(client_id)
        .bind(now)
        .fetch_all(pool)
        .await)?;
        let mut client = None;
        let mut secrets = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(hash) = row.secret_hash {
                secrets.push(LiveSecret {
                    hash,
                    expires_at: row.expires_at,
                });
            }
            client.get_or_insert(row.client);
        }
        Ok(client.map(|c| (c, secrets)))
    }

    /// Secrets that still authenticate at `now`.
    pub async fn client_secret_hashes(&self, client_id: &str, now: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT secret_hash FROM client_secrets \
             WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(client_id)
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// Adds `secret` and lets every other live secret of the client expire at `old_expire_at`
    /// (never later than it already would). Returns false when the client does not exist.
    pub async fn rotate_client_secret(
        &self,
        secret: &ClientSecretRow,
        old_expire_at: i64,
        audit: &AuditEvent,
    ) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let exists = sqlx::query_scalar::<_, String>(
                "SELECT client_id FROM clients WHERE client_id = $1",
            )
            .bind(&secret.client_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if exists {
                sqlx::query(
                    "UPDATE client_secrets SET expires_at = $2 WHERE client_id = $1 \
                     AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(&secret.client_id)
                .bind(old_expire_at)
                .execute(&mut *tx)
                .await?;
                insert_secret!(&mut *tx, secret);
            }
            Ok(Wrote::changed_if(exists))
        })
        .await)
    }
}
