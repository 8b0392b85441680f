//! [`RosterStore`] cases. Each expects an empty store and panics on a violation.

use crate::conformance::accounts::both_families;
use crate::conformance::{assert_not_found, create_owner};
use crate::{AccountName, AccountStore, RosterChanges, RosterEntry, RosterStore, RosterVersion};

/// An entry whose fields all depend on `seed`: each of the five flags takes both values across
/// seeds 0..32, the name is absent for some, and the group lists differ in length.
pub fn sample_entry(contact: &str, seed: u8) -> RosterEntry {
    let bit = |n: u8| seed & (1 << n) != 0;
    RosterEntry {
        contact: contact.to_owned(),
        name: (!seed.is_multiple_of(3)).then(|| format!("Contact {seed}")),
        groups: (0..seed % 4).map(|g| format!("Group {seed}.{g}")).collect(),
        to: bit(0),
        from: bit(1),
        pending_out: bit(2),
        pending_in: bit(3),
        pre_approved: bit(4),
    }
}

/// The entry most likely to be mangled: non-Latin and astral-plane characters, characters
/// XML would escape, and groups in an order that is neither sorted nor reverse sorted.
pub fn unicode_entry() -> RosterEntry {
    RosterEntry {
        contact: "джульетта@пример.рф".to_owned(),
        name: Some("Джульетта 🌹 <&\"'>".to_owned()),
        groups: vec![
            "Zeta".to_owned(),
            "Alpha".to_owned(),
            "家族".to_owned(),
            "Друзья 🎭".to_owned(),
            "a & <b>".to_owned(),
            "Mid".to_owned(),
        ],
        to: true,
        from: false,
        pending_out: true,
        pending_in: false,
        pre_approved: true,
    }
}

fn sorted(mut entries: Vec<RosterEntry>) -> Vec<RosterEntry> {
    entries.sort_by(|a, b| a.contact.cmp(&b.contact));
    entries
}

async fn put_all(
    roster: &dyn RosterStore,
    owner: &AccountName,
    entries: &[RosterEntry],
) -> RosterVersion {
    let mut version = RosterVersion(0);
    for entry in entries {
        version = roster.put_entry(owner, entry).await.unwrap();
    }
    version
}

/// A roster never written, of an existing account or not, is empty at version 0, and its
/// (empty) history since version 0 is known.
pub async fn roster_of_unknown_or_new_account_is_empty(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let alice = create_owner(accounts, "alice").await;
    for owner in [&ghost, &alice] {
        assert_eq!(
            roster.roster(owner).await.unwrap(),
            (RosterVersion(0), vec![])
        );
        assert_eq!(
            roster.entry(owner, "romeo@example.net").await.unwrap(),
            None
        );
        assert_eq!(roster.count(owner).await.unwrap(), 0);
        assert_eq!(
            roster.changes_since(owner, RosterVersion(0)).await.unwrap(),
            Some(RosterChanges::default())
        );
    }
}

/// Every field comes back as written, through both `entry` and `roster`: all combinations
/// of the five flags, absent and present names, no group and several, group order, and text
/// beyond ASCII.
pub async fn roster_entry_round_trips_every_field(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let mut entries: Vec<RosterEntry> = (0..32u8)
        .map(|seed| sample_entry(&format!("contact{seed:02}@example.net"), seed))
        .collect();
    entries.push(unicode_entry());
    put_all(roster, &alice, &entries).await;

    for expected in &entries {
        let got = roster.entry(&alice, &expected.contact).await.unwrap();
        assert_eq!(got.as_ref(), Some(expected));
    }
    let (_, all) = roster.roster(&alice).await.unwrap();
    assert_eq!(all, sorted(entries));
}

/// A put for a contact already present replaces the whole item: groups are replaced, not
/// merged, and a name or flag not set any more is gone.
pub async fn roster_put_replaces_every_field(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let full = RosterEntry {
        contact: "romeo@example.net".to_owned(),
        name: Some("Romeo".to_owned()),
        groups: vec![
            "Friends".to_owned(),
            "Verona".to_owned(),
            "Lovers".to_owned(),
        ],
        to: true,
        from: true,
        pending_out: true,
        pending_in: true,
        pre_approved: true,
    };
    roster.put_entry(&alice, &full).await.unwrap();

    let smaller = RosterEntry {
        groups: vec!["Lovers".to_owned()],
        ..RosterEntry::new("romeo@example.net")
    };
    roster.put_entry(&alice, &smaller).await.unwrap();
    assert_eq!(
        roster.entry(&alice, "romeo@example.net").await.unwrap(),
        Some(smaller.clone())
    );

    let bare = RosterEntry::new("romeo@example.net");
    roster.put_entry(&alice, &bare).await.unwrap();
    assert_eq!(
        roster.roster(&alice).await.unwrap().1,
        vec![bare],
        "one item, without groups"
    );
    assert_eq!(roster.count(&alice).await.unwrap(), 1);
}

