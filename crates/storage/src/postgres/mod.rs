//! The cluster store: PostgreSQL, shared by every pod.
//!
//! Unlike the embedded SQLite file, where one lock serializes all writers, Postgres lets
//! writers of different accounts proceed in parallel, so each store says which rows it locks
//! and why:
//!
//! - writes of one roster are serialized by the lock on its `rosters` row, taken first by
//!   every roster write (RFC 6121 §2.6 needs distinct, ordered versions; see [`roster`]);
//! - offline pushes and takes of one account are serialized by a lock on its `accounts` row,
//!   which makes the quota exact (see [`offline`]);
//! - credential replacements of one account likewise (see [`accounts`]).
//!
//! Reads that span several statements run in `REPEATABLE READ READ ONLY` transactions: one
//! snapshot, so a roster's version always matches its items, and read-only snapshots never
//! fail with serialization errors. Everything else runs at the default `READ COMMITTED`,
//! where a statement that waited for a row lock sees what the other transaction committed.

mod accounts;
#[cfg(test)]
mod im_tests;
mod offline;
mod pending;
mod roster;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::StoreError;
use crate::error::migrate_error;
use crate::sql::PoolReader;

/// The schema, embedded so that a pod needs no files beside its binary.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Starts a transaction for a read spanning several statements: one snapshot throughout.
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// Starts a transaction that writes, at the default `READ COMMITTED`; the stores lock the
/// rows that keep concurrent writers apart.
const BEGIN_WRITE: &str = "BEGIN";

/// Locks an account's row (domain, localpart) until the transaction ends, returning a row if
/// the account exists.
const LOCK_ACCOUNT: &str = "SELECT 1 FROM accounts WHERE domain = $1 AND localpart = $2 FOR UPDATE";

/// Connection pool settings of a [`PgStore`].
#[derive(Clone, Debug)]
pub struct PgPoolSettings {
    /// The most connections the pool opens (default 16). Each pod holds its own pool, so the
    /// server's `max_connections` must cover this times the number of pods.
    pub max_connections: u32,
    /// How long an operation waits for a free connection, or for the server to accept a new
    /// one, before failing with [`StoreError::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for PgPoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL implementation of every store trait.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on the database at `url` (`postgres://user@host:port/database?...`).
    ///
    /// Connections are opened lazily, when an operation first needs one, so a pod can start
    /// while the database is still coming up: operations fail with
    /// [`StoreError::Unavailable`] until it is reachable. A malformed URL fails here, with
    /// [`StoreError::Other`].
    ///
    /// The schema is not touched: migrating is a deployment step of its own
    /// ([`PgStore::migrate`]), so that a pod never changes the schema under the others by
    /// merely starting.
    pub fn connect(url: &str, settings: &PgPoolSettings) -> Result<PgStore, StoreError> {
        // The messages name the problem, never the URL, so no password can end up in a log.
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(StoreError::Other(
                "invalid database URL: expected postgres://... or postgresql://...".to_owned(),
            ));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid database URL: {e}")))?;
        Ok(Self::connect_with(options, settings))
    }

    /// Like [`PgStore::connect`], from options already parsed or built (TLS settings, a
    /// `search_path`, an application name).
    pub fn connect_with(options: PgConnectOptions, settings: &PgPoolSettings) -> PgStore {
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        PgStore { pool }
    }

    /// Brings the schema up to date with the embedded migrations (`migrations/postgres`).
    ///
    /// Safe to run concurrently: sqlx serializes migrators on one database with an advisory
    /// lock, and a migration already applied is skipped (its checksum must still match).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(migrate_error)
    }

    /// The underlying pool, for stores of other concerns built on the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Single-statement reads run on the pool here: a connection kept apart would wait out
    /// a network round trip per read, where the pool's run in parallel.
    pub(crate) async fn reader(&self) -> Result<PoolReader<'_, sqlx::Postgres>, StoreError> {
        Ok(PoolReader(&self.pool))
    }

    /// Writers need no turn here: Postgres runs them in parallel and queues those of one
    /// row itself (SQLite's store has one, `SqliteStore::write_turn`).
    pub(crate) async fn write_turn(&self) -> Result<Option<()>, StoreError> {
        Ok(None)
    }
}
