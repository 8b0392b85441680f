//! The conformance suites on Postgres, plus what only a shared server shows for rosters and
//! accounts: several pods (two pools here) writing one account's data at once, connection
//! handling, and the migrations. The other instant messaging stores' own Postgres tests are in
//! `im_tests`.
//!
//! The server comes from `DATABASE_URL` (`eval "$(scripts/services up)"` starts one and sets
//! it). Every test gets a schema of its own, dropped when the test ends, so tests run in
//! parallel on one database without seeing each other's rows.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};
use xmpp_core::sasl::ScramHash;

use super::{PgPoolSettings, PgStore};
use crate::conformance::accounts::{both_families, sample_credentials};
use crate::conformance::roster::sample_entry;
use crate::{AccountName, AccountStore, RosterEntry, RosterStore, RosterVersion, StoreError};

/// A schema of its own for one test, dropped (with everything in it) when this goes.
#[derive(Debug)]
pub(super) struct TestSchema {
    name: String,
    server: PgConnectOptions,
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: the Postgres store's tests need a server. Run \
             `scripts/services up` and export what it prints (eval \"$(scripts/services up)\"), \
             or run the whole suite with scripts/test, which does both"
        )
    })
}

impl TestSchema {
    async fn create() -> TestSchema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = database_url();
        let server = PgConnectOptions::from_str(&url)
            .unwrap_or_else(|e| panic!("DATABASE_URL is not a Postgres URL: {e}"));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "t_{nanos:x}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect_with(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL ({url}): {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        TestSchema { name, server }
    }

    /// A store whose connections see only this schema (the migrations' bookkeeping table
    /// included), not yet migrated. The application name lets the guard find them.
    fn store(&self) -> PgStore {
        self.store_with_pool(4)
    }

    /// [`TestSchema::store`] with a pool of at most `max_connections`.
    fn store_with_pool(&self, max_connections: u32) -> PgStore {
        let options = self
            .server
            .clone()
            .application_name(&self.name)
            .options([("search_path", &self.name)]);
        let settings = PgPoolSettings {
            max_connections,
            acquire_timeout: Duration::from_secs(30),
        };
        PgStore::connect_with(options, &settings)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop cannot await and the test's runtime may be a single thread, so the cleanup
        // runs on a thread of its own. A test that panicked may leave a connection inside a
        // transaction holding locks: ending the schema's connections first keeps DROP from
        // waiting on them.
        let (name, server) = (self.name.clone(), self.server.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&server).await?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1",
                )
                .bind(&name)
                .execute(&mut conn)
                .await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test schema {}", self.name),
        }
    }
}

/// A fresh, empty, migrated store, with the guard of its schema.
pub(super) async fn fresh() -> (PgStore, TestSchema) {
    let schema = TestSchema::create().await;
    let store = schema.store();
    store.migrate().await.unwrap();
    (store, schema)
}

mod conformance {
    crate::account_store_tests!(super::fresh().await);
    crate::roster_store_tests!(super::fresh().await);
    crate::pending_store_tests!(super::fresh().await);
    crate::offline_store_tests!(super::fresh().await);
}

/// Two pools on one new schema, as two pods would have, and an account on it.
pub(super) async fn two_pods() -> (PgStore, PgStore, AccountName, TestSchema) {
    let (a, schema) = fresh().await;
    let b = schema.store();
    let alice = AccountName::new("alice", "example.org");
    a.create_account(&alice, &both_families(1)).await.unwrap();
    (a, b, alice, schema)
}

/// Two resources changing one roster at once, through different pods: distinct contacts and
/// one contact many times over. Every write keeps its change and gets its own version, the
/// versions are consecutive, and `changes_since` any of them reports exactly the contacts
/// written after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_roster_writes_lose_no_update() {
    let (a, b, alice, _schema) = two_pods().await;
    let initial = a
        .put_entry(&alice, &sample_entry("first@example.net", 1))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..30u8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        // 20 distinct contacts, interleaved with 10 updates of one.
        let contact = if i % 3 == 2 {
            "romeo@example.net".to_owned()
        } else {
            format!("c{i:02}@example.net")
        };
        tasks.push(tokio::spawn(async move {
            let entry = sample_entry(&contact, i);
            let version = store.put_entry(&owner, &entry).await?;
            Ok::<_, StoreError>((version, entry))
        }));
    }
    let mut writes = BTreeMap::new();
    for task in tasks {
        let (version, entry) = task.await.unwrap().unwrap();
        assert!(
            writes.insert(version, entry).is_none(),
            "{version} issued twice"
        );
    }
    let versions: Vec<RosterVersion> = writes.keys().copied().collect();
    let expected: Vec<RosterVersion> = (1..=30).map(|n| RosterVersion(initial.0 + n)).collect();
    assert_eq!(versions, expected, "30 distinct, consecutive versions");

    // The current state of each contact is its write with the highest version.
    let mut latest: BTreeMap<String, (RosterVersion, RosterEntry)> = BTreeMap::new();
    for (version, entry) in &writes {
        latest.insert(entry.contact.clone(), (*version, entry.clone()));
    }
    assert_eq!(latest.len(), 21);
    let (version, entries) = b.roster(&alice).await.unwrap();
    assert_eq!(version, RosterVersion(initial.0 + 30));
    let mut expected_roster: Vec<RosterEntry> = latest.values().map(|(_, e)| e.clone()).collect();
    expected_roster.push(sample_entry("first@example.net", 1));
    expected_roster.sort_by(|x, y| x.contact.cmp(&y.contact));
    assert_eq!(entries, expected_roster);

    for since in std::iter::once(initial).chain(versions) {
        let changes = a.changes_since(&alice, since).await.unwrap().unwrap();
        let newer: Vec<RosterEntry> = latest
            .values()
            .filter(|(v, _)| *v > since)
            .map(|(_, e)| e.clone())
            .collect();
        assert_eq!(changes.version, version);
        assert_eq!(changes.updated, newer, "since {since}");
        assert!(changes.removed.is_empty());
    }
}

