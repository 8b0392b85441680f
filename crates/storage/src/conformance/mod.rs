//! The test suite every store implementation must pass, written once against the traits.
//!
//! Each case is an `async fn` taking a fresh, empty store, so that a new backend gets the
//! whole suite by invoking one macro in its tests:
//!
//! ```ignore
//! storage::account_store_tests!(MyStore::connect_fresh().await.unwrap());
//! ```
//!
//! The macro expands to one `#[tokio::test]` per case, evaluating the constructor expression
//! anew inside each test (it may `.await`). It must yield a [`StoreFixture`] around a store
//! with no accounts in it: either the store itself, or a `(store, guard)` pair whose guard
//! (a temporary directory, a throwaway database) has to outlive the test. The invoking crate
//! needs `tokio` (with `macros` and `rt`) among its dev-dependencies.
//!
//! The instant messaging stores have one macro each, used the same way:
//! [`roster_store_tests!`](crate::roster_store_tests),
//! [`pending_store_tests!`](crate::pending_store_tests) and
//! [`offline_store_tests!`](crate::offline_store_tests). Their cases need accounts to own the
//! data (and check that deleting one deletes the data), so the fixture must also implement
//! [`RosterFixture`], [`PendingFixture`] or [`OfflineFixture`]: a store implementing both
//! traits, or such a pair, does. Their test names start with the module's name, so all four
//! macros can be invoked in one module.
//!
//! Available in this crate's own tests and, for other crates, behind the `conformance`
//! feature.

pub mod accounts;
pub mod offline;
pub mod pending;
pub mod roster;

use xmpp_core::sasl::ScramHash;

use crate::{
    AccountName, AccountStore, OfflineStore, PendingSubscriptionStore, RosterStore, StoreError,
};

/// What the test macros accept from a constructor: something that holds a store.
pub trait StoreFixture {
    /// The store under test.
    fn store(&self) -> &dyn AccountStore;
}

impl<S: AccountStore> StoreFixture for S {
    fn store(&self) -> &dyn AccountStore {
        self
    }
}

/// A store with a guard that must live as long as the store is used, for example the
/// temporary directory of a file-backed store.
impl<S: AccountStore, G> StoreFixture for (S, G) {
    fn store(&self) -> &dyn AccountStore {
        &self.0
    }
}

/// What [`roster_store_tests!`](crate::roster_store_tests) needs from a constructor besides a
/// [`StoreFixture`].
pub trait RosterFixture {
    /// The roster store under test, sharing accounts with [`StoreFixture::store`].
    fn roster(&self) -> &dyn RosterStore;
}

impl<S: RosterStore> RosterFixture for S {
    fn roster(&self) -> &dyn RosterStore {
        self
    }
}

impl<S: RosterStore, G> RosterFixture for (S, G) {
    fn roster(&self) -> &dyn RosterStore {
        &self.0
    }
}

/// What [`pending_store_tests!`](crate::pending_store_tests) needs from a constructor besides a
/// [`StoreFixture`].
pub trait PendingFixture {
    /// The pending subscription store under test, sharing accounts with
    /// [`StoreFixture::store`].
    fn pending(&self) -> &dyn PendingSubscriptionStore;
}

impl<S: PendingSubscriptionStore> PendingFixture for S {
    fn pending(&self) -> &dyn PendingSubscriptionStore {
        self
    }
}

impl<S: PendingSubscriptionStore, G> PendingFixture for (S, G) {
    fn pending(&self) -> &dyn PendingSubscriptionStore {
        &self.0
    }
}

/// What [`offline_store_tests!`](crate::offline_store_tests) needs from a constructor besides a
/// [`StoreFixture`].
pub trait OfflineFixture {
    /// The offline message store under test, sharing accounts with [`StoreFixture::store`].
    fn offline(&self) -> &dyn OfflineStore;
}

impl<S: OfflineStore> OfflineFixture for S {
    fn offline(&self) -> &dyn OfflineStore {
        self
    }
}

impl<S: OfflineStore, G> OfflineFixture for (S, G) {
    fn offline(&self) -> &dyn OfflineStore {
        &self.0
    }
}

