//! The one statement shape housekeeping deletes with: `DELETE … WHERE <key> IN (SELECT <key>
//! … WHERE <expired> LIMIT n)`. Each batch is its own short statement (and transaction), so a
//! large backlog never holds locks for long; the SQL is shared, since both dialects read a
//! key (or a row value of a composite key) `IN` a limited subquery.

use super::{Result, Store, on_pool};

impl Store {
    /// Runs one batched delete with its integer arguments bound in order; returns the rows
    /// deleted.
    pub(super) async fn delete_batch(&self, sql: &'static str, args: &[i64]) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            for arg in args {
                query = query.bind(*arg);
            }
            query.execute(pool).await.map(|r| r.rows_affected())
        })?)
    }
}