/// Password changes of one account from two pods at once: each replaces the whole set, none
/// fails on the other's half-written rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_credential_changes_are_serialized() {
    let (a, b, alice, _schema) = two_pods().await;
    let mut tasks = Vec::new();
    for seed in 0..20u8 {
        let store = if seed % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        tasks.push(tokio::spawn(async move {
            store.set_credentials(&owner, &both_families(seed)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let sha1 = a
        .credentials(&alice, ScramHash::Sha1)
        .await
        .unwrap()
        .unwrap();
    let sha256 = a
        .credentials(&alice, ScramHash::Sha256)
        .await
        .unwrap()
        .unwrap();
    let seed = (0..20u8)
        .find(|&s| sample_credentials(ScramHash::Sha1, s) == sha1)
        .expect("a complete set");
    assert_eq!(sha256, sample_credentials(ScramHash::Sha256, seed));
}

/// Connecting leaves the schema alone; migrating creates it, records the migrations in the
/// same schema, and is a no-op the second time (also from another pod).
#[tokio::test]
async fn connect_does_not_migrate_and_migrate_is_idempotent() {
    let schema = TestSchema::create().await;
    let store = schema.store();
    let tables = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()";
    let (before,): (i64,) = sqlx::query_as(tables)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(before, 0);

    store.migrate().await.unwrap();
    schema.store().migrate().await.unwrap();
    let (after,): (i64,) = sqlx::query_as(tables)
        .fetch_one(store.pool())
        .await
        .unwrap();
    // Eight tables of ours and the migrations' bookkeeping.
    assert_eq!(after, 9);
    let (applied,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 2);
}

#[test]
fn malformed_url_fails_at_connect() {
    for url in [
        "not a url",
        "postgres://host:port/db",
        "mysql://localhost/db",
    ] {
        let err = PgStore::connect(url, &PgPoolSettings::default()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Other(m) if m.starts_with("invalid database URL")),
            "{url}: {err:?}"
        );
    }
}

/// Nothing listens on port 1: operations fail as temporary, within the acquire timeout.
#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let settings = PgPoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
    };
    let store = PgStore::connect("postgres://postgres@127.0.0.1:1/starling", &settings).unwrap();
    let alice = AccountName::new("alice", "example.org");
    let started = std::time::Instant::now();
    let err = store.account_exists(&alice).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.migrate().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A store operation cancelled at any point (a gRPC deadline passing drops the handler's
/// future) leaves no transaction open on the pooled connection: otherwise the next borrower's
/// statements would run inside it, and what they write would hang on a COMMIT that may never
/// come. Cancelled here after 0, 1, 2, … polls, on a pool of one connection so that the next
/// statement gets the same connection; `now()` is the start of the current transaction, so
/// it is earlier than the statement's own start only inside a transaction begun before.
#[tokio::test]
async fn a_cancelled_write_leaves_no_transaction_open() {
    let schema = TestSchema::create().await;
    let store = schema.store_with_pool(1);
    store.migrate().await.unwrap();
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    for polls in 0..40u32 {
        let entry = sample_entry(&format!("c{polls}@example.net"), 1);
        {
            let write = store.put_entry(&alice, &entry);
            tokio::pin!(write);
            for _ in 0..polls {
                tokio::select! {
                    biased;
                    _ = write.as_mut() => break,
                    () = std::future::ready(()) => {}
                }
                tokio::task::yield_now().await;
            }
        } // The write is dropped here, wherever it was.
        tokio::time::sleep(Duration::from_millis(2)).await;
        // The simple query protocol: one message, so outside a transaction the statement and
        // its implicit transaction start together.
        let stale: bool = sqlx::raw_sql("SELECT now() < statement_timestamp()")
            .fetch_one(&store.pool)
            .await
            .unwrap_or_else(|e| panic!("after {polls} polls: {e}"))
            .get(0);
        assert!(!stale, "a transaction was left open after {polls} polls");
    }
}
