//! The one error type of every store, and how database errors map onto it.

/// Why a store operation failed.
///
/// Callers branch on the kind, not on the backend: [`StoreError::Unavailable`] is worth
/// retrying or reporting as a temporary failure (for example SASL `temporary-auth-failure`),
/// while [`StoreError::Other`] is not.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account to create is already present.
    #[error("account {0} already exists")]
    AlreadyExists(String),
    /// What was to be changed or deleted is absent: an account (named by its bare JID), or an
    /// item stored for one, such as a roster entry (named by its contact's JID). Writes for an
    /// account that does not exist fail this way too, naming the account.
    #[error("{0} not found")]
    NotFound(String),
    /// The account already stores as much of something as it may (the argument names the
    /// account), for example offline messages: RFC 6121 §8.5.2.2.1 lets a server refuse to
    /// store a message and bounce it instead. Retrying helps only once the account's data has
    /// shrunk, so callers answer rather than retry.
    #[error("storage quota of {0} exceeded")]
    QuotaExceeded(String),
    /// The database cannot be reached or is temporarily unable to serve (connection or I/O
    /// failure, pool exhausted, locked longer than the busy timeout). Temporary.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: invalid input, a broken schema, corrupt data. Retrying will not help.
    #[error("storage error: {0}")]
    Other(String),
}

impl StoreError {
    /// Prefixes the message with what was being done (for example which file was opened),
    /// keeping the kind.
    pub(crate) fn context(self, what: &str) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!("{what}: {m}")),
            StoreError::Other(m) => StoreError::Other(format!("{what}: {m}")),
            named @ (StoreError::AlreadyExists(_)
            | StoreError::NotFound(_)
            | StoreError::QuotaExceeded(_)) => named,
        }
    }
}

/// Whether the error is the database rejecting a duplicate primary or unique key.
///
/// Backends check this where a duplicate has a meaning of its own (an account that already
/// exists) before falling back to [`db_error`].
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// Whether the error is the database rejecting a row whose parent is missing.
///
/// Everything stored for an account references the account row, so on a write this means the
/// account does not exist, which backends report as [`StoreError::NotFound`].
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_foreign_key_violation())
}

/// Maps a sqlx error onto [`StoreError`], separating temporary failures from the rest.
pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
    if is_transient(&err) {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Other(err.to_string())
    }
}

/// Maps a migration failure; a failed statement is classified like any other database error.
pub(crate) fn migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    let transient = match &err {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => is_transient(e),
        _ => false,
    };
    let message = err.to_string();
    let kind = if transient {
        StoreError::Unavailable(message)
    } else {
        StoreError::Other(message)
    };
    kind.context("running migrations")
}

fn is_transient(err: &sqlx::Error) -> bool {
    use sqlx::error::DatabaseError as _;
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(e) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                e.code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(sqlite_code_is_transient)
            } else if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_state_is_transient(e.code())
            } else {
                false
            }
        }
        sqlx::Error::Migrate(e) => match e.as_ref() {
            sqlx::migrate::MigrateError::Execute(e)
            | sqlx::migrate::MigrateError::ExecuteMigration(e, _) => is_transient(e),
            _ => false,
        },
        _ => false,
    }
}

/// SQLite result codes (<https://www.sqlite.org/rescode.html>) that describe the environment
/// rather than the statement. sqlx reports extended codes; their low byte is the primary code.
fn sqlite_code_is_transient(extended: i32) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const PROTOCOL: i32 = 15;
    matches!(
        extended & 0xff,
        BUSY | LOCKED | NOMEM | IOERR | FULL | CANTOPEN | PROTOCOL
    )
}

/// Postgres SQLSTATEs (<https://www.postgresql.org/docs/current/errcodes-appendix.html>) after
/// which the same request can succeed later.
///
/// Constraint violations (class 23: 23505 unique, 23503 foreign key) are not among them: the
/// backends turn the meaningful ones into [`StoreError::AlreadyExists`] or
/// [`StoreError::NotFound`] through [`is_unique_violation`] and [`is_foreign_key_violation`].
fn postgres_state_is_transient(state: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (disk full, out of memory, too many
    // connections); 57P01..57P03: server shutting down, crashed or starting up (a failover).
    state.starts_with("08")
        || state.starts_with("53")
        || matches!(
            state,
            "57P01" | "57P02" | "57P03"
            // serialization failure and deadlock: the transaction lost a race and can be rerun
            | "40001" | "40P01"
            // a lock not obtained within lock_timeout, a statement cancelled by
            // statement_timeout: the database was too busy, like SQLite's busy timeout
            | "55P03" | "57014"
            // I/O error on the server
            | "58030"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_and_io_errors_are_transient() {
        assert!(sqlite_code_is_transient(5)); // SQLITE_BUSY
        assert!(sqlite_code_is_transient(5 | (2 << 8))); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_code_is_transient(10 | (1 << 8))); // SQLITE_IOERR_READ
        assert!(sqlite_code_is_transient(14)); // SQLITE_CANTOPEN
        assert!(!sqlite_code_is_transient(19)); // SQLITE_CONSTRAINT
        assert!(!sqlite_code_is_transient(1)); // SQLITE_ERROR
        assert!(!sqlite_code_is_transient(26)); // SQLITE_NOTADB
    }

    #[test]
    fn postgres_connection_and_shutdown_states_are_transient() {
        for state in [
            "08006", "08001", "08P01", "53300", "57P01", "57P02", "57P03", "40001", "40P01",
            "55P03", "57014",
        ] {
            assert!(postgres_state_is_transient(state), "{state}");
        }
        for state in ["23505", "23503", "42P01", "22P02", "XX000"] {
            assert!(!postgres_state_is_transient(state), "{state}");
        }
    }

    #[test]
    fn pool_errors_are_unavailable() {
        assert!(matches!(
            db_error(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_error(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }
}
