//! [`RosterStore`](crate::RosterStore) on SQLite.
//!
//! Each account's version lives in its `rosters` row; every write bumps it with an upsert in
//! the same `BEGIN IMMEDIATE` transaction as the change, so writers of one roster (two
//! resources, or two processes on one file) are serialized and none loses its update. How
//! `changes_since` is derived from item versions and tombstones is described in
//! [`crate::sql::roster`].
//!
//! Reads that touch several tables run in one deferred transaction, which in WAL mode is one
//! consistent snapshot: the version returned always matches the items returned.

use super::{BEGIN_READ, BEGIN_WRITE, SqliteStore};
use crate::sql::roster::{RosterSql, roster_store};

const SQL: RosterSql = RosterSql {
    begin_read: BEGIN_READ,
    begin_write: BEGIN_WRITE,
    bump_version: "INSERT INTO rosters (domain, localpart, version, horizon) \
         VALUES (?1, ?2, ?3, ?3) \
         ON CONFLICT (domain, localpart) DO UPDATE SET version = version + 1 \
         RETURNING version",
    // The write transaction already holds the file's write lock.
    lock_roster: None,
    select_version: "SELECT version, horizon FROM rosters WHERE domain = ?1 AND localpart = ?2",
    upsert_item: "INSERT INTO roster_items \
         (domain, localpart, contact, name, sub_to, sub_from, pending_out, pending_in, \
          pre_approved, version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET \
         name = excluded.name, sub_to = excluded.sub_to, sub_from = excluded.sub_from, \
         pending_out = excluded.pending_out, pending_in = excluded.pending_in, \
         pre_approved = excluded.pre_approved, version = excluded.version",
    delete_item: "DELETE FROM roster_items WHERE domain = ?1 AND localpart = ?2 AND contact = ?3",
    count_items: "SELECT COUNT(*) FROM roster_items WHERE domain = ?1 AND localpart = ?2",
    // Sorted by contact in BINARY collation, which is byte order.
    select_items: "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
         pre_approved FROM roster_items \
         WHERE domain = ?1 AND localpart = ?2 AND version > ?3 ORDER BY contact",
    select_item: "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
         pre_approved FROM roster_items WHERE domain = ?1 AND localpart = ?2 AND contact = ?3",
    insert_group: "INSERT INTO roster_groups (domain, localpart, contact, position, name) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    delete_groups: "DELETE FROM roster_groups \
         WHERE domain = ?1 AND localpart = ?2 AND contact = ?3",
    select_groups: "SELECT g.contact, g.name FROM roster_groups g \
         JOIN roster_items i USING (domain, localpart, contact) \
         WHERE g.domain = ?1 AND g.localpart = ?2 AND i.version > ?3 \
         ORDER BY g.contact, g.position",
    select_item_groups: "SELECT name FROM roster_groups \
         WHERE domain = ?1 AND localpart = ?2 AND contact = ?3 ORDER BY position",
    upsert_tombstone: "INSERT INTO roster_tombstones \
         (domain, localpart, contact, version) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET version = excluded.version",
    delete_tombstone: "DELETE FROM roster_tombstones \
         WHERE domain = ?1 AND localpart = ?2 AND contact = ?3",
    select_tombstones: "SELECT contact FROM roster_tombstones \
         WHERE domain = ?1 AND localpart = ?2 AND version > ?3 ORDER BY contact",
    select_prune_cut: "SELECT version FROM roster_tombstones \
         WHERE domain = ?1 AND localpart = ?2 ORDER BY version DESC LIMIT 1 OFFSET ?3",
    prune_tombstones: "DELETE FROM roster_tombstones \
         WHERE domain = ?1 AND localpart = ?2 AND version <= ?3",
    raise_horizon: "UPDATE rosters SET horizon = MAX(horizon, ?3) \
         WHERE domain = ?1 AND localpart = ?2",
};

roster_store!(
    store: SqliteStore,
    database: sqlx::Sqlite,
    group_position: i64,
    sql: SQL,
);
