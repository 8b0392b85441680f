//! [`OfflineStore`] cases. Each expects an empty store and panics on a violation.

use crate::conformance::accounts::both_families;
use crate::conformance::{assert_not_found, create_owner};
use crate::{AccountName, AccountStore, OfflineMessage, OfflineStore, StoreError};

/// A quota no case reaches unless it means to.
const ROOMY: usize = 1000;

/// A message stanza whose text depends on `seed`, with content that must survive as is:
/// non-ASCII text, an astral-plane character, escaped markup and an extension element.
pub fn sample_stanza(seed: u32) -> String {
    format!(
        "<message xmlns='jabber:client' from='romeo@example.net/orchard' \
         to='juliet@example.com' type='chat' id='m{seed}'>\
         <body>Nachricht {seed}: ça va? 🌹 &lt;3 &amp; more</body>\
         <thread>t{seed}</thread><x xmlns='urn:example:ext' n='{seed}'/></message>"
    )
}

fn message(seed: u32, stamp_unix_ms: i64) -> OfflineMessage {
    OfflineMessage {
        stanza_xml: sample_stanza(seed),
        stamp_unix_ms,
    }
}

async fn push(store: &dyn OfflineStore, owner: &AccountName, m: &OfflineMessage, quota: usize) {
    store
        .push_offline(owner, &m.stanza_xml, m.stamp_unix_ms, quota)
        .await
        .unwrap();
}

fn assert_quota_exceeded(err: StoreError, owner: &AccountName) {
    assert!(
        matches!(err, StoreError::QuotaExceeded(ref n) if *n == owner.to_string()),
        "expected QuotaExceeded({owner}), got {err:?}"
    );
}

/// Nothing is stored for an account, existing or not, until something is pushed.
pub async fn offline_of_unknown_or_new_account_is_empty(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let alice = create_owner(accounts, "alice").await;
    for owner in [&ghost, &alice] {
        assert_eq!(offline.offline_count(owner).await.unwrap(), 0);
        assert_eq!(offline.take_offline(owner).await.unwrap(), vec![]);
    }
}

/// Messages come back byte for byte with their stamps, in the order they were pushed, even
/// when the stamps are not in that order; stamps keep their full 64-bit range.
pub async fn offline_round_trips_in_arrival_order(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let messages = [
        message(1, 1_700_000_000_123),
        message(2, 1_600_000_000_000),
        message(3, 0),
        message(4, -1),
        message(5, i64::MAX),
        message(6, i64::MIN),
        message(7, 1_700_000_000_123),
    ];
    for (i, m) in messages.iter().enumerate() {
        push(offline, &alice, m, ROOMY).await;
        assert_eq!(offline.offline_count(&alice).await.unwrap(), i + 1);
    }
    assert_eq!(offline.take_offline(&alice).await.unwrap(), messages);
}

/// A take returns everything once: the next take and the count find nothing, and later
/// pushes start a new queue.
pub async fn offline_take_empties_the_queue(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let first = [message(1, 10), message(2, 20), message(3, 30)];
    for m in &first {
        push(offline, &alice, m, ROOMY).await;
    }
    assert_eq!(offline.take_offline(&alice).await.unwrap(), first);
    assert_eq!(offline.take_offline(&alice).await.unwrap(), vec![]);
    assert_eq!(offline.offline_count(&alice).await.unwrap(), 0);

    let later = [message(4, 40), message(5, 50)];
    for m in &later {
        push(offline, &alice, m, ROOMY).await;
    }
    assert_eq!(offline.offline_count(&alice).await.unwrap(), 2);
    assert_eq!(offline.take_offline(&alice).await.unwrap(), later);
}