/// `roster` and both lists of `changes_since` are sorted by contact as bytes, not by a locale
/// collation: `Zed` before `a-c` before `ab` before `élise`.
pub async fn roster_is_sorted_by_contact_bytes(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let contacts = [
        "zoe@b.example",
        "élise@a.example",
        "ab@a.example",
        "Zed@a.example",
        "a-c@a.example",
        "alice@a.example",
    ];
    let entries: Vec<RosterEntry> = contacts.iter().map(|&c| RosterEntry::new(c)).collect();
    put_all(roster, &alice, &entries).await;

    let mut expected: Vec<&str> = contacts.to_vec();
    expected.sort();
    assert_eq!(expected[0], "Zed@a.example");
    let listed: Vec<String> = roster
        .roster(&alice)
        .await
        .unwrap()
        .1
        .into_iter()
        .map(|e| e.contact)
        .collect();
    assert_eq!(listed, expected);

    let since = roster.roster(&alice).await.unwrap().0;
    for contact in ["zoe@b.example", "Zed@a.example", "élise@a.example"] {
        roster.remove_entry(&alice, contact).await.unwrap();
    }
    for contact in ["alice@a.example", "a-c@a.example"] {
        roster
            .put_entry(&alice, &sample_entry(contact, 5))
            .await
            .unwrap();
    }
    let changes = roster.changes_since(&alice, since).await.unwrap().unwrap();
    let updated: Vec<&str> = changes.updated.iter().map(|e| e.contact.as_str()).collect();
    assert_eq!(updated, ["a-c@a.example", "alice@a.example"]);
    assert_eq!(
        changes.removed,
        ["Zed@a.example", "zoe@b.example", "élise@a.example"]
    );
}

/// Contacts are compared as exact strings: case or accents make a different contact.
pub async fn roster_contacts_are_exact_strings(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let contacts = [
        "romeo@example.net",
        "Romeo@example.net",
        "roméo@example.net",
    ];
    for (i, contact) in contacts.iter().enumerate() {
        roster
            .put_entry(&alice, &sample_entry(contact, i as u8 + 1))
            .await
            .unwrap();
    }
    assert_eq!(roster.count(&alice).await.unwrap(), 3);
    for (i, contact) in contacts.iter().enumerate() {
        assert_eq!(
            roster.entry(&alice, contact).await.unwrap(),
            Some(sample_entry(contact, i as u8 + 1))
        );
    }
    assert_eq!(
        roster.entry(&alice, "ROMEO@example.net").await.unwrap(),
        None
    );
    roster
        .remove_entry(&alice, "Romeo@example.net")
        .await
        .unwrap();
    assert_eq!(roster.count(&alice).await.unwrap(), 2);
    assert!(
        roster
            .entry(&alice, "romeo@example.net")
            .await
            .unwrap()
            .is_some()
    );
}

/// Every put and remove raises the version by one and returns it; reads leave it alone. The
/// first write may start anywhere above 0 (see [`RosterVersion`]).
pub async fn roster_version_bumps_on_writes_only(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let first = roster
        .put_entry(&alice, &sample_entry("a@example.net", 1))
        .await
        .unwrap();
    assert!(first > RosterVersion(0), "{first}");

    // Reads of every kind, twice, leave the version where it is.
    for _ in 0..2 {
        roster.roster(&alice).await.unwrap();
        roster.entry(&alice, "a@example.net").await.unwrap();
        roster.count(&alice).await.unwrap();
        roster.changes_since(&alice, first).await.unwrap();
        assert_eq!(roster.roster(&alice).await.unwrap().0, first);
    }

    let added = roster
        .put_entry(&alice, &sample_entry("b@example.net", 2))
        .await
        .unwrap();
    assert_eq!(added, RosterVersion(first.0 + 1));
    let replaced = roster
        .put_entry(&alice, &sample_entry("a@example.net", 3))
        .await
        .unwrap();
    assert_eq!(replaced, RosterVersion(first.0 + 2));
    let removed = roster.remove_entry(&alice, "b@example.net").await.unwrap();
    assert_eq!(removed, RosterVersion(first.0 + 3));
    // A put identical to the stored item is still a write.
    let same = roster
        .put_entry(&alice, &sample_entry("a@example.net", 3))
        .await
        .unwrap();
    assert_eq!(same, RosterVersion(first.0 + 4));
    assert_eq!(roster.roster(&alice).await.unwrap().0, same);
    assert_eq!(
        roster
            .changes_since(&alice, first)
            .await
            .unwrap()
            .unwrap()
            .version,
        same
    );
}

