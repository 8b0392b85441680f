//! [`AccountStore`] cases. Each expects an empty store and panics on a violation.

use xmpp_core::sasl::{ScramCredentials, ScramHash};

use crate::conformance::assert_not_found;
use crate::{AccountName, AccountStore, StoreError};

/// Credentials whose every byte depends on `seed`, so that a mix-up between accounts or
/// families shows. The bytes include 0x00 and 0xFF, and the lengths differ per family, to
/// catch a backend that treats them as text or pads them.
pub fn sample_credentials(hash: ScramHash, seed: u8) -> ScramCredentials {
    let len = hash.output_len();
    let bytes = |tag: u8| -> Vec<u8> {
        let mut v: Vec<u8> = (0..len)
            .map(|i| {
                seed.wrapping_mul(31)
                    .wrapping_add(tag)
                    .wrapping_add(i as u8)
            })
            .collect();
        v[0] = 0x00;
        v[len - 1] = 0xff;
        v
    };
    ScramCredentials {
        hash,
        salt: bytes(1)[..16].to_vec(),
        iterations: 4096 + u32::from(seed),
        stored_key: bytes(2),
        server_key: bytes(3),
    }
}

/// Credentials for both families, SHA-256 first.
pub fn both_families(seed: u8) -> Vec<ScramCredentials> {
    ScramHash::ALL
        .iter()
        .map(|&hash| sample_credentials(hash, seed))
        .collect()
}

fn name(localpart: &str, domain: &str) -> AccountName {
    AccountName::new(localpart, domain)
}

/// Every family stored comes back byte for byte, including an iteration count above
/// `i32::MAX` (a signed 32-bit column would lose it).
pub async fn create_then_credentials_round_trip(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    let mut creds = both_families(7);
    creds[1].iterations = u32::MAX;
    store.create_account(&alice, &creds).await.unwrap();
    for expected in &creds {
        let got = store.credentials(&alice, expected.hash).await.unwrap();
        let got = got.unwrap_or_else(|| panic!("{} credentials missing", expected.hash.as_str()));
        assert_eq!(got.hash, expected.hash);
        assert_eq!(got.salt, expected.salt);
        assert_eq!(got.iterations, expected.iterations);
        assert_eq!(got.stored_key, expected.stored_key);
        assert_eq!(got.server_key, expected.server_key);
    }
}

/// A second create of the same name fails and leaves the first account's keys alone.
pub async fn create_twice_is_already_exists(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    let first = both_families(1);
    store.create_account(&alice, &first).await.unwrap();
    let err = store
        .create_account(&alice, &both_families(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(ref n) if n == "alice@example.org"),
        "{err:?}"
    );
    for expected in &first {
        let got = store.credentials(&alice, expected.hash).await.unwrap();
        assert_eq!(got.as_ref(), Some(expected));
    }
}

/// An account without any credentials could never log in; it is refused and not created.
pub async fn create_requires_credentials(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    let err = store.create_account(&alice, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert!(!store.account_exists(&alice).await.unwrap());
}

/// Two credentials of one family are ambiguous; refused, and not reported as a duplicate
/// account.
pub async fn create_rejects_duplicate_family(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    let creds = [
        sample_credentials(ScramHash::Sha256, 1),
        sample_credentials(ScramHash::Sha256, 2),
    ];
    let err = store.create_account(&alice, &creds).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert!(!store.account_exists(&alice).await.unwrap());
}

/// An unknown account has no credentials, and that is not an error.
pub async fn credentials_of_unknown_account_is_none(store: &dyn AccountStore) {
    let ghost = name("ghost", "example.org");
    for hash in ScramHash::ALL {
        assert_eq!(store.credentials(&ghost, hash).await.unwrap(), None);
    }
}

/// An account created with one family has no credentials of the other.
pub async fn credentials_of_family_not_stored_is_none(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    let only = sample_credentials(ScramHash::Sha256, 3);
    store
        .create_account(&alice, std::slice::from_ref(&only))
        .await
        .unwrap();
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        Some(only)
    );
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha1).await.unwrap(),
        None
    );
}

/// A password change replaces every family: given ones are new, omitted ones are gone.
pub async fn set_credentials_replaces_all_families(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    store
        .create_account(&alice, &both_families(4))
        .await
        .unwrap();
    let new = sample_credentials(ScramHash::Sha256, 5);
    store
        .set_credentials(&alice, std::slice::from_ref(&new))
        .await
        .unwrap();
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        Some(new)
    );
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha1).await.unwrap(),
        None
    );

    // And back to both, with fresh keys.
    let both = both_families(6);
    store.set_credentials(&alice, &both).await.unwrap();
    for expected in &both {
        let got = store.credentials(&alice, expected.hash).await.unwrap();
        assert_eq!(got.as_ref(), Some(expected));
    }
}

/// Changing the password of an unknown account fails and does not create it.
pub async fn set_credentials_of_unknown_account_is_not_found(store: &dyn AccountStore) {
    let ghost = name("ghost", "example.org");
    let err = store
        .set_credentials(&ghost, &both_families(1))
        .await
        .unwrap_err();
    assert_not_found(err, "ghost@example.org");
    assert!(!store.account_exists(&ghost).await.unwrap());
    for hash in ScramHash::ALL {
        assert_eq!(store.credentials(&ghost, hash).await.unwrap(), None);
    }
}

