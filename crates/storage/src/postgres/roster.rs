//! [`RosterStore`] on Postgres.
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
//! `changes_since` is derived rather than logged, as in the SQLite store: every item carries
//! the version of the write that last set it, and a removal leaves a tombstone carrying the
//! version of the removal. The changes after V are the items and tombstones newer than V.
//! Tombstones are bounded by pruning all but the newest [`ROSTER_TOMBSTONES`] per roster and
//! raising the roster's horizon past the pruned ones, so that older versions are answered with
//! `None` (send the whole roster, RFC 6121 §2.6.3) instead of a list that misses removals.
//!
//! Reads that touch several tables run in one `REPEATABLE READ` snapshot: the version returned
//! always matches the items returned.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::debug;

use super::{BEGIN_READ, PgStore, count_from, owner_write_error};
use crate::error::db_error;
use crate::roster::first_version;
use crate::{AccountName, RosterChanges, RosterEntry, RosterStore, RosterVersion, StoreError};

/// How many removals per roster `changes_since` can report: the same window as the SQLite
/// store's. A client whose cached version is older than the oldest of them gets the whole
/// roster instead, which costs one roster result and no correctness.
pub(crate) const ROSTER_TOMBSTONES: i64 = 1000;

/// Creates the version row on the first write and bumps it on every later one, locking it
/// until the transaction ends. A missing account makes the insert fail with a foreign key
/// violation.
const BUMP_VERSION: &str = "INSERT INTO rosters (domain, localpart, version, horizon) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (domain, localpart) DO UPDATE SET version = rosters.version + 1 \
     RETURNING version";
const LOCK_ROSTER: &str = "SELECT 1 FROM rosters WHERE domain = $1 AND localpart = $2 FOR UPDATE";
const SELECT_VERSION: &str =
    "SELECT version, horizon FROM rosters WHERE domain = $1 AND localpart = $2";

const UPSERT_ITEM: &str = "INSERT INTO roster_items \
     (domain, localpart, contact, name, sub_to, sub_from, pending_out, pending_in, \
      pre_approved, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (domain, localpart, contact) DO UPDATE SET \
     name = excluded.name, sub_to = excluded.sub_to, sub_from = excluded.sub_from, \
     pending_out = excluded.pending_out, pending_in = excluded.pending_in, \
     pre_approved = excluded.pre_approved, version = excluded.version";
const DELETE_ITEM: &str =
    "DELETE FROM roster_items WHERE domain = $1 AND localpart = $2 AND contact = $3";
const COUNT_ITEMS: &str = "SELECT COUNT(*) FROM roster_items WHERE domain = $1 AND localpart = $2";
/// Items set after version $3; pass `i64::MIN` for all of them. Sorted by contact in the "C"
/// collation, which is byte order.
const SELECT_ITEMS: &str = "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
     pre_approved FROM roster_items \
     WHERE domain = $1 AND localpart = $2 AND version > $3 ORDER BY contact";
const SELECT_ITEM: &str = "SELECT contact, name, sub_to, sub_from, pending_out, pending_in, \
     pre_approved FROM roster_items WHERE domain = $1 AND localpart = $2 AND contact = $3";

const INSERT_GROUP: &str = "INSERT INTO roster_groups (domain, localpart, contact, position, name) \
     VALUES ($1, $2, $3, $4, $5)";
const DELETE_GROUPS: &str =
    "DELETE FROM roster_groups WHERE domain = $1 AND localpart = $2 AND contact = $3";
/// The groups of the items [`SELECT_ITEMS`] returns for the same arguments.
const SELECT_GROUPS: &str = "SELECT g.contact, g.name FROM roster_groups g \
     JOIN roster_items i USING (domain, localpart, contact) \
     WHERE g.domain = $1 AND g.localpart = $2 AND i.version > $3 \
     ORDER BY g.contact, g.position";
const SELECT_ITEM_GROUPS: &str = "SELECT name FROM roster_groups \
     WHERE domain = $1 AND localpart = $2 AND contact = $3 ORDER BY position";

