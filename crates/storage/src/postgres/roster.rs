//! [`RosterStore`](crate::RosterStore) on Postgres.
//!
//! Each account's version lives in its `rosters` row. Every write takes that row's lock before
//! anything else and bumps the version in the same transaction as the change, so writers of
//! one roster (two resources on different pods) run one after the other, each sees what the
//! previous one committed, and each gets its own version: no update is lost and the pushes
//! built from them (RFC 6121 §2.1.6) are ordered. A put takes the lock with the version bump
//! itself (`INSERT .. ON CONFLICT DO UPDATE`, which also creates the row on the first write);
//! a removal takes it with `SELECT .. FOR UPDATE`, so that it can still fail with `NotFound`
//! and leave the version alone. Taking the roster lock first in every write also means two
//! writes can never hold each other's item locks: no deadlocks.
//!
//! `changes_since` is derived rather than logged, as in the SQLite store, from item versions
//! and tombstones, within the same window of removals (see [`crate::sql::roster`]).
//!
//! Reads that touch several tables run in one `REPEATABLE READ` snapshot: the version returned
//! always matches the items returned.

use super::{BEGIN_READ, BEGIN_WRITE, PgStore};
use crate::sql::roster::{RosterSql, roster_store};

const SQL: RosterSql = RosterSql {
    begin_read: BEGIN_READ,
    begin_write: BEGIN_WRITE,
    // Locks the version row until the transaction ends.
    bump_version: "INSERT INTO rosters (domain, localpart, version, horizon) \
         VALUES ($1, $2, $3, $3) \
         ON CONFLICT (domain, localpart) DO UPDATE SET version = rosters.version + 1 \
         RETURNING version",
    lock_roster: Some("SELECT 1 FROM rosters WHERE domain = $1 AND localpart = $2 FOR UPDATE"),
    select_version: "SELECT version, horizon FROM rosters WHERE domain = $1 AND localpart = $2",
    upsert_item: "INSERT INTO roster_items \
         (domain, localpart, contact, name, sub_to, sub_from, pending_out, pending_in, \
          pre_approved, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET \
         name = excluded.name, sub_to = excluded.sub_to, sub_from = excluded.sub_from, \
         pending_out = excluded.pending_out, pending_in = excluded.pending_in, \
         pre_approved = excluded.pre_approved, version = excluded.version",
    delete_item: "DELETE FROM roster_items WHERE domain = $1 AND localpart = $2 AND contact = $3",
    count_items: "SELECT COUNT(*) FROM roster_items WHERE domain = $1 AND localpart = $2",
    // Sorted by contact in the "C" collation, which is byte order.
    select_items: "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
         pre_approved FROM roster_items \
         WHERE domain = $1 AND localpart = $2 AND version > $3 ORDER BY contact",
    select_item: "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
         pre_approved FROM roster_items WHERE domain = $1 AND localpart = $2 AND contact = $3",
    insert_group: "INSERT INTO roster_groups (domain, localpart, contact, position, name) \
         VALUES ($1, $2, $3, $4, $5)",
    delete_groups: "DELETE FROM roster_groups \
         WHERE domain = $1 AND localpart = $2 AND contact = $3",
    select_groups: "SELECT g.contact, g.name FROM roster_groups g \
         JOIN roster_items i USING (domain, localpart, contact) \
         WHERE g.domain = $1 AND g.localpart = $2 AND i.version > $3 \
         ORDER BY g.contact, g.position",
    select_item_groups: "SELECT name FROM roster_groups \
         WHERE domain = $1 AND localpart = $2 AND contact = $3 ORDER BY position",
    upsert_tombstone: "INSERT INTO roster_tombstones \
         (domain, localpart, contact, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET version = excluded.version",
    delete_tombstone: "DELETE FROM roster_tombstones \
         WHERE domain = $1 AND localpart = $2 AND contact = $3",
    select_tombstones: "SELECT contact FROM roster_tombstones \
         WHERE domain = $1 AND localpart = $2 AND version > $3 ORDER BY contact",
    select_prune_cut: "SELECT version FROM roster_tombstones \
         WHERE domain = $1 AND localpart = $2 ORDER BY version DESC LIMIT 1 OFFSET $3",
    prune_tombstones: "DELETE FROM roster_tombstones \
         WHERE domain = $1 AND localpart = $2 AND version <= $3",
    raise_horizon: "UPDATE rosters SET horizon = GREATEST(horizon, $3) \
         WHERE domain = $1 AND localpart = $2",
};

roster_store!(
    store: PgStore,
    database: sqlx::Postgres,
    // `roster_groups.position` is a 32-bit INTEGER here.
    group_position: i32,
    sql: SQL,
);
