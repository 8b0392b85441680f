//! What the two SQL backends share: the logic of every store, written once.
//!
//! The SQLite and Postgres stores run the same statements in the same order and map their
//! results and errors the same way. What differs is the SQL text (the dialects differ:
//! `?1` or `$1` parameters, `MAX` or `GREATEST`, collations), how a transaction begins, and
//! the few statements with which Postgres, whose writers run in parallel, locks rows that
//! SQLite's single write lock already covers. So each concern has a module here with:
//!
//! - a struct of the statements a backend supplies, each field saying what it binds (in
//!   parameter order) and what it returns, with the differing steps as optional statements;
//! - a `macro_rules!` macro that expands to the store trait's implementation for one
//!   backend, given its store type, its `sqlx` database type and that struct.
//!
//! The macros exist because the alternative, functions generic over [`sqlx::Database`],
//! needs a higher-ranked bound for the executor (`for<'c> &'c mut DB::Connection:
//! Executor<'c, Database = DB>`), one for the arguments, and one for every type bound or
//! decoded (`for<'q> &'q str: Encode<'q, DB> + Type<DB>`, ...), none of which sqlx's own
//! bounds imply, so each of them would be repeated on every function up to the trait impls.
//! The macro bodies are ordinary code with the backend's types filled in, and what does not
//! depend on the backend (row conversions, counts, error mapping) lives beside them as plain
//! functions.

pub(crate) mod accounts;
pub(crate) mod offline;
pub(crate) mod pending;
pub(crate) mod roster;
#[cfg(test)]
pub(crate) mod tests;

use crate::error::{db_error, is_foreign_key_violation};
use crate::{AccountName, StoreError};

/// Where a store's single-statement reads run when its backend keeps no connections apart
/// for them: its pool. The SQLite store's `Reader` has the same two methods.
pub(crate) struct PoolReader<'a, DB: sqlx::Database>(pub(crate) &'a sqlx::Pool<DB>);

impl<'a, DB: sqlx::Database> PoolReader<'a, DB> {
    /// The executor to run the statement on.
    pub(crate) fn executor(&mut self) -> &'a sqlx::Pool<DB> {
        self.0
    }

    /// Maps the read's outcome onto the store's errors.
    pub(crate) fn finish<T>(self, outcome: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        outcome.map_err(db_error)
    }
}

/// Begins a transaction on `pool` with `statement`, one of the backend's `BEGIN` statements.
///
/// The `BEGIN` runs in a task of its own, which finishes even when the caller's future is
/// dropped (a gRPC deadline passing cancels the handler). sqlx 0.9.0's Postgres `begin` is not
/// cancel-safe: dropped between sending `BEGIN` and reading the answer, it returns the
/// connection to the pool inside a transaction nothing ends, and the next borrower's writes
/// run in it (sqlx issue 4393). When the caller is gone by the time the transaction has
/// begun, the task rolls it back itself and the connection goes back to the pool clean.
pub(crate) async fn begin<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: &'static str,
) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
    let pool = pool.clone();
    let (hand_over, taken) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let begun = pool.begin_with(statement).await;
        if let Err(Ok(orphan)) = hand_over.send(begun) {
            // Nobody waits for it: end it now rather than leave it to a drop.
            let _ = orphan.rollback().await;
        }
    });
    taken
        .await
        .map_err(|_| StoreError::Other("beginning a transaction: the task ended".into()))?
        .map_err(db_error)
}

/// Maps the error of a write that adds a row for `owner`: every such table references the
/// account, so a foreign key violation means the account does not exist.
pub(crate) fn owner_write_error(err: sqlx::Error, owner: &AccountName) -> StoreError {
    if is_foreign_key_violation(&err) {
        StoreError::NotFound(owner.to_string())
    } else {
        db_error(err)
    }
}

/// Converts a count from the database.
pub(crate) fn count_from(count: i64, what: impl FnOnce() -> String) -> Result<usize, StoreError> {
    usize::try_from(count).map_err(|_| StoreError::Other(format!("{} is {count}", what())))
}
