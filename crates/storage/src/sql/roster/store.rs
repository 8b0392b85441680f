//! The macro [`roster_store!`], in a module of its own for its length.

/// Implements [`RosterStore`](crate::RosterStore) for `store`, a struct with a
/// `pool: sqlx::Pool<database>` field, running the statements of `sql`, a
/// [`RosterSql`](super::RosterSql); `group_position` is the integer type bound to
/// `roster_groups.position`.
macro_rules! roster_store {
    (
        store: $store:ty,
        database: $db:ty,
        group_position: $position:ty,
        sql: $sql:path $(,)?
    ) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::sqlx::Database;
            use ::tracing::debug;

            use $crate::error::db_error;
            use $crate::roster::first_version;
            use $crate::sql::roster::{
                ItemRow, ROSTER_TOMBSTONES, entries_from_rows, entry_from_row,
            };
            use $crate::sql::{begin, count_from, owner_write_error};
            use $crate::{
                AccountName, RosterChanges, RosterEntry, RosterStore, RosterVersion, StoreError,
            };

            type Connection = <$db as Database>::Connection;
            type Arguments = <$db as Database>::Arguments;

            #[async_trait]
            impl RosterStore for $store {
                async fn roster(
                    &self,
                    owner: &AccountName,
                ) -> Result<(RosterVersion, Vec<RosterEntry>), StoreError> {
                    let mut tx = begin(&self.pool, $sql.begin_read).await?;
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
                    let mut tx = begin(&self.pool, $sql.begin_read).await?;
                    let row: Option<ItemRow> = owner_query_as($sql.select_item, owner)
                        .bind(contact)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let groups: Vec<(String,)> = owner_query_as($sql.select_item_groups, owner)
                        .bind(contact)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    tx.commit().await.map_err(db_error)?;
                    let groups = groups.into_iter().map(|(g,)| g).collect();
                    Ok(Some(entry_from_row(row, groups)))
                }

                async fn put_entry(
                    &self,
                    owner: &AccountName,
                    entry: &RosterEntry,
                ) -> Result<RosterVersion, StoreError> {
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    // First, so that where the bump locks the roster, that lock is taken before
                    // any item lock.
                    let version = bump_version(&mut tx, owner).await?;
                    owner_query($sql.upsert_item, owner)
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
                    // The contact is on the roster again: it must not be reported as removed as
                    // well.
                    owner_contact_query($sql.delete_tombstone, owner, &entry.contact)
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
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    let written = match $sql.lock_roster {
                        Some(lock) => owner_query(lock, owner)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_error)?
                            .is_some(),
                        None => true,
                    };
                    // A roster never written has no items; with the roster locked (by the lock
                    // or by the write transaction), the item cannot vanish or appear under us.
                    let deleted = if written {
                        // The groups go with the item through ON DELETE CASCADE.
                        owner_contact_query($sql.delete_item, owner, contact)
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
                    owner_query($sql.upsert_tombstone, owner)
                        .bind(contact)
                        .bind(version.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if let Some(horizon) = prune_tombstones(&mut tx, owner).await? {
                        debug!(account = %owner, horizon, "old roster removals pruned");
                    }
                    tx.commit().await.map_err(db_error)?;
                    debug!(account = %owner, contact, %version, "roster item removed");
                    Ok(version)
                }

                async fn changes_since(
                    &self,
                    owner: &AccountName,
                    since: RosterVersion,
                ) -> Result<Option<RosterChanges>, StoreError> {
                    let mut tx = begin(&self.pool, $sql.begin_read).await?;
                    let (version, horizon) = version_and_horizon(&mut tx, owner).await?;
                    if since < horizon || since > version {
                        return Ok(None);
                    }
                    let updated = entries_after(&mut tx, owner, since.0).await?;
                    let removed: Vec<(String,)> = owner_query_as($sql.select_tombstones, owner)
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
                    let (count,): (i64,) = owner_query_as($sql.count_items, owner)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_error)?;
                    count_from(count, || format!("the item count of {owner}'s roster"))
                }
            }

            /// A query bound to one owner, the first part of the key of every roster table.
            fn owner_query(
                sql: &'static str,
                owner: &AccountName,
            ) -> ::sqlx::query::Query<'static, $db, Arguments> {
                ::sqlx::query(sql)
                    .bind(&owner.domain)
                    .bind(&owner.localpart)
            }

            /// [`owner_query`] for rows of type `O`.
            fn owner_query_as<'q, O>(
                sql: &'static str,
                owner: &'q AccountName,
            ) -> ::sqlx::query::QueryAs<'q, $db, O, Arguments>
            where
                O: for<'r> ::sqlx::FromRow<'r, <$db as Database>::Row>,
            {
                ::sqlx::query_as(sql)
                    .bind(&owner.domain)
                    .bind(&owner.localpart)
            }

            /// A query bound to one owner and one contact, the key of most roster tables.
            fn owner_contact_query(
                sql: &'static str,
                owner: &AccountName,
                contact: &str,
            ) -> ::sqlx::query::Query<'static, $db, Arguments> {
                owner_query(sql, owner).bind(contact)
            }

            /// The current version and horizon; a roster never written is at version 0 with
            /// its whole (empty) history known.
            async fn version_and_horizon(
                conn: &mut Connection,
                owner: &AccountName,
            ) -> Result<(RosterVersion, RosterVersion), StoreError> {
                let row: Option<(i64, i64)> = owner_query_as($sql.select_version, owner)
                    .fetch_optional(conn)
                    .await
                    .map_err(db_error)?;
                let (version, horizon) = row.unwrap_or((0, 0));
                Ok((RosterVersion(version), RosterVersion(horizon)))
            }

            /// Bumps the version inside the caller's write transaction (locking the roster row
            /// until it ends where the backend's statement does) and returns the new version.
            async fn bump_version(
                conn: &mut Connection,
                owner: &AccountName,
            ) -> Result<RosterVersion, StoreError> {
                let (version,): (i64,) = owner_query_as($sql.bump_version, owner)
                    .bind(first_version().0)
                    .fetch_one(conn)
                    .await
                    .map_err(|e| owner_write_error(e, owner))?;
                Ok(RosterVersion(version))
            }

            /// Replaces the groups of `entry`'s item, keeping their order.
            async fn replace_groups(
                conn: &mut Connection,
                owner: &AccountName,
                entry: &RosterEntry,
            ) -> Result<(), StoreError> {
                owner_contact_query($sql.delete_groups, owner, &entry.contact)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_error)?;
                for (position, group) in entry.groups.iter().enumerate() {
                    let position = <$position>::try_from(position).map_err(|_| {
                        StoreError::Other(format!("too many groups for {}", entry.contact))
                    })?;
                    owner_query($sql.insert_group, owner)
                        .bind(&entry.contact)
                        .bind(position)
                        .bind(group)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }

            /// Drops the tombstones beyond the newest [`ROSTER_TOMBSTONES`] and raises the
            /// horizon past them, so that `changes_since` never answers from a history with
            /// removals missing. Returns the new horizon if it pruned any.
            async fn prune_tombstones(
                conn: &mut Connection,
                owner: &AccountName,
            ) -> Result<Option<i64>, StoreError> {
                let cut: Option<(i64,)> = owner_query_as($sql.select_prune_cut, owner)
                    .bind(ROSTER_TOMBSTONES)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                let Some((cut,)) = cut else {
                    return Ok(None);
                };
                for statement in [$sql.prune_tombstones, $sql.raise_horizon] {
                    owner_query(statement, owner)
                        .bind(cut)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(Some(cut))
            }

            /// The items set after version `after` with their groups, sorted by contact.
            async fn entries_after(
                conn: &mut Connection,
                owner: &AccountName,
                after: i64,
            ) -> Result<Vec<RosterEntry>, StoreError> {
                let rows: Vec<ItemRow> = owner_query_as($sql.select_items, owner)
                    .bind(after)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?;
                let group_rows: Vec<(String, String)> = owner_query_as($sql.select_groups, owner)
                    .bind(after)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?;
                Ok(entries_from_rows(rows, group_rows))
            }
        };
    };
}

pub(crate) use roster_store;
