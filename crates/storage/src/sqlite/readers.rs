//! Connections the embedded store keeps for its single-statement reads: a login's SCRAM
//! credentials and the account checks of routing.
//!
//! Through sqlx's pool such a read crosses to the connection's worker thread twice: once for
//! the statement, and once more for the ping the pool sends every connection as it comes back
//! (sqlx 0.9 always does, in a task it spawns for that; `test_before_acquire(false)` only
//! stops the ping on the way out). Each crossing is a channel send, a futex wake of the
//! worker thread and one of the waiting task. In a login storm against `starling dev`
//! everything under sqlx was 19% of the server's samples, and 13.7% without the ping
//! (`loadtest/results/login-n10000/readers/`). The ping is there to catch a
//! connection a cancelled statement left inside a transaction, or a network connection gone
//! dead; neither applies here: these connections run only autocommit `SELECT`s (a cancelled
//! one is reset by the worker before its next command) on a local file, and they are
//! opened read-only, so nothing written through them can be left half done.
//!
//! So they are a pool of our own: [`READERS`] connections opened on first use, a semaphore
//! that queues callers first come, first served when all are busy, and a guard that puts its
//! connection back as it drops. A connection whose worker thread has died is dropped instead,
//! and a new one is opened in its place by the next caller.

use std::sync::{Arc, Mutex, PoisonError};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Sqlite, SqlitePool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::StoreError;
use crate::error::db_error;

/// Read connections per store: reads proceed in parallel under WAL, and a login's read takes
/// microseconds, so a few cover the logins two cores can handshake. Each keeps SQLite's own
/// page cache (2 MB at most, as each of the pool's connections does), and a worker thread.
pub(crate) const READERS: usize = 4;

/// Where a store's single-statement reads run.
#[derive(Clone, Debug)]
pub(crate) enum Readers {
    /// Read-only connections of their own on the database file.
    File(Arc<KeptReaders>),
    /// The pool's connection, for a private in-memory database, which no other connection can
    /// open.
    Pool(SqlitePool),
}

/// The connections of [`Readers::File`].
#[derive(Debug)]
pub(crate) struct KeptReaders {
    /// How to open another one: the pool's options, read-only.
    options: SqliteConnectOptions,
    /// Connections not in use.
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection, open or not yet opened.
    permits: Arc<Semaphore>,
}

impl Readers {
    /// Read connections on the file the pool's `options` open.
    pub(crate) fn file(options: &SqliteConnectOptions) -> Readers {
        Readers::File(Arc::new(KeptReaders {
            options: options.clone().read_only(true).create_if_missing(false),
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: Arc::new(Semaphore::new(READERS)),
        }))
    }

    /// A connection to read with, waiting for one to be free if all are in use.
    pub(crate) async fn reader(&self) -> Result<Reader, StoreError> {
        let kept = match self {
            Readers::Pool(pool) => {
                return Ok(Reader::Pooled(pool.acquire().await.map_err(db_error)?));
            }
            Readers::File(kept) => kept,
        };
        let permit = kept
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the readers' semaphore is never closed");
        let idle = kept
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => kept.options.connect().await.map_err(db_error)?,
        };
        Ok(Reader::Kept(KeptReader {
            connection: Some(connection),
            readers: kept.clone(),
            _permit: permit,
        }))
    }
}

/// A connection lent for one read; it goes back as this drops.
pub(crate) enum Reader {
    Kept(KeptReader),
    Pooled(sqlx::pool::PoolConnection<Sqlite>),
}

/// A connection of [`Readers::File`] and the permit it was taken under.
pub(crate) struct KeptReader {
    /// Always `Some` until dropped, or taken out by [`Reader::finish`] when broken.
    connection: Option<SqliteConnection>,
    readers: Arc<KeptReaders>,
    _permit: OwnedSemaphorePermit,
}

impl Reader {
    /// The connection to run the statement on.
    pub(crate) fn executor(&mut self) -> &mut SqliteConnection {
        match self {
            Reader::Kept(kept) => kept
                .connection
                .as_mut()
                .expect("a reader holds its connection until it drops"),
            Reader::Pooled(pooled) => pooled,
        }
    }

    /// Maps the read's outcome onto the store's errors, and drops the connection rather than
    /// lend it again if its worker thread has died.
    pub(crate) fn finish<T>(mut self, outcome: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        if let (Reader::Kept(kept), Err(sqlx::Error::WorkerCrashed)) = (&mut self, &outcome) {
            kept.connection = None;
        }
        outcome.map_err(db_error)
    }
}

