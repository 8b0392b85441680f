//! Cases both SQL backends run beyond the conformance suites: concurrent writers of one
//! account's offline queue through two handles (two processes on one SQLite file, two pods on
//! one Postgres database), the bounded removal history behind `changes_since`, and account
//! deletion reaching every table. Each backend's `im_tests` runs them on its own stores,
//! with the runtime its concurrency needs.

use crate::conformance::accounts::both_families;
use crate::conformance::offline::sample_stanza;
use crate::conformance::roster::sample_entry;
use crate::sql::roster::ROSTER_TOMBSTONES;
use crate::{
    AccountName, AccountStore, OfflineStore, PendingSubscriptionStore, PgStore, RosterEntry,
    RosterStore, RosterVersion, SqliteStore, StoreError,
};

/// A store of either backend as these cases use it: every store trait, clones for spawned
/// tasks, and a look at the tables underneath.
pub(crate) trait TestStore:
    AccountStore + RosterStore + PendingSubscriptionStore + OfflineStore + Clone
{
    /// How many rows `table` holds.
    async fn rows(&self, table: &str) -> i64;
}

macro_rules! test_store {
    ($($store:ty),*) => {$(
        impl TestStore for $store {
            async fn rows(&self, table: &str) -> i64 {
                let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
                let (rows,): (i64,) = sqlx::query_as(count).fetch_one(self.pool()).await.unwrap();
                rows
            }
        }
    )*};
}

test_store!(SqliteStore, PgStore);

/// Pushes to `alice`'s queue through handles `a` and `b` at once never take it past the
/// quota: exactly `quota` are stored, the rest refused.
pub(crate) async fn concurrent_offline_pushes_never_exceed_the_quota<S: TestStore>(
    a: S,
    b: S,
    alice: AccountName,
) {
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

/// Takes of `alice`'s queue through handles `a` and `b` at once deliver every message exactly
/// once, in arrival order.
pub(crate) async fn concurrent_takes_deliver_each_message_once<S: TestStore>(
    a: S,
    b: S,
    alice: AccountName,
) {
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
pub(crate) async fn removal_history_is_bounded_and_never_answers_with_gaps(store: impl TestStore) {
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    let kept = usize::try_from(ROSTER_TOMBSTONES).unwrap();
    let contacts: Vec<String> = (0..=kept).map(|i| format!("c{i:04}@example.net")).collect();
    let mut before_removals = RosterVersion(0);
    for contact in &contacts {
        before_removals = store
            .put_entry(&alice, &RosterEntry::new(contact.as_str()))
            .await
            .unwrap();
    }

    let mut removal_versions = Vec::new();
    for contact in &contacts[..kept] {
        removal_versions.push(store.remove_entry(&alice, contact).await.unwrap());
    }
    // Exactly `kept` removals: all still known.
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
        .changes_since(&alice, removal_versions[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changes.version, last);
    assert_eq!(changes.removed, contacts[1..]);
    assert_eq!(store.rows("roster_tombstones").await, ROSTER_TOMBSTONES);
}

/// Deleting an account deletes its row, its credentials, and its roster (items, groups,
/// removals), pending requests and offline messages.
pub(crate) async fn deleting_an_account_leaves_no_rows_behind(store: impl TestStore) {
    let alice = AccountName::new("alice", "example.org");
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    store
        .put_entry(&alice, &sample_entry("romeo@example.net", 7))
        .await
        .unwrap();
    store
        .put_entry(&alice, &sample_entry("tybalt@example.org", 3))
        .await
        .unwrap();
    store
        .remove_entry(&alice, "tybalt@example.org")
        .await
        .unwrap();
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
        assert_eq!(store.rows(table).await, 0, "{table}");
    }
}