const UPSERT_TOMBSTONE: &str = "INSERT INTO roster_tombstones \
     (domain, localpart, contact, version) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (domain, localpart, contact) DO UPDATE SET version = excluded.version";
const DELETE_TOMBSTONE: &str =
    "DELETE FROM roster_tombstones WHERE domain = $1 AND localpart = $2 AND contact = $3";
const SELECT_TOMBSTONES: &str = "SELECT contact FROM roster_tombstones \
     WHERE domain = $1 AND localpart = $2 AND version > $3 ORDER BY contact";
/// The newest tombstone beyond the kept window, if there is one. Removals bump the version, so
/// no two tombstones of a roster share a version and everything at or below it goes.
const SELECT_PRUNE_CUT: &str = "SELECT version FROM roster_tombstones \
     WHERE domain = $1 AND localpart = $2 ORDER BY version DESC LIMIT 1 OFFSET $3";
const PRUNE_TOMBSTONES: &str =
    "DELETE FROM roster_tombstones WHERE domain = $1 AND localpart = $2 AND version <= $3";
const RAISE_HORIZON: &str = "UPDATE rosters SET horizon = GREATEST(horizon, $3) \
     WHERE domain = $1 AND localpart = $2";

/// A `roster_items` row without its groups.
type ItemRow = (String, Option<String>, bool, bool, bool, bool, bool);

#[async_trait]
impl RosterStore for PgStore {
    async fn roster(
        &self,
        owner: &AccountName,
    ) -> Result<(RosterVersion, Vec<RosterEntry>), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_READ).await.map_err(db_error)?;
        let (version, _) = version_and_horizon(&mut tx, owner).await?;
        let entries = entries_after(&mut tx, owner, i64::MIN).await?;
        tx.commit().await.map_err(db_error)?;
        Ok((version, entries))
    }

    async fn entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_READ).await.map_err(db_error)?;
        let row: Option<ItemRow> = sqlx::query_as(SELECT_ITEM)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(contact)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let groups: Vec<(String,)> = sqlx::query_as(SELECT_ITEM_GROUPS)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(contact)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(entry_from_row(
            row,
            groups.into_iter().map(|(g,)| g).collect(),
        )))
    }

    async fn put_entry(
        &self,
        owner: &AccountName,
        entry: &RosterEntry,
    ) -> Result<RosterVersion, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // First, so that the roster lock is taken before any item lock.
        let version = bump_version(&mut tx, owner).await?;
        sqlx::query(UPSERT_ITEM)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(&entry.contact)
            .bind(entry.name.as_deref())
            .bind(entry.to)
            .bind(entry.from)
            .bind(entry.pending_out)
            .bind(entry.pending_in)
            .bind(entry.pre_approved)
            .bind(version.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        replace_groups(&mut tx, owner, entry).await?;
        // The contact is on the roster again: it must not be reported as removed as well.
        owner_contact_query(DELETE_TOMBSTONE, owner, &entry.contact)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        debug!(account = %owner, contact = %entry.contact, %version, "roster item set");
        Ok(version)
    }

    async fn remove_entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<RosterVersion, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let written = sqlx::query(LOCK_ROSTER)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .is_some();
        // A roster never written has no items; with the lock held, the item cannot vanish or
        // appear under us.
        let deleted = if written {
            // The groups go with the item through ON DELETE CASCADE.
            owner_contact_query(DELETE_ITEM, owner, contact)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected()
        } else {
            0
        };
        if deleted == 0 {
            // Dropping the transaction rolls it back; the version is untouched.
            return Err(StoreError::NotFound(contact.to_owned()));
        }
        let version = bump_version(&mut tx, owner).await?;
        sqlx::query(UPSERT_TOMBSTONE)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(contact)
            .bind(version.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        prune_tombstones(&mut tx, owner).await?;
        tx.commit().await.map_err(db_error)?;
        debug!(account = %owner, contact, %version, "roster item removed");
        Ok(version)
    }

    async fn changes_since(
        &self,
        owner: &AccountName,
        since: RosterVersion,
    ) -> Result<Option<RosterChanges>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_READ).await.map_err(db_error)?;
        let (version, horizon) = version_and_horizon(&mut tx, owner).await?;
        if since < horizon || since > version {
            return Ok(None);
        }
        let updated = entries_after(&mut tx, owner, since.0).await?;
        let removed: Vec<(String,)> = sqlx::query_as(SELECT_TOMBSTONES)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(since.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(RosterChanges {
            version,
            updated,
            removed: removed.into_iter().map(|(c,)| c).collect(),
        }))
    }

    async fn count(&self, owner: &AccountName) -> Result<usize, StoreError> {
        let (count,): (i64,) = sqlx::query_as(COUNT_ITEMS)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        count_from(count, || format!("the item count of {owner}'s roster"))
    }
}