impl Drop for KeptReader {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.readers
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Future, poll_fn};
    use std::pin::pin;
    use std::task::Poll;

    use xmpp_core::sasl::ScramHash;

    use super::{READERS, Readers};
    use crate::conformance::accounts::{both_families, sample_credentials};
    use crate::{AccountName, AccountStore, SqliteStore};

    async fn store_with_users(users: u8) -> (SqliteStore, Vec<AccountName>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("starling.db"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for seed in 0..users {
            let name = AccountName::new(format!("user{seed}"), "example.org");
            store
                .create_account(&name, &both_families(seed))
                .await
                .unwrap();
            names.push(name);
        }
        (store, names, dir)
    }

    fn idle_readers(store: &SqliteStore) -> usize {
        match &store.readers {
            Readers::File(kept) => kept.idle.lock().unwrap().len(),
            Readers::Pool(_) => panic!("a file-backed store keeps readers of its own"),
        }
    }

    /// Polls `future` once and drops it, as a caller whose deadline passes does.
    async fn poll_once_and_drop(future: impl Future) {
        let mut future = pin!(future);
        poll_fn(|cx| {
            assert!(
                future.as_mut().poll(cx).is_pending(),
                "the read was not cut short"
            );
            Poll::Ready(())
        })
        .await;
    }

    #[tokio::test]
    async fn more_reads_at_once_than_readers_all_get_their_own_answer() {
        let (store, names, _dir) = store_with_users(16).await;
        let mut reads = Vec::new();
        for (seed, name) in names.iter().enumerate() {
            for &hash in ScramHash::ALL.iter() {
                let (store, name) = (store.clone(), name.clone());
                reads.push(tokio::spawn(async move {
                    let got = store.credentials(&name, hash).await.unwrap();
                    assert_eq!(got, Some(sample_credentials(hash, seed as u8)));
                }));
            }
        }
        for read in reads {
            read.await.unwrap();
        }
        // Every connection went back, and no more were opened than the limit.
        let idle = idle_readers(&store);
        assert!((1..=READERS).contains(&idle), "{idle} idle readers");
    }

    #[tokio::test]
    async fn a_read_cut_short_leaves_its_connection_fit_for_the_next() {
        let (store, names, _dir) = store_with_users(2).await;
        // Open one reader, so that the next read takes it and sends its statement at once.
        assert!(store.account_exists(&names[0]).await.unwrap());
        assert_eq!(idle_readers(&store), 1);

        // A statement that takes its worker thread a good while (two million rows counted),
        // dropped while it runs, as a login whose deadline passes drops its read.
        poll_once_and_drop(async {
            let mut reader = store.reader().await.unwrap();
            let outcome: Result<(i64,), _> = sqlx::query_as(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) \
                 SELECT count(*) FROM c",
            )
            .fetch_one(reader.executor())
            .await;
            reader.finish(outcome)
        })
        .await;
        assert_eq!(idle_readers(&store), 1, "the connection went back");

        // The same connection answers the next reads, each with its own row.
        for (seed, name) in names.iter().enumerate() {
            assert_eq!(
                store.credentials(name, ScramHash::Sha1).await.unwrap(),
                Some(sample_credentials(ScramHash::Sha1, seed as u8))
            );
        }
        assert!(
            !store
                .account_exists(&AccountName::new("nobody", "example.org"))
                .await
                .unwrap()
        );
        assert_eq!(idle_readers(&store), 1);
    }

    #[tokio::test]
    async fn a_reader_opens_after_every_other_connection_has_closed() {
        // An idle server's pool closes its connections, and the last one to close removes the
        // WAL and shared-memory files; a read-only connection must open the file without them.
        let (store, names, dir) = store_with_users(1).await;
        store.pool().close().await;
        let shm = dir.path().join("starling.db-shm");
        assert!(
            !shm.exists(),
            "the last connection took the WAL files with it"
        );
        assert_eq!(
            store
                .credentials(&names[0], ScramHash::Sha256)
                .await
                .unwrap(),
            Some(sample_credentials(ScramHash::Sha256, 0))
        );
    }

    #[tokio::test]
    async fn readers_cannot_write() {
        let (store, names, _dir) = store_with_users(1).await;
        let mut reader = store.reader().await.unwrap();
        let outcome = sqlx::query("DELETE FROM accounts")
            .execute(reader.executor())
            .await;
        let err = reader.finish(outcome).unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        assert!(store.account_exists(&names[0]).await.unwrap());
    }
}
