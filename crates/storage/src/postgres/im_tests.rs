//! What the conformance suites cannot show for the instant messaging stores on Postgres:
//! one account's roster and offline queue written through two pods at once, the bounded
//! removal history behind `changes_since`, and account deletion reaching every table. The
//! cases both backends run are in [`crate::sql::tests`].

use std::collections::BTreeSet;

use super::tests::{fresh, two_pods};
use crate::conformance::roster::sample_entry;
use crate::sql::tests as shared;
use crate::{RosterStore, StoreError};

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
    shared::concurrent_offline_pushes_never_exceed_the_quota(a, b, alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takes_deliver_each_message_once() {
    let (a, b, alice, _schema) = two_pods().await;
    shared::concurrent_takes_deliver_each_message_once(a, b, alice).await;
}

#[tokio::test]
async fn removal_history_is_bounded_and_never_answers_with_gaps() {
    let (store, _schema) = fresh().await;
    shared::removal_history_is_bounded_and_never_answers_with_gaps(store).await;
}

#[tokio::test]
async fn deleting_an_account_leaves_no_rows_behind() {
    let (store, _schema) = fresh().await;
    shared::deleting_an_account_leaves_no_rows_behind(store).await;
}