/// A removed item is gone with its groups: adding the contact back starts from what is given.
pub async fn roster_remove_deletes_the_entry(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let romeo = sample_entry("romeo@example.net", 31);
    let tybalt = sample_entry("tybalt@example.org", 7);
    put_all(roster, &alice, &[romeo.clone(), tybalt.clone()]).await;

    roster.remove_entry(&alice, &romeo.contact).await.unwrap();
    assert_eq!(roster.entry(&alice, &romeo.contact).await.unwrap(), None);
    assert_eq!(roster.roster(&alice).await.unwrap().1, vec![tybalt]);

    let back = RosterEntry::new("romeo@example.net");
    roster.put_entry(&alice, &back).await.unwrap();
    assert_eq!(
        roster.entry(&alice, &back.contact).await.unwrap(),
        Some(back)
    );
}

/// Removing a contact that is not on the roster is NotFound naming the contact, and is not a
/// write: the version stays. The same holds for an account that does not exist.
pub async fn roster_remove_unknown_is_not_found(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let err = roster
        .remove_entry(&alice, "nobody@example.net")
        .await
        .unwrap_err();
    assert_not_found(err, "nobody@example.net");
    assert_eq!(roster.roster(&alice).await.unwrap().0, RosterVersion(0));

    let version = roster
        .put_entry(&alice, &sample_entry("romeo@example.net", 1))
        .await
        .unwrap();
    let err = roster
        .remove_entry(&alice, "nobody@example.net")
        .await
        .unwrap_err();
    assert_not_found(err, "nobody@example.net");
    assert_eq!(roster.roster(&alice).await.unwrap().0, version);
    assert_eq!(
        roster
            .changes_since(&alice, version)
            .await
            .unwrap()
            .unwrap()
            .removed,
        Vec::<String>::new()
    );

    let ghost = AccountName::new("ghost", "example.org");
    let err = roster
        .remove_entry(&ghost, "romeo@example.net")
        .await
        .unwrap_err();
    assert_not_found(err, "romeo@example.net");
}

/// Writing to the roster of an account that does not exist is NotFound naming the account,
/// and stores nothing: creating the account later finds an empty roster.
pub async fn roster_put_for_unknown_account_is_not_found(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let ghost = AccountName::new("ghost", "example.org");
    let err = roster
        .put_entry(&ghost, &sample_entry("romeo@example.net", 1))
        .await
        .unwrap_err();
    assert_not_found(err, "ghost@example.org");
    assert_eq!(
        roster.roster(&ghost).await.unwrap(),
        (RosterVersion(0), vec![])
    );

    accounts
        .create_account(&ghost, &both_families(1))
        .await
        .unwrap();
    assert_eq!(
        roster.roster(&ghost).await.unwrap(),
        (RosterVersion(0), vec![])
    );
    assert_eq!(roster.count(&ghost).await.unwrap(), 0);
}