/// A query bound to one owner and one contact, the key of most roster tables.
fn owner_contact_query(
    sql: &'static str,
    owner: &AccountName,
    contact: &str,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .bind(contact)
}

/// The current version and horizon; a roster never written is at version 0 with its whole
/// (empty) history known.
async fn version_and_horizon(
    conn: &mut PgConnection,
    owner: &AccountName,
) -> Result<(RosterVersion, RosterVersion), StoreError> {
    let row: Option<(i64, i64)> = sqlx::query_as(SELECT_VERSION)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?;
    let (version, horizon) = row.unwrap_or((0, 0));
    Ok((RosterVersion(version), RosterVersion(horizon)))
}

/// Bumps the version inside the caller's transaction, locking the roster row until it ends,
/// and returns the new version.
async fn bump_version(
    conn: &mut PgConnection,
    owner: &AccountName,
) -> Result<RosterVersion, StoreError> {
    let (version,): (i64,) = sqlx::query_as(BUMP_VERSION)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .bind(first_version().0)
        .fetch_one(conn)
        .await
        .map_err(|e| owner_write_error(e, owner))?;
    Ok(RosterVersion(version))
}

/// Replaces the groups of `entry`'s item, keeping their order.
async fn replace_groups(
    conn: &mut PgConnection,
    owner: &AccountName,
    entry: &RosterEntry,
) -> Result<(), StoreError> {
    owner_contact_query(DELETE_GROUPS, owner, &entry.contact)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    for (position, group) in entry.groups.iter().enumerate() {
        let position = i32::try_from(position)
            .map_err(|_| StoreError::Other(format!("too many groups for {}", entry.contact)))?;
        sqlx::query(INSERT_GROUP)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(&entry.contact)
            .bind(position)
            .bind(group)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Drops the tombstones beyond the newest [`ROSTER_TOMBSTONES`] and raises the horizon past
/// them, so that `changes_since` never answers from a history with removals missing.
async fn prune_tombstones(conn: &mut PgConnection, owner: &AccountName) -> Result<(), StoreError> {
    let cut: Option<(i64,)> = sqlx::query_as(SELECT_PRUNE_CUT)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .bind(ROSTER_TOMBSTONES)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    let Some((cut,)) = cut else {
        return Ok(());
    };
    for sql in [PRUNE_TOMBSTONES, RAISE_HORIZON] {
        sqlx::query(sql)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .bind(cut)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    debug!(account = %owner, horizon = cut, "old roster removals pruned");
    Ok(())
}

/// The items set after version `after` with their groups, sorted by contact.
async fn entries_after(
    conn: &mut PgConnection,
    owner: &AccountName,
    after: i64,
) -> Result<Vec<RosterEntry>, StoreError> {
    let rows: Vec<ItemRow> = sqlx::query_as(SELECT_ITEMS)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .bind(after)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let group_rows: Vec<(String, String)> = sqlx::query_as(SELECT_GROUPS)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .bind(after)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    // Rows come ordered by position, so pushing keeps each item's group order.
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for (contact, group) in group_rows {
        groups.entry(contact).or_default().push(group);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let item_groups = groups.remove(&row.0).unwrap_or_default();
            entry_from_row(row, item_groups)
        })
        .collect())
}

fn entry_from_row(row: ItemRow, groups: Vec<String>) -> RosterEntry {
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
