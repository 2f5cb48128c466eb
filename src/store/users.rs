//! Local user accounts: the stable opaque `sub`, a unique username, the argon2id PHC string
//! and the OIDC claims as JSON text.

use super::admin::{Wrote, audited};
use super::{AuditEvent, Result, Store, on_pool};

/// `SELECT … FROM users` followed by the given clause, as one literal.
macro_rules! select_users {
    ($clause:literal) => {
        concat!(
            "SELECT id, username, password_hash, claims, disabled, created_at, updated_at \
             FROM users ",
            $clause
        )
    };
}

#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    /// argon2id PHC string; `None` for a user who cannot sign in with a password.
    pub password_hash: Option<String>,
    /// JSON object of OIDC Core §5.1 claims.
    pub claims: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The hash stays out of logs, like every other secret.
impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("claims", &self.claims)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl Store {
    /// A taken username is `StoreError::Conflict`.
    pub async fn insert_user(&self, user: &UserRow, audit: &AuditEvent) -> Result<()> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, claims, disabled, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.claims)
            .bind(user.disabled)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&mut *tx)
            .await?;
            Ok(Wrote::Changed(()))
        })
        .await)
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<UserRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, UserRow>(select_users!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Exact match: callers normalise the username first.
    pub async fn find_user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, UserRow>(select_users!("WHERE username = $1"))
            .bind(username)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Keyset pagination by `id`: stable under concurrent inserts.
    pub async fn list_users(&self, after: Option<&str>, limit: i64) -> Result<Vec<UserRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, UserRow>(select_users!("WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Replaces username, claims and `disabled`; the password hash too when `user` carries one
    /// (`None` keeps the current one). Returns false when the user does not exist; a taken
    /// username is `StoreError::Conflict`.
    pub async fn update_user(&self, user: &UserRow, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query(
                "UPDATE users SET username = $2, claims = $3, disabled = $4, updated_at = $5, \
                 password_hash = COALESCE($6, password_hash) WHERE id = $1",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.claims)
            .bind(user.disabled)
            .bind(user.updated_at)
            .bind(&user.password_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    /// Returns false when the user does not exist.
    pub async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    /// The user's sessions and consents go with them (`ON DELETE CASCADE`).
    pub async fn delete_user(&self, id: &str, audit: &AuditEvent) -> Result<bool> {
        on_pool!(self, pool => audited(pool, audit, async |tx| {
            let n = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok(Wrote::changed_if(n == 1))
        })
        .await)
    }

    /// Users whose `email` claim equals `email`, ignoring case; at most `limit`. Emails are not
    /// unique, so callers that need one account must see whether more than one matched.
    pub async fn find_users_by_email(&self, email: &str, limit: i64) -> Result<Vec<UserRow>> {
        // The claims are JSON text: the dialects read a member differently.
        Ok(match self {
            Store::Sqlite(pool) => {
                sqlx::query_as::<_, UserRow>(select_users!(
                    "WHERE lower(json_extract(claims, '$.email')) = lower($1) ORDER BY id LIMIT $2"
                ))
                .bind(email)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as::<_, UserRow>(select_users!(
                    "WHERE lower(claims::jsonb ->> 'email') = lower($1) ORDER BY id LIMIT $2"
                ))
                .bind(email)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        })
    }
}
