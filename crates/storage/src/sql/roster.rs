//! [`RosterStore`](crate::RosterStore) on either SQL backend: the macro [`roster_store!`].
//!
//! It is a macro rather than generic functions for the reason given in [`crate::sql`]: sqlx's
//! executor bounds. Each backend passes its store type (whose `pool` field the expansion
//! uses), its `sqlx` database type, the integer type of its `roster_groups.position` column,
//! and a [`RosterSql`] with its statements. The backends differ in how they keep writers of
//! one roster apart and in how reads get one snapshot; each backend's module says how.
//!
//! Each account's version lives in its `rosters` row, and every write bumps it in the same
//! transaction as the change. `changes_since` is derived rather than logged: every item
//! carries the version of the write that last set it, and a removal leaves a tombstone
//! carrying the version of the removal. The changes after V are the items and tombstones
//! newer than V. Items are bounded by the roster size limit; tombstones are bounded by
//! pruning all but the newest [`ROSTER_TOMBSTONES`] per roster and raising the roster's
//! horizon past the pruned ones, so that older versions are answered with `None` (send the
//! whole roster, RFC 6121 §2.6.3) instead of a list that misses removals.

use std::collections::HashMap;

use crate::RosterEntry;

/// How many removals per roster `changes_since` can report, on every backend. A client whose
/// cached version is older than the oldest of them gets the whole roster instead, which costs
/// one roster result and no correctness; a thousand removals is far more than happens between
/// two logins.
pub(crate) const ROSTER_TOMBSTONES: i64 = 1000;

/// The statements of the roster store in one backend's dialect. Parameters are numbered in
/// the order given here; "the roster" binds (domain, localpart) of its owner first, "an item"
/// (domain, localpart, contact).
#[derive(Debug)]
pub(crate) struct RosterSql {
    /// Begins a read spanning several statements: one snapshot throughout, so the version
    /// returned always matches the items returned.
    pub begin_read: &'static str,
    /// Begins a write, which bumps the version.
    pub begin_write: &'static str,
    /// Creates the roster's version row on the first write (the roster, first version, as
    /// both version and horizon) and bumps the version on every later one, returning the new
    /// version and, where writers could interleave, locking the row until the transaction
    /// ends. A missing account fails as a foreign key violation.
    pub bump_version: &'static str,
    /// Where the write transaction alone does not keep writers of one roster apart: locks the
    /// roster's version row (the roster) before a removal, returning a row if there is one.
    /// A roster without that row was never written and has no items.
    pub lock_roster: Option<&'static str>,
    /// `(version, horizon)` of the roster.
    pub select_version: &'static str,
    /// Inserts or replaces an item (an item, name, to, from, pending_out, pending_in,
    /// pre_approved, version).
    pub upsert_item: &'static str,
    /// Deletes an item; its groups go with it through `ON DELETE CASCADE`.
    pub delete_item: &'static str,
    /// The number of items of the roster.
    pub count_items: &'static str,
    /// [`ItemRow`]s of the items set after a version (the roster, version; `i64::MIN` for
    /// all of them), sorted by contact in byte order.
    pub select_items: &'static str,
    /// The [`ItemRow`] of an item.
    pub select_item: &'static str,
    /// Inserts one group of an item (an item, position, name).
    pub insert_group: &'static str,
    /// Deletes every group of an item.
    pub delete_groups: &'static str,
    /// `(contact, group)` of the items `select_items` returns for the same arguments, sorted
    /// by contact, then position.
    pub select_groups: &'static str,
    /// The groups of an item, by position.
    pub select_item_groups: &'static str,
    /// Records or re-dates the removal of an item (an item, version).
    pub upsert_tombstone: &'static str,
    /// Forgets the removal of an item.
    pub delete_tombstone: &'static str,
    /// The contacts removed after a version (the roster, version), sorted.
    pub select_tombstones: &'static str,
    /// The version of the newest tombstone beyond the kept window (the roster, how many are
    /// kept), if there is one. Removals bump the version, so no two tombstones of a roster
    /// share a version and everything at or below it goes.
    pub select_prune_cut: &'static str,
    /// Deletes the tombstones at or below a version (the roster, version).
    pub prune_tombstones: &'static str,
    /// Raises the horizon to a version unless it is already higher (the roster, version).
    pub raise_horizon: &'static str,
}

/// A `roster_items` row without its groups: contact, name, to, from, pending_out, pending_in,
/// pre_approved.
pub(crate) type ItemRow = (String, Option<String>, bool, bool, bool, bool, bool);

/// The entries of item rows and their `(contact, group)` rows, in the item rows' order.
pub(crate) fn entries_from_rows(
    rows: Vec<ItemRow>,
    group_rows: Vec<(String, String)>,
) -> Vec<RosterEntry> {
    // Rows come ordered by position, so pushing keeps each item's group order.
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for (contact, group) in group_rows {
        groups.entry(contact).or_default().push(group);
    }
    rows.into_iter()
        .map(|row| {
            let item_groups = groups.remove(&row.0).unwrap_or_default();
            entry_from_row(row, item_groups)
        })
        .collect()
}

/// The entry of an item row and its groups.
pub(crate) fn entry_from_row(row: ItemRow, groups: Vec<String>) -> RosterEntry {
    let (contact, name, to, from, pending_out, pending_in, pre_approved) = row;
    RosterEntry {
        contact,
        name,
        groups,
        to,
        from,
        pending_out,
        pending_in,
        pre_approved,
    }
}

mod store;

pub(crate) use store::roster_store;
