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
//! Available in this crate's own tests and, for other crates, behind the `conformance`
//! feature.

pub mod accounts;

use crate::AccountStore;

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
