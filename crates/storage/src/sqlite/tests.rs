//! The conformance suites on SQLite, plus what only a file-backed store can show for accounts:
//! data that survives a reopen, and several handles (the admin CLI and a running server) on
//! one file. The instant messaging stores' own SQLite tests are in `im_tests`.

use std::time::Duration;

use xmpp_core::sasl::ScramHash;

use super::SqliteStore;
use crate::conformance::accounts::{both_families, sample_credentials};
use crate::{AccountName, AccountStore, RosterEntry, RosterStore, StoreError};

mod in_memory {
    crate::account_store_tests!(crate::SqliteStore::open_in_memory().await.unwrap());
    crate::roster_store_tests!(crate::SqliteStore::open_in_memory().await.unwrap());
    crate::pending_store_tests!(crate::SqliteStore::open_in_memory().await.unwrap());
    crate::offline_store_tests!(crate::SqliteStore::open_in_memory().await.unwrap());
}

mod file_backed {
    // The directory travels with the store: SQLite creates the WAL and shared-memory files
    // beside the database whenever it opens a connection.
    async fn fresh() -> (crate::SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(&dir.path().join("starling.db"))
            .await
            .unwrap();
        (store, dir)
    }

    crate::account_store_tests!(fresh().await);
    crate::roster_store_tests!(fresh().await);
    crate::pending_store_tests!(fresh().await);
    crate::offline_store_tests!(fresh().await);
}

#[tokio::test]
async fn reopened_file_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starling.db");
    let alice = AccountName::new("alice", "example.org");
    let creds = both_families(1);
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.create_account(&alice, &creds).await.unwrap();
        store.pool().close().await;
    }
    // Reopening runs the migrations again; they must recognise the applied schema.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.list_accounts(None).await.unwrap(),
        vec![alice.clone()]
    );
    for expected in &creds {
        let got = store.credentials(&alice, expected.hash).await.unwrap();
        assert_eq!(got.as_ref(), Some(expected));
    }
}

#[tokio::test]
async fn two_handles_on_one_file_see_each_others_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starling.db");
    let server = SqliteStore::open(&path).await.unwrap();
    let cli = SqliteStore::open(&path).await.unwrap();
    let alice = AccountName::new("alice", "example.org");

    // The server looks the user up first, so its connections have read the file before.
    assert_eq!(
        server.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        None
    );

    cli.create_account(&alice, &both_families(1)).await.unwrap();
    assert_eq!(
        server.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        Some(sample_credentials(ScramHash::Sha256, 1))
    );

    let new = sample_credentials(ScramHash::Sha256, 2);
    cli.set_credentials(&alice, std::slice::from_ref(&new))
        .await
        .unwrap();
    assert_eq!(
        server.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        Some(new)
    );
    assert_eq!(
        server.credentials(&alice, ScramHash::Sha1).await.unwrap(),
        None
    );

    server.delete_account(&alice).await.unwrap();
    assert!(!cli.account_exists(&alice).await.unwrap());
}

#[tokio::test]
async fn concurrent_writers_on_one_file_wait_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starling.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let name = AccountName::new(format!("user{i:02}"), "example.org");
            store.create_account(&name, &both_families(i)).await?;
            store
                .set_credentials(&name, &[sample_credentials(ScramHash::Sha1, i)])
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(a.list_accounts(None).await.unwrap().len(), 40);
}

/// A store on a fresh file with the given busy and write-turn timeouts; the directory goes
/// with it.
async fn on_file(busy: Duration, turn: Duration) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&dir.path().join("starling.db"), busy, turn)
        .await
        .unwrap();
    (store, dir)
}

/// Writers of one process queue for the write lock in order, so they never need the busy
/// timeout, which is there for other processes: with it cut to 2 ms, a burst of roster
/// writes (as provisioning or a subscription storm makes) still all succeed. SQLite's
/// own busy handler is no queue: a connection that found the lock taken sleeps and retries,
/// and the others may take it again each time, so with several connections writing back to
/// back one of them could wait out the whole timeout and fail with "database is locked".
#[tokio::test]
async fn writers_of_one_process_take_turns_instead_of_timing_out() {
    let (store, _dir) = on_file(Duration::from_millis(2), Duration::from_secs(5)).await;
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let name = AccountName::new(format!("user{i:02}"), "example.org");
            store.create_account(&name, &both_families(i)).await?;
            for j in 0..25 {
                let entry = RosterEntry::new(format!("contact{j:02}@example.org"));
                store.put_entry(&name, &entry).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for i in 0..16u8 {
        let name = AccountName::new(format!("user{i:02}"), "example.org");
        assert_eq!(store.count(&name).await.unwrap(), 25, "{name}");
    }
}

/// A write that cannot have its turn in time fails as unavailable (temporary, worth a retry)
/// instead of queueing behind stuck writes for as long as they take; once the turn is free,
/// writes go through again.
#[tokio::test]
async fn a_write_that_gets_no_turn_in_time_is_unavailable() {
    let (store, _dir) = on_file(Duration::from_secs(5), Duration::from_millis(50)).await;
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    let entry = RosterEntry::new("juliet@example.org");

    let stuck = store.write_turn().await.unwrap();
    let err = store.put_entry(&alice, &entry).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(store.count(&alice).await.unwrap(), 0);

    drop(stuck);
    store.put_entry(&alice, &entry).await.unwrap();
    assert_eq!(store.count(&alice).await.unwrap(), 1);
}

#[tokio::test]
async fn in_memory_stores_are_independent() {
    let one = SqliteStore::open_in_memory().await.unwrap();
    let two = SqliteStore::open_in_memory().await.unwrap();
    let alice = AccountName::new("alice", "example.org");
    one.create_account(&alice, &both_families(1)).await.unwrap();
    assert!(!two.account_exists(&alice).await.unwrap());
}

#[tokio::test]
async fn unopenable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-directory").join("starling.db");
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn schema_has_both_tables_and_enforces_foreign_keys() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    // A credential row for a missing account must be refused: that is what guarantees the
    // cascade on delete has something to follow.
    let orphan = sqlx::query(
        "INSERT INTO scram_credentials \
         (domain, localpart, hash, salt, iterations, stored_key, server_key) \
         VALUES ('example.org', 'ghost', 'SHA-1', x'00', 1, x'00', x'00')",
    )
    .execute(store.pool())
    .await
    .unwrap_err();
    assert!(
        orphan
            .as_database_error()
            .is_some_and(|e| e.is_foreign_key_violation()),
        "{orphan:?}"
    );
}