/// `changes_since` lists each item set after the version once, in its current state, and each
/// contact removed after it and not added back; nothing else.
pub async fn roster_changes_since_reports_exactly_what_changed(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    let base = put_all(
        roster,
        &alice,
        &[
            sample_entry("a@example.net", 1),
            sample_entry("b@example.net", 2),
            sample_entry("c@example.net", 3),
            sample_entry("e@example.net", 4),
        ],
    )
    .await;
    assert_eq!(
        roster.changes_since(&alice, base).await.unwrap(),
        Some(RosterChanges {
            version: base,
            ..RosterChanges::default()
        })
    );

    // Changed twice: reported once, as it is now.
    roster
        .put_entry(&alice, &sample_entry("a@example.net", 10))
        .await
        .unwrap();
    let after_first_a = roster
        .put_entry(&alice, &sample_entry("a@example.net", 11))
        .await
        .unwrap();
    // New.
    let after_d = roster
        .put_entry(&alice, &sample_entry("d@example.net", 12))
        .await
        .unwrap();
    // Removed.
    roster.remove_entry(&alice, "b@example.net").await.unwrap();
    // Removed and added back: an update, not a removal.
    roster.remove_entry(&alice, "e@example.net").await.unwrap();
    roster
        .put_entry(&alice, &sample_entry("e@example.net", 13))
        .await
        .unwrap();
    // Added and removed again after `base`: the client never saw it, so listing it as removed
    // is allowed but not required.
    roster
        .put_entry(&alice, &sample_entry("f@example.net", 14))
        .await
        .unwrap();
    let now = roster.remove_entry(&alice, "f@example.net").await.unwrap();

    let changes = roster.changes_since(&alice, base).await.unwrap().unwrap();
    assert_eq!(changes.version, now);
    assert_eq!(
        changes.updated,
        vec![
            sample_entry("a@example.net", 11),
            sample_entry("d@example.net", 12),
            sample_entry("e@example.net", 13),
        ]
    );
    assert!(
        changes.removed == ["b@example.net"]
            || changes.removed == ["b@example.net", "f@example.net"],
        "{:?}",
        changes.removed
    );

    // From a version in between, earlier changes are left out.
    let changes = roster
        .changes_since(&alice, after_first_a)
        .await
        .unwrap()
        .unwrap();
    let updated: Vec<&str> = changes.updated.iter().map(|e| e.contact.as_str()).collect();
    assert_eq!(updated, ["d@example.net", "e@example.net"]);
    let changes = roster
        .changes_since(&alice, after_d)
        .await
        .unwrap()
        .unwrap();
    let updated: Vec<&str> = changes.updated.iter().map(|e| e.contact.as_str()).collect();
    assert_eq!(updated, ["e@example.net"]);
    assert!(changes.removed.contains(&"b@example.net".to_owned()));

    // Up to date: nothing.
    assert_eq!(
        roster.changes_since(&alice, now).await.unwrap(),
        Some(RosterChanges {
            version: now,
            ..RosterChanges::default()
        })
    );

    // The result follows the roster: applying the changes to the roster as it was at `base`
    // gives the roster as it is now.
    let mut replayed = vec![
        sample_entry("a@example.net", 1),
        sample_entry("b@example.net", 2),
        sample_entry("c@example.net", 3),
        sample_entry("e@example.net", 4),
    ];
    let changes = roster.changes_since(&alice, base).await.unwrap().unwrap();
    replayed.retain(|e| !changes.removed.contains(&e.contact));
    for update in changes.updated {
        replayed.retain(|e| e.contact != update.contact);
        replayed.push(update);
    }
    assert_eq!(
        roster.roster(&alice).await.unwrap(),
        (now, sorted(replayed))
    );
}

/// A version the store never issued, or cannot account for, is None (send the whole roster);
/// a version from before the first write is either None or answered with the whole roster.
pub async fn roster_changes_since_unknown_version_is_none(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    for since in [1, -1, i64::MAX, i64::MIN] {
        assert_eq!(
            roster
                .changes_since(&alice, RosterVersion(since))
                .await
                .unwrap(),
            None,
            "{since}"
        );
    }

    let first = roster
        .put_entry(&alice, &sample_entry("a@example.net", 1))
        .await
        .unwrap();
    let now = roster
        .put_entry(&alice, &sample_entry("b@example.net", 2))
        .await
        .unwrap();
    for since in [now.0 + 1, now.0 + 1000, i64::MAX, -1, i64::MIN] {
        assert_eq!(
            roster
                .changes_since(&alice, RosterVersion(since))
                .await
                .unwrap(),
            None,
            "{since}"
        );
    }
    let (_, everything) = roster.roster(&alice).await.unwrap();
    for since in [0, first.0 - 1] {
        match roster
            .changes_since(&alice, RosterVersion(since))
            .await
            .unwrap()
        {
            None => {}
            Some(changes) => assert_eq!(
                changes,
                RosterChanges {
                    version: now,
                    updated: everything.clone(),
                    removed: vec![],
                },
                "{since}"
            ),
        }
    }
}

/// `count` is the number of items, whatever the version.
pub async fn roster_count_follows_puts_and_removes(
    accounts: &dyn AccountStore,
    roster: &dyn RosterStore,
) {
    let alice = create_owner(accounts, "alice").await;
    for i in 0..5u8 {
        roster
            .put_entry(&alice, &sample_entry(&format!("c{i}@example.net"), i))
            .await
            .unwrap();
        assert_eq!(roster.count(&alice).await.unwrap(), usize::from(i) + 1);
    }
    // Replacing is not adding.
    roster
        .put_entry(&alice, &sample_entry("c0@example.net", 9))
        .await
        .unwrap();
    assert_eq!(roster.count(&alice).await.unwrap(), 5);
    roster.remove_entry(&alice, "c3@example.net").await.unwrap();
    assert_eq!(roster.count(&alice).await.unwrap(), 4);
    roster
        .remove_entry(&alice, "c3@example.net")
        .await
        .unwrap_err();
    assert_eq!(roster.count(&alice).await.unwrap(), 4);
}

