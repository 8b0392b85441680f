//! What the conformance suites cannot show for the instant messaging stores on Postgres:
//! one account's roster and offline queue written through two pods at once, the bounded
//! removal history behind `changes_since`, and account deletion reaching every table.

use std::collections::BTreeSet;

use super::tests::{fresh, two_pods};
use crate::conformance::accounts::both_families;
use crate::conformance::offline::sample_stanza;
use crate::conformance::roster::sample_entry;
use crate::{
    AccountName, AccountStore, OfflineStore, PendingSubscriptionStore, RosterEntry, RosterStore,
    RosterVersion, StoreError,
};

/// Puts and removals of the same contacts at once neither deadlock (every write takes the
/// roster lock first) nor share a version; each removal either finds its item or is NotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_and_removals_of_one_roster_do_not_deadlock() {
    let (a, b, alice, _schema) = two_pods().await;
    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        let contact = format!("c{}@example.net", i % 5);
        tasks.push(tokio::spawn(async move {
            if i % 4 == 3 {
                match store.remove_entry(&owner, &contact).await {
                    Err(StoreError::NotFound(_)) => Ok(None),
                    other => other.map(Some),
                }
            } else {
                store
                    .put_entry(&owner, &sample_entry(&contact, i))
                    .await
                    .map(Some)
            }
        }));
    }
    let mut versions = BTreeSet::new();
    for task in tasks {
        if let Some(version) = task.await.unwrap().unwrap() {
            assert!(versions.insert(version), "{version} issued twice");
        }
    }
    let (version, _) = a.roster(&alice).await.unwrap();
    assert_eq!(versions.last(), Some(&version));
    assert_eq!(
        versions.len(),
        usize::try_from(version.0 - versions.first().unwrap().0 + 1).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_offline_pushes_never_exceed_the_quota() {
    let (a, b, alice, _schema) = two_pods().await;
    let quota = 10;
    let mut tasks = Vec::new();
    for i in 0..30u32 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        tasks.push(tokio::spawn(async move {
            store
                .push_offline(&owner, &sample_stanza(i), i64::from(i), quota)
                .await
        }));
    }
    let (mut stored, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => stored += 1,
            Err(StoreError::QuotaExceeded(_)) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((stored, refused), (quota, 30 - quota));
    assert_eq!(b.offline_count(&alice).await.unwrap(), quota);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takes_deliver_each_message_once() {
    let (a, b, alice, _schema) = two_pods().await;
    for i in 0..50u32 {
        a.push_offline(&alice, &sample_stanza(i), i64::from(i), 100)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..4 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = alice.clone();
        tasks.push(tokio::spawn(
            async move { store.take_offline(&owner).await },
        ));
    }
    let mut delivered = Vec::new();
    for task in tasks {
        delivered.extend(task.await.unwrap().unwrap());
    }
    let stamps: Vec<i64> = delivered.iter().map(|m| m.stamp_unix_ms).collect();
    assert_eq!(stamps, (0..50).collect::<Vec<i64>>());
    assert_eq!(a.offline_count(&alice).await.unwrap(), 0);
}

/// Past the kept window of removals, `changes_since` answers `None` for versions that would
/// need the pruned ones, and still answers exactly from versions inside the window.
#[tokio::test]
async fn removal_history_is_bounded_and_never_answers_with_gaps() {
    let (store, _schema) = fresh().await;
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    let kept = usize::try_from(super::roster::ROSTER_TOMBSTONES).unwrap();
    let contacts: Vec<String> = (0..=kept).map(|i| format!("c{i:04}@example.net")).collect();
    let mut before_removals = RosterVersion(0);
    for contact in &contacts {
        before_removals = store
            .put_entry(&alice, &RosterEntry::new(contact.as_str()))
            .await
            .unwrap();
    }
    let mut first_removal = None;
    for contact in &contacts[..kept] {
        let version = store.remove_entry(&alice, contact).await.unwrap();
        first_removal.get_or_insert(version);
    }
    let first_removal = first_removal.unwrap();
    let changes = store
        .changes_since(&alice, before_removals)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changes.removed, contacts[..kept]);
    assert!(changes.updated.is_empty());

    // One more: the oldest removal is forgotten, and with it every version before it.
    let last = store.remove_entry(&alice, &contacts[kept]).await.unwrap();
    for since in [RosterVersion(0), before_removals] {
        assert_eq!(
            store.changes_since(&alice, since).await.unwrap(),
            None,
            "{since}"
        );
    }
    let changes = store
        .changes_since(&alice, first_removal)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changes.version, last);
    assert_eq!(changes.removed, contacts[1..]);
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM roster_tombstones")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, super::roster::ROSTER_TOMBSTONES);
}

#[tokio::test]
async fn deleting_an_account_leaves_no_rows_behind() {
    let (store, _schema) = fresh().await;
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    for seed in [7, 3] {
        let entry = sample_entry(&format!("c{seed}@example.net"), seed);
        store.put_entry(&alice, &entry).await.unwrap();
    }
    store.remove_entry(&alice, "c3@example.net").await.unwrap();
    store
        .put_pending_in(&alice, "tybalt@example.org", "<presence/>")
        .await
        .unwrap();
    store
        .push_offline(&alice, "<message/>", 1, 10)
        .await
        .unwrap();

    store.delete_account(&alice).await.unwrap();
    for table in [
        "accounts",
        "scram_credentials",
        "rosters",
        "roster_items",
        "roster_groups",
        "roster_tombstones",
        "pending_subscriptions",
        "offline_messages",
    ] {
        let (rows,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
}