/// Deleting removes the credentials too, so that re-creating the name does not resurrect the
/// old password; deleting again is NotFound.
pub async fn delete_removes_account_and_credentials(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    store
        .create_account(&alice, &both_families(8))
        .await
        .unwrap();
    store.delete_account(&alice).await.unwrap();
    assert!(!store.account_exists(&alice).await.unwrap());
    for hash in ScramHash::ALL {
        assert_eq!(store.credentials(&alice, hash).await.unwrap(), None);
    }
    let err = store.delete_account(&alice).await.unwrap_err();
    assert_not_found(err, "alice@example.org");

    let new = sample_credentials(ScramHash::Sha1, 9);
    store
        .create_account(&alice, std::slice::from_ref(&new))
        .await
        .unwrap();
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha1).await.unwrap(),
        Some(new)
    );
    assert_eq!(
        store.credentials(&alice, ScramHash::Sha256).await.unwrap(),
        None
    );
}

/// Existence follows create and delete, and only the exact name exists.
pub async fn account_exists_follows_create_and_delete(store: &dyn AccountStore) {
    let alice = name("alice", "example.org");
    assert!(!store.account_exists(&alice).await.unwrap());
    store
        .create_account(&alice, &both_families(1))
        .await
        .unwrap();
    assert!(store.account_exists(&alice).await.unwrap());
    assert!(
        !store
            .account_exists(&name("alice", "example.net"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .account_exists(&name("bob", "example.org"))
            .await
            .unwrap()
    );
    store.delete_account(&alice).await.unwrap();
    assert!(!store.account_exists(&alice).await.unwrap());
}

/// Listing is sorted by `AccountName`'s order (bytes, not a locale collation: `a-c` sorts
/// before `ab`, `Zed` before `alice`), and the domain filter is an exact match.
pub async fn list_is_sorted_and_filtered_by_domain(store: &dyn AccountStore) {
    assert_eq!(store.list_accounts(None).await.unwrap(), vec![]);

    let names = [
        name("zoe", "b.example"),
        name("alice", "b.example"),
        name("ab", "a.example"),
        name("a-c", "a.example"),
        name("Zed", "a.example"),
        name("alice", "a.example"),
        name("bob", "sub.a.example"),
    ];
    for (i, n) in names.iter().enumerate() {
        store
            .create_account(n, &both_families(i as u8))
            .await
            .unwrap();
    }

    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(store.list_accounts(None).await.unwrap(), expected);

    let a: Vec<AccountName> = expected
        .iter()
        .filter(|n| n.domain == "a.example")
        .cloned()
        .collect();
    assert_eq!(a.len(), 4);
    assert_eq!(store.list_accounts(Some("a.example")).await.unwrap(), a);

    let b = vec![name("alice", "b.example"), name("zoe", "b.example")];
    assert_eq!(store.list_accounts(Some("b.example")).await.unwrap(), b);

    assert_eq!(store.list_accounts(Some("example")).await.unwrap(), vec![]);
    assert_eq!(
        store.list_accounts(Some("c.example")).await.unwrap(),
        vec![]
    );
}

/// `alice@a` and `alice@b` are separate accounts: separate keys, separate lifetimes.
pub async fn same_localpart_in_two_domains_is_two_accounts(store: &dyn AccountStore) {
    let at_a = name("alice", "a.example");
    let at_b = name("alice", "b.example");
    let creds_a = both_families(10);
    let creds_b = both_families(20);
    store.create_account(&at_a, &creds_a).await.unwrap();
    store.create_account(&at_b, &creds_b).await.unwrap();
    for (a, b) in creds_a.iter().zip(&creds_b) {
        assert_eq!(
            store.credentials(&at_a, a.hash).await.unwrap().as_ref(),
            Some(a)
        );
        assert_eq!(
            store.credentials(&at_b, b.hash).await.unwrap().as_ref(),
            Some(b)
        );
    }

    let new_a = sample_credentials(ScramHash::Sha256, 30);
    store
        .set_credentials(&at_a, std::slice::from_ref(&new_a))
        .await
        .unwrap();
    for b in &creds_b {
        assert_eq!(
            store.credentials(&at_b, b.hash).await.unwrap().as_ref(),
            Some(b)
        );
    }

    store.delete_account(&at_a).await.unwrap();
    assert!(store.account_exists(&at_b).await.unwrap());
    for b in &creds_b {
        assert_eq!(
            store.credentials(&at_b, b.hash).await.unwrap().as_ref(),
            Some(b)
        );
    }
}

/// The store does no normalization of its own: names differing only in case, or in
/// characters a case-insensitive or accent-insensitive collation would fold, are distinct.
pub async fn names_are_exact_strings(store: &dyn AccountStore) {
    let lower = name("alice", "example.org");
    let upper = name("Alice", "example.org");
    let accented = name("alicé", "example.org");
    let upper_domain = name("alice", "EXAMPLE.org");
    store
        .create_account(&lower, &both_families(1))
        .await
        .unwrap();
    for other in [&upper, &accented, &upper_domain] {
        assert!(!store.account_exists(other).await.unwrap(), "{other}");
        store
            .create_account(other, &both_families(2))
            .await
            .unwrap();
    }
    assert_eq!(store.list_accounts(None).await.unwrap().len(), 4);
    assert_eq!(
        store
            .list_accounts(Some("example.org"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.credentials(&lower, ScramHash::Sha256).await.unwrap(),
        Some(sample_credentials(ScramHash::Sha256, 1))
    );
}