/// Two accounts with the same contact (and two accounts with the same localpart) have separate
/// items, versions and histories.
pub async fn roster_is_per_owner(accounts: &dyn AccountStore, roster: &dyn RosterStore) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    let other_alice = AccountName::new("alice", "example.net");
    accounts
        .create_account(&other_alice, &both_families(2))
        .await
        .unwrap();
    let carol_for_alice = sample_entry("carol@example.com", 21);
    let carol_for_bob = sample_entry("carol@example.com", 10);

    roster.put_entry(&alice, &carol_for_alice).await.unwrap();
    let bob_version = roster.put_entry(&bob, &carol_for_bob).await.unwrap();
    let alice_version = roster
        .put_entry(&alice, &sample_entry("dave@example.com", 3))
        .await
        .unwrap();

    assert_eq!(
        roster.entry(&alice, "carol@example.com").await.unwrap(),
        Some(carol_for_alice.clone())
    );
    assert_eq!(
        roster.entry(&bob, "carol@example.com").await.unwrap(),
        Some(carol_for_bob.clone())
    );
    assert_eq!(
        roster.roster(&bob).await.unwrap(),
        (bob_version, vec![carol_for_bob.clone()])
    );
    assert_eq!(roster.count(&alice).await.unwrap(), 2);
    assert_eq!(roster.count(&bob).await.unwrap(), 1);
    assert_eq!(
        roster.roster(&other_alice).await.unwrap(),
        (RosterVersion(0), vec![])
    );
    assert_eq!(roster.entry(&bob, "dave@example.com").await.unwrap(), None);

    // Alice's removal touches neither Bob's item nor his version or history.
    let alice_now = roster
        .remove_entry(&alice, "carol@example.com")
        .await
        .unwrap();
    assert_eq!(alice_now, RosterVersion(alice_version.0 + 1));
    assert_eq!(
        roster.roster(&bob).await.unwrap(),
        (bob_version, vec![carol_for_bob])
    );
    assert_eq!(
        roster.changes_since(&bob, bob_version).await.unwrap(),
        Some(RosterChanges {
            version: bob_version,
            ..RosterChanges::default()
        })
    );
    let err = roster
        .remove_entry(&other_alice, "dave@example.com")
        .await
        .unwrap_err();
    assert_not_found(err, "dave@example.com");
}

/// Deleting the account deletes its roster and history; a re-created account starts with an
/// empty roster whose versions are all above the deleted one's, so a client's cache of the
/// old roster is never taken as current.
pub async fn roster_is_deleted_with_account(accounts: &dyn AccountStore, roster: &dyn RosterStore) {
    let alice = create_owner(accounts, "alice").await;
    let bob = create_owner(accounts, "bob").await;
    let entries: Vec<RosterEntry> = (0..4u8)
        .map(|i| sample_entry(&format!("c{i}@example.net"), i + 3))
        .collect();
    let mut old_versions = vec![put_all(roster, &alice, &entries).await];
    old_versions.push(roster.remove_entry(&alice, "c1@example.net").await.unwrap());
    let bob_version = roster
        .put_entry(&bob, &sample_entry("c0@example.net", 1))
        .await
        .unwrap();

    accounts.delete_account(&alice).await.unwrap();
    assert_eq!(
        roster.roster(&alice).await.unwrap(),
        (RosterVersion(0), vec![])
    );
    assert_eq!(roster.count(&alice).await.unwrap(), 0);
    assert_eq!(roster.entry(&alice, "c0@example.net").await.unwrap(), None);
    assert_eq!(roster.roster(&bob).await.unwrap().0, bob_version);
    assert_eq!(roster.count(&bob).await.unwrap(), 1);

    accounts
        .create_account(&alice, &both_families(5))
        .await
        .unwrap();
    assert_eq!(
        roster.roster(&alice).await.unwrap(),
        (RosterVersion(0), vec![])
    );
    let last_old = *old_versions.iter().max().unwrap();
    let mut new_versions = Vec::new();
    for entry in &entries {
        new_versions.push(roster.put_entry(&alice, entry).await.unwrap());
    }
    new_versions.push(roster.remove_entry(&alice, "c1@example.net").await.unwrap());
    assert!(
        new_versions[0] > last_old,
        "re-created roster starts at {} but the deleted one reached {last_old}",
        new_versions[0]
    );
    for old in old_versions {
        assert_eq!(roster.changes_since(&alice, old).await.unwrap(), None);
    }
}
