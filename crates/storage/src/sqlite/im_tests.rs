//! What the conformance suites cannot show for the instant messaging stores on SQLite:
//! concurrent writers on one file (two server processes, or a server and the admin CLI), the
//! bounded removal history behind `changes_since`, and data that survives a reopen. The cases
//! both backends run are in [`crate::sql::tests`].

use std::collections::BTreeSet;

use super::SqliteStore;
use crate::conformance::accounts::both_families;
use crate::conformance::offline::sample_stanza;
use crate::conformance::pending::sample_request;
use crate::conformance::roster::sample_entry;
use crate::sql::tests as shared;
use crate::{
    AccountName, AccountStore, OfflineStore, PendingSubscriptionStore, RosterStore, RosterVersion,
    StoreError,
};

/// Two handles on one new file, and an account on it.
async fn two_handles(dir: &tempfile::TempDir) -> (SqliteStore, SqliteStore, AccountName) {
    let path = dir.path().join("starling.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    let alice = AccountName::new("alice", "example.org");
    a.create_account(&alice, &both_families(1)).await.unwrap();
    (a, b, alice)
}

#[tokio::test]
async fn concurrent_roster_puts_from_two_handles_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, alice) = two_handles(&dir).await;
    let initial = a
        .put_entry(&alice, &sample_entry("first@example.net", 1))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        tasks.push(tokio::spawn(async move {
            let entry = sample_entry(&format!("c{i:02}@example.net"), i);
            store.put_entry(&owner, &entry).await
        }));
    }
    let mut versions = BTreeSet::new();
    for task in tasks {
        versions.insert(task.await.unwrap().unwrap());
    }

    let expected: BTreeSet<RosterVersion> =
        (1..=40).map(|n| RosterVersion(initial.0 + n)).collect();
    assert_eq!(versions, expected, "40 distinct, consecutive versions");
    let (version, entries) = b.roster(&alice).await.unwrap();
    assert_eq!(version, RosterVersion(initial.0 + 40));
    assert_eq!(entries.len(), 41);
    for i in 0..40u8 {
        let contact = format!("c{i:02}@example.net");
        assert_eq!(
            a.entry(&alice, &contact).await.unwrap(),
            Some(sample_entry(&contact, i))
        );
    }
    let changes = a.changes_since(&alice, initial).await.unwrap().unwrap();
    assert_eq!(changes.updated.len(), 40);
}

#[tokio::test]
async fn concurrent_writes_to_one_item_end_with_the_highest_version() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, alice) = two_handles(&dir).await;
    let contact = "romeo@example.net";

    let mut tasks = Vec::new();
    for seed in 0..20u8 {
        let store = if seed % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        tasks.push(tokio::spawn(async move {
            let version = store
                .put_entry(&owner, &sample_entry(contact, seed))
                .await?;
            Ok::<_, StoreError>((version, seed))
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    results.sort();
    results.dedup_by_key(|(version, _)| *version);
    assert_eq!(results.len(), 20, "every write got its own version");
    let (last_version, last_seed) = results[19];
    assert_eq!(
        a.roster(&alice).await.unwrap(),
        (last_version, vec![sample_entry(contact, last_seed)])
    );
}

#[tokio::test]
async fn concurrent_offline_pushes_never_exceed_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, alice) = two_handles(&dir).await;
    shared::concurrent_offline_pushes_never_exceed_the_quota(a, b, alice).await;
}

#[tokio::test]
async fn concurrent_takes_deliver_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, alice) = two_handles(&dir).await;
    shared::concurrent_takes_deliver_each_message_once(a, b, alice).await;
}

#[tokio::test]
async fn removal_history_is_bounded_and_never_answers_with_gaps() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    shared::removal_history_is_bounded_and_never_answers_with_gaps(store).await;
}

#[tokio::test]
async fn reopened_file_keeps_roster_pending_and_offline_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starling.db");
    let alice = AccountName::new("alice", "example.org");
    let entry = sample_entry("romeo@example.net", 31);
    let request = sample_request("tybalt@example.org", "let me in");
    let version = {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .create_account(&alice, &both_families(1))
            .await
            .unwrap();
        let version = store.put_entry(&alice, &entry).await.unwrap();
        store
            .put_pending_in(&alice, "tybalt@example.org", &request)
            .await
            .unwrap();
        store
            .push_offline(&alice, &sample_stanza(1), 42, 10)
            .await
            .unwrap();
        store.pool().close().await;
        version
    };

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.roster(&alice).await.unwrap(),
        (version, vec![entry.clone()])
    );
    assert_eq!(
        store.pending_in(&alice).await.unwrap(),
        vec![("tybalt@example.org".to_owned(), request)]
    );
    let messages = store.take_offline(&alice).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].stamp_unix_ms, 42);
    // The version carries on from where it was, not from a new start.
    assert_eq!(
        store.remove_entry(&alice, &entry.contact).await.unwrap(),
        RosterVersion(version.0 + 1)
    );
}

#[tokio::test]
async fn deleting_an_account_leaves_no_rows_behind() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    shared::deleting_an_account_leaves_no_rows_behind(store).await;
}
