//! The embedded store: one SQLite file, for `starling dev` and single-node installs.

mod accounts;
#[cfg(test)]
mod im_tests;
mod offline;
mod pending;
mod readers;
mod roster;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::{Mutex, OwnedMutexGuard};

use self::readers::{Reader, Readers};
use crate::StoreError;
use crate::error::{db_error, migrate_error};

/// The schema, embedded so that the binary needs no files beside the database.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Starts a transaction that writes, taking the file's write lock up front (why: see
/// [`accounts`]).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Starts a transaction for a read spanning several statements: deferred, which in WAL mode
/// is one consistent snapshot.
const BEGIN_READ: &str = "BEGIN";

/// How long a statement waits for another connection's (or process's) write lock before
/// failing with [`StoreError::Unavailable`]. Writes here are a few rows, so anything near this
/// long means something is wrong; waiting absorbs the normal contention between the admin CLI
/// and a running server sharing the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a write waits for its turn among this process's writers (see
/// [`SqliteStore::write_turn`]) before failing with [`StoreError::Unavailable`]: the same
/// bound the busy timeout puts on waiting for another process, so that a write stuck behind
/// the lock of another process (each in the queue waiting out its own busy timeout) fails
/// in bounded time rather than after everyone ahead of it.
const WRITE_TURN_TIMEOUT: Duration = BUSY_TIMEOUT;

/// Connections per file-backed pool. SQLite serializes writers anyway; a few connections let
/// reads (SASL lookups) proceed in parallel under WAL while a write is in progress.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite implementation of every store trait.
///
/// Cloning is cheap and shares the connection pool and the turn of its writers.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Held by each write of this process from its `BEGIN IMMEDIATE` to its end.
    ///
    /// SQLite lets one connection write at a time, and one that finds the write lock taken
    /// waits in its busy handler: it sleeps, retries, and sleeps longer (up to 100 ms), with
    /// no queue, so while the pool's other connections write back to back it can lose every
    /// retry for the whole busy timeout and fail with "database is locked" (a 10,000-user
    /// provisioning did, 8 writers on 4 connections). tokio's mutex is first come, first
    /// served, so the process's writers queue here in order and find the lock free, and the
    /// busy timeout is left to cover other processes on the file (the admin CLI beside a
    /// running server), which write rarely. The price is the hand-over: the next writer
    /// sends its `BEGIN` only once the last one's `COMMIT` has come back, where the busy
    /// handler often had it waiting already. That provisioning (210,000 writes, 8 at a time)
    /// took 84–108 s with the turn, 68–82 s without; one connection kept apart for writes,
    /// which queues them as fairly, took 111–114 s, since acquiring it and its ping as it
    /// goes back wait in the queue too.
    turn: Arc<Mutex<()>>,
    /// [`WRITE_TURN_TIMEOUT`], or shorter in tests.
    turn_timeout: Duration,
    /// Where single-statement reads run (why not on the pool: [`readers`]).
    readers: Readers,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if needed, and brings its schema up to
    /// date.
    ///
    /// The file is put in WAL mode with a busy timeout, so that several processes can use it
    /// at once: an account added by `starling user add` while the server runs can log in
    /// immediately, without a restart. Foreign keys are enforced (SQLite's default is off),
    /// which is what makes deleting an account delete its credentials, roster, pending
    /// subscription requests and offline messages.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, BUSY_TIMEOUT, WRITE_TURN_TIMEOUT).await
    }

    /// [`SqliteStore::open`] with other timeouts, so that tests can tell what waits for
    /// another process from what waits for this one's writers.
    pub(crate) async fn open_with(
        path: &Path,
        busy_timeout: Duration,
        turn_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(busy_timeout)
            .foreign_keys(true);
        let readers = Readers::file(&options);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // A connection to a local file has no peer that could have gone away while it sat
            // idle, and the ping that tests one costs a round trip to its worker thread: a
            // third of the thread hops of every statement (the pool still pings a connection
            // as it goes back, which catches one a cancelled statement left busy).
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| db_error(e).context(&format!("opening {}", path.display())))?;
        Self::migrated(pool, turn_timeout, readers).await
    }

    /// A private, empty in-memory database, for tests.
    ///
    /// An in-memory SQLite database lives only as long as its one connection and is invisible
    /// to any other, so the pool holds exactly one connection and never closes it.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        let readers = Readers::Pool(pool.clone());
        Self::migrated(pool, WRITE_TURN_TIMEOUT, readers).await
    }

    /// The underlying pool, for stores of other concerns built on the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for this process's turn to write (why: the field), at most
    /// [`WRITE_TURN_TIMEOUT`]; the write holds it until its transaction has ended.
    pub(crate) async fn write_turn(&self) -> Result<Option<OwnedMutexGuard<()>>, StoreError> {
        tokio::time::timeout(self.turn_timeout, self.turn.clone().lock_owned())
            .await
            .map(Some)
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no turn to write within {:?}: the writes ahead are stuck",
                    self.turn_timeout
                ))
            })
    }

    /// A connection for one single-statement read (see [`readers`]).
    pub(crate) async fn reader(&self) -> Result<Reader, StoreError> {
        self.readers.reader().await
    }

    async fn migrated(
        pool: SqlitePool,
        turn_timeout: Duration,
        readers: Readers,
    ) -> Result<SqliteStore, StoreError> {
        MIGRATOR.run(&pool).await.map_err(migrate_error)?;
        Ok(SqliteStore {
            pool,
            turn: Arc::default(),
            turn_timeout,
            readers,
        })
    }
}
