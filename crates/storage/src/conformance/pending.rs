//! [`PendingSubscriptionStore`] cases. Each expects an empty store and panics on a violation.

use crate::conformance::accounts::both_families;
use crate::conformance::{assert_not_found, create_owner};
use crate::{AccountName, AccountStore, PendingSubscriptionStore};

/// A subscription request from `from`, with a status text and extended content that must be
/// kept (RFC 6121 §3.1.3 rule 4: "the complete presence stanza").
pub fn sample_request(from: &str, status: &str) -> String {
    format!(
        "<presence xmlns='jabber:client' from='{from}' to='juliet@example.com' \
         type='subscribe' id='s1'><status>{status}</status>\
         <nick xmlns='http://jabber.org/protocol/nick'>Ромео 🌹</nick></presence>"
    )
}

fn pair(contact: &str, status: &str) -> (String, String) {
    (contact.to_owned(), sample_request(contact, status))
}

async fn put(store: &dyn PendingSubscriptionStore, owner: &AccountName, p: &(String, String)) {
    store.put_pending_in(owner, &p.0, &p.1).await.unwrap();
}

/// No account, existing or not, has requests until one is stored.
pub async fn pending_of_unknown_or_new_account_is_empty(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let alice = create_owner(accounts, "alice").await;
    for owner in [&ghost, &alice] {
        assert_eq!(pending.pending_in(owner).await.unwrap(), vec![]);
    }
}

/// Requests come back byte for byte, sorted by contact as bytes (`Zed` before `a-c` before
/// `ab` before `élise`), whatever order they were stored in.
pub async fn pending_round_trips_sorted_by_contact(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let requests = [
        pair("zoe@b.example", "hi & <bye>"),
        pair("élise@a.example", "Bonjour, c'est Élise"),
        pair("ab@a.example", ""),
        pair("Zed@a.example", "Zed here"),
        pair("a-c@a.example", "我想加你为好友"),
    ];
    for p in &requests {
        put(pending, &alice, p).await;
    }
    let mut expected = requests.to_vec();
    expected.sort();
    assert_eq!(expected[0].0, "Zed@a.example");
    assert_eq!(pending.pending_in(&alice).await.unwrap(), expected);
}

/// Only one request per contact is kept: a newer one replaces the older (RFC 6121 §3.1.3
/// rule 4). Contacts differing in case are different contacts.
pub async fn pending_put_replaces_older_request(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let alice = create_owner(accounts, "alice").await;
    put(pending, &alice, &pair("romeo@example.net", "first")).await;
    put(pending, &alice, &pair("Romeo@example.net", "other")).await;
    put(pending, &alice, &pair("romeo@example.net", "second")).await;
    assert_eq!(
        pending.pending_in(&alice).await.unwrap(),
        vec![
            pair("Romeo@example.net", "other"),
            pair("romeo@example.net", "second"),
        ]
    );
}

/// Removing forgets exactly one contact's request; removing one that is absent, or for an
/// account that does not exist, succeeds and changes nothing.
pub async fn pending_remove_forgets_and_absent_is_fine(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let romeo = pair("romeo@example.net", "r");
    let tybalt = pair("tybalt@example.org", "t");
    put(pending, &alice, &romeo).await;
    put(pending, &alice, &tybalt).await;

    pending.remove_pending_in(&alice, &romeo.0).await.unwrap();
    assert_eq!(
        pending.pending_in(&alice).await.unwrap(),
        vec![tybalt.clone()]
    );
    pending.remove_pending_in(&alice, &romeo.0).await.unwrap();
    pending
        .remove_pending_in(&alice, "nobody@example.net")
        .await
        .unwrap();
    pending
        .remove_pending_in(&AccountName::new("ghost", "example.org"), &tybalt.0)
        .await
        .unwrap();
    assert_eq!(pending.pending_in(&alice).await.unwrap(), vec![tybalt]);

    // A request stored again after removal is pending again.
    put(pending, &alice, &romeo).await;
    assert_eq!(pending.pending_in(&alice).await.unwrap().len(), 2);
}

/// Storing a request for an account that does not exist is NotFound naming the account and
/// stores nothing, so creating the account later finds no requests.
pub async fn pending_put_for_unknown_account_is_not_found(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let request = pair("romeo@example.net", "hello");
    let err = pending
        .put_pending_in(&ghost, &request.0, &request.1)
        .await
        .unwrap_err();
    assert_not_found(err, "ghost@example.org");
    accounts
        .create_account(&ghost, &both_families(1))
        .await
        .unwrap();
    assert_eq!(pending.pending_in(&ghost).await.unwrap(), vec![]);
}

/// Two accounts with a request from the same contact (and two accounts with the same
/// localpart) keep separate requests: replacing or removing one leaves the other.
pub async fn pending_is_per_owner(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    let other_alice = AccountName::new("alice", "example.net");
    accounts
        .create_account(&other_alice, &both_families(2))
        .await
        .unwrap();
    let to_alice = pair("carol@example.com", "for Alice");
    let to_bob = pair("carol@example.com", "for Bob");
    put(pending, &alice, &to_alice).await;
    put(pending, &bob, &to_bob).await;

    assert_eq!(pending.pending_in(&alice).await.unwrap(), vec![to_alice]);
    assert_eq!(
        pending.pending_in(&bob).await.unwrap(),
        vec![to_bob.clone()]
    );
    assert_eq!(pending.pending_in(&other_alice).await.unwrap(), vec![]);

    let again = pair("carol@example.com", "for Alice, again");
    put(pending, &alice, &again).await;
    assert_eq!(
        pending.pending_in(&bob).await.unwrap(),
        vec![to_bob.clone()]
    );
    pending
        .remove_pending_in(&alice, "carol@example.com")
        .await
        .unwrap();
    assert_eq!(pending.pending_in(&alice).await.unwrap(), vec![]);
    assert_eq!(pending.pending_in(&bob).await.unwrap(), vec![to_bob]);
}

/// Deleting the account deletes its requests, and only its own.
pub async fn pending_is_deleted_with_account(
    accounts: &dyn AccountStore,
    pending: &dyn PendingSubscriptionStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    put(pending, &alice, &pair("romeo@example.net", "r")).await;
    put(pending, &alice, &pair("tybalt@example.org", "t")).await;
    put(pending, &bob, &pair("romeo@example.net", "r")).await;

    accounts.delete_account(&alice).await.unwrap();
    assert_eq!(pending.pending_in(&alice).await.unwrap(), vec![]);
    accounts
        .create_account(&alice, &both_families(3))
        .await
        .unwrap();
    assert_eq!(pending.pending_in(&alice).await.unwrap(), vec![]);
    assert_eq!(
        pending.pending_in(&bob).await.unwrap(),
        vec![pair("romeo@example.net", "r")]
    );
}