/// With a quota of N, the Nth message is stored and the (N+1)th refused with QuotaExceeded
/// naming the account, storing nothing; taking the messages makes room again. The quota is
/// the caller's per push, compared with what is stored.
pub async fn offline_quota_is_exact(accounts: &dyn AccountStore, offline: &dyn OfflineStore) {
    let alice = create_owner(accounts, "alice").await;
    let quota = 3;
    let kept: Vec<OfflineMessage> = (1..=3).map(|i| message(i, i64::from(i))).collect();
    for m in &kept {
        push(offline, &alice, m, quota).await;
    }
    let refused = message(4, 4);
    for _ in 0..2 {
        let err = offline
            .push_offline(&alice, &refused.stanza_xml, refused.stamp_unix_ms, quota)
            .await
            .unwrap_err();
        assert_quota_exceeded(err, &alice);
        assert_eq!(offline.offline_count(&alice).await.unwrap(), 3);
    }
    // A smaller quota than what is stored refuses too; a larger one admits one more.
    let err = offline
        .push_offline(&alice, &refused.stanza_xml, refused.stamp_unix_ms, 1)
        .await
        .unwrap_err();
    assert_quota_exceeded(err, &alice);
    let extra = message(5, 5);
    push(offline, &alice, &extra, quota + 1).await;

    let mut expected = kept.clone();
    expected.push(extra);
    assert_eq!(offline.take_offline(&alice).await.unwrap(), expected);

    for m in &kept {
        push(offline, &alice, m, quota).await;
    }
    assert_eq!(offline.take_offline(&alice).await.unwrap(), kept);
}

/// A quota of zero means no offline storage at all.
pub async fn offline_quota_zero_refuses_everything(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let err = offline
        .push_offline(&alice, &sample_stanza(1), 1, 0)
        .await
        .unwrap_err();
    assert_quota_exceeded(err, &alice);
    assert_eq!(offline.offline_count(&alice).await.unwrap(), 0);
}

/// Pushing for an account that does not exist is NotFound naming the account and stores
/// nothing, so creating the account later finds no messages.
pub async fn offline_push_for_unknown_account_is_not_found(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let err = offline
        .push_offline(&ghost, &sample_stanza(1), 1, ROOMY)
        .await
        .unwrap_err();
    assert_not_found(err, "ghost@example.org");
    accounts
        .create_account(&ghost, &both_families(1))
        .await
        .unwrap();
    assert_eq!(offline.offline_count(&ghost).await.unwrap(), 0);
    assert_eq!(offline.take_offline(&ghost).await.unwrap(), vec![]);
}

/// Queues, counts and quotas are per account: a full queue does not block another account,
/// and a take returns only the taker's messages.
pub async fn offline_is_per_owner(accounts: &dyn AccountStore, offline: &dyn OfflineStore) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    let other_alice = AccountName::new("alice", "example.net");
    accounts
        .create_account(&other_alice, &both_families(2))
        .await
        .unwrap();

    let for_alice = [message(1, 1), message(2, 2)];
    let for_bob = [message(3, 3), message(4, 4)];
    for (a, b) in for_alice.iter().zip(&for_bob) {
        push(offline, &alice, a, 2).await;
        push(offline, &bob, b, 2).await;
    }
    let err = offline
        .push_offline(&alice, &sample_stanza(5), 5, 2)
        .await
        .unwrap_err();
    assert_quota_exceeded(err, &alice);
    push(offline, &other_alice, &message(6, 6), 1).await;

    assert_eq!(offline.offline_count(&alice).await.unwrap(), 2);
    assert_eq!(offline.offline_count(&bob).await.unwrap(), 2);
    assert_eq!(offline.take_offline(&alice).await.unwrap(), for_alice);
    assert_eq!(offline.offline_count(&bob).await.unwrap(), 2);
    assert_eq!(offline.take_offline(&bob).await.unwrap(), for_bob);
    assert_eq!(
        offline.take_offline(&other_alice).await.unwrap(),
        [message(6, 6)]
    );
}

/// Deleting the account deletes its messages, and only its own.
pub async fn offline_is_deleted_with_account(
    accounts: &dyn AccountStore,
    offline: &dyn OfflineStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    push(offline, &alice, &message(1, 1), ROOMY).await;
    push(offline, &alice, &message(2, 2), ROOMY).await;
    push(offline, &bob, &message(3, 3), ROOMY).await;

    accounts.delete_account(&alice).await.unwrap();
    assert_eq!(offline.offline_count(&alice).await.unwrap(), 0);
    accounts
        .create_account(&alice, &both_families(4))
        .await
        .unwrap();
    assert_eq!(offline.offline_count(&alice).await.unwrap(), 0);
    assert_eq!(offline.take_offline(&alice).await.unwrap(), vec![]);
    assert_eq!(offline.take_offline(&bob).await.unwrap(), [message(3, 3)]);
}