/// Creates the account `localpart@example.org` for a case to store data under.
pub async fn create_owner(accounts: &dyn AccountStore, localpart: &str) -> AccountName {
    let name = AccountName::new(localpart, "example.org");
    accounts
        .create_account(&name, &[accounts::sample_credentials(ScramHash::Sha256, 1)])
        .await
        .unwrap();
    name
}

/// Asserts that `err` is [`StoreError::NotFound`] naming `what` (an account or a contact).
pub fn assert_not_found(err: StoreError, what: &str) {
    assert!(
        matches!(err, StoreError::NotFound(ref n) if n == what),
        "expected NotFound({what}), got {err:?}"
    );
}

/// Expands to one `#[tokio::test]` per [`accounts`] case, each run against the store that
/// `$make` (evaluated in an async context, once per test) produces.
#[macro_export]
macro_rules! account_store_tests {
    ($make:expr) => {
        $crate::account_store_tests!(@cases $make;
            create_then_credentials_round_trip,
            create_twice_is_already_exists,
            create_requires_credentials,
            create_rejects_duplicate_family,
            credentials_of_unknown_account_is_none,
            credentials_of_family_not_stored_is_none,
            set_credentials_replaces_all_families,
            set_credentials_of_unknown_account_is_not_found,
            delete_removes_account_and_credentials,
            account_exists_follows_create_and_delete,
            list_is_sorted_and_filtered_by_domain,
            same_localpart_in_two_domains_is_two_accounts,
            names_are_exact_strings,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $make;
                $crate::conformance::accounts::$case(
                    $crate::conformance::StoreFixture::store(&fixture),
                )
                .await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per [`roster`] case, each run against the store that
/// `$make` (evaluated in an async context, once per test) produces; it must implement
/// [`StoreFixture`] and [`RosterFixture`].
#[macro_export]
macro_rules! roster_store_tests {
    ($make:expr) => {
        $crate::roster_store_tests!(@cases $make;
            roster_of_unknown_or_new_account_is_empty,
            roster_entry_round_trips_every_field,
            roster_put_replaces_every_field,
            roster_is_sorted_by_contact_bytes,
            roster_contacts_are_exact_strings,
            roster_version_bumps_on_writes_only,
            roster_remove_deletes_the_entry,
            roster_remove_unknown_is_not_found,
            roster_put_for_unknown_account_is_not_found,
            roster_changes_since_reports_exactly_what_changed,
            roster_changes_since_unknown_version_is_none,
            roster_count_follows_puts_and_removes,
            roster_is_per_owner,
            roster_is_deleted_with_account,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $make;
                $crate::conformance::roster::$case(
                    $crate::conformance::StoreFixture::store(&fixture),
                    $crate::conformance::RosterFixture::roster(&fixture),
                )
                .await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per [`pending`] case, each run against the store that
/// `$make` (evaluated in an async context, once per test) produces; it must implement
/// [`StoreFixture`] and [`PendingFixture`].
#[macro_export]
macro_rules! pending_store_tests {
    ($make:expr) => {
        $crate::pending_store_tests!(@cases $make;
            pending_of_unknown_or_new_account_is_empty,
            pending_round_trips_sorted_by_contact,
            pending_put_replaces_older_request,
            pending_remove_forgets_and_absent_is_fine,
            pending_put_for_unknown_account_is_not_found,
            pending_is_per_owner,
            pending_is_deleted_with_account,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $make;
                $crate::conformance::pending::$case(
                    $crate::conformance::StoreFixture::store(&fixture),
                    $crate::conformance::PendingFixture::pending(&fixture),
                )
                .await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per [`offline`] case, each run against the store that
/// `$make` (evaluated in an async context, once per test) produces; it must implement
/// [`StoreFixture`] and [`OfflineFixture`].
#[macro_export]
macro_rules! offline_store_tests {
    ($make:expr) => {
        $crate::offline_store_tests!(@cases $make;
            offline_of_unknown_or_new_account_is_empty,
            offline_round_trips_in_arrival_order,
            offline_take_empties_the_queue,
            offline_quota_is_exact,
            offline_quota_zero_refuses_everything,
            offline_push_for_unknown_account_is_not_found,
            offline_is_per_owner,
            offline_is_deleted_with_account,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $make;
                $crate::conformance::offline::$case(
                    $crate::conformance::StoreFixture::store(&fixture),
                    $crate::conformance::OfflineFixture::offline(&fixture),
                )
                .await;
            }
        )*
    };
}
