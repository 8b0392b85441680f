//! The copy is served while it is exact, and forgotten on every write through the wrapper.

use std::sync::Arc;

use storage::conformance::create_owner;
use storage::{AccountName, RosterEntry, RosterStore, SqliteStore};

use super::CachedRosters;

fn juliet() -> AccountName {
    AccountName::new("juliet", "example.org")
}

fn both(contact: &str) -> RosterEntry {
    RosterEntry {
        to: true,
        from: true,
        ..RosterEntry::new(contact)
    }
}

async fn setup() -> (Arc<SqliteStore>, CachedRosters) {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    create_owner(store.as_ref(), "juliet").await;
    store
        .put_entry(&juliet(), &both("romeo@example.org"))
        .await
        .unwrap();
    let cached = CachedRosters::new(store.clone());
    (store, cached)
}

fn contacts(roster: &super::Roster) -> Vec<&str> {
    roster.contacts().iter().map(|c| c.jid.as_str()).collect()
}

#[tokio::test]
async fn an_online_roster_is_read_once_and_then_served_from_memory() {
    let (store, cached) = setup().await;
    let first = cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(contacts(&first), ["romeo@example.org"]);
    let romeo = first.contact("romeo@example.org").unwrap();
    assert!(romeo.from && romeo.to);
    assert!(first.contact("nurse@example.org").is_none());
    // A write that bypasses the wrapper is not seen: the copy is what gets served.
    store
        .put_entry(&juliet(), &both("nurse@example.org"))
        .await
        .unwrap();
    let second = cached.roster_of_online(&juliet()).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(contacts(&second), ["romeo@example.org"]);
    // Reads through the store interface see the store.
    assert_eq!(cached.count(&juliet()).await.unwrap(), 2);
}

#[tokio::test]
async fn every_write_through_the_wrapper_forgets_the_copy() {
    let (_store, cached) = setup().await;
    cached.roster_of_online(&juliet()).await.unwrap();
    cached
        .put_entry(&juliet(), &both("nurse@example.org"))
        .await
        .unwrap();
    assert!(cached.held(&juliet()).is_none());
    let roster = cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(
        contacts(&roster),
        ["nurse@example.org", "romeo@example.org"]
    );

    cached
        .remove_entry(&juliet(), "romeo@example.org")
        .await
        .unwrap();
    assert!(cached.held(&juliet()).is_none());
    let roster = cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(contacts(&roster), ["nurse@example.org"]);
    assert!(roster.contact("romeo@example.org").is_none());
}

#[tokio::test]
async fn a_failed_write_forgets_the_copy_too() {
    let (_store, cached) = setup().await;
    cached.roster_of_online(&juliet()).await.unwrap();
    // No such item: the store refuses the removal.
    assert!(
        cached
            .remove_entry(&juliet(), "nobody@example.org")
            .await
            .is_err()
    );
    assert!(cached.held(&juliet()).is_none());
}

#[tokio::test]
async fn forget_drops_the_copy() {
    let (store, cached) = setup().await;
    cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(cached.len(), 1);
    cached.forget(&juliet());
    assert!(cached.is_empty());
    store
        .put_entry(&juliet(), &both("nurse@example.org"))
        .await
        .unwrap();
    // Read again from the store once asked for.
    let roster = cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(
        contacts(&roster),
        ["nurse@example.org", "romeo@example.org"]
    );
}

#[tokio::test]
async fn a_stored_contact_that_is_not_a_jid_is_left_out() {
    let (store, cached) = setup().await;
    store.put_entry(&juliet(), &both("@bad")).await.unwrap();
    let roster = cached.roster_of_online(&juliet()).await.unwrap();
    assert_eq!(contacts(&roster), ["romeo@example.org"]);
}

#[tokio::test]
async fn a_contact_in_several_held_rosters_is_stored_once() {
    let (store, cached) = setup().await;
    create_owner(store.as_ref(), "nurse").await;
    let nurse = AccountName::new("nurse", "example.org");
    store
        .put_entry(&nurse, &both("romeo@example.org"))
        .await
        .unwrap();
    let of_juliet = cached.roster_of_online(&juliet()).await.unwrap();
    let of_nurse = cached.roster_of_online(&nurse).await.unwrap();
    let (a, b) = (&of_juliet.contacts()[0].jid, &of_nurse.contacts()[0].jid);
    assert_eq!(a.as_str(), "romeo@example.org");
    assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
    assert_eq!(a.holders(), 3, "two rosters and the pool");
}
