//! [`OfflineStore`](crate::OfflineStore) on either SQL backend: the macro [`offline_store!`].
//!
//! It is a macro rather than generic functions for the reason given in [`crate::sql`]: sqlx's
//! executor bounds. Each backend passes its store type (whose `pool` field the expansion
//! uses), its `sqlx` database type, and an [`OfflineSql`] with its statements. A push counts
//! and inserts, a take selects and deletes, each in one transaction that must keep the
//! account's other pushes and takes out until it ends, which makes the quota exact and gives
//! every message to exactly one take. How differs:
//!
//! - SQLite begins them with `BEGIN IMMEDIATE`, which holds the file's write lock throughout,
//!   and takes with a select and a delete;
//! - Postgres begins them with a plain `BEGIN`, locks the owner's `accounts` row first
//!   ([`OfflineSql::lock_account`]), and takes with one `DELETE .. RETURNING` statement.

use crate::OfflineMessage;

/// The statements of the offline message store in one backend's dialect. Parameters are
/// numbered in the order given here.
#[derive(Debug)]
pub(crate) struct OfflineSql {
    /// Begins the transaction of a push or a take.
    pub begin_write: &'static str,
    /// Where that transaction alone does not keep one account's pushes and takes apart: locks
    /// the account's row (domain, localpart) until it ends. An absent account locks nothing.
    pub lock_account: Option<&'static str>,
    /// The number of messages of an account (domain, localpart).
    pub count_messages: &'static str,
    /// Appends a message (domain, localpart, stanza_xml, stamp_unix_ms); a missing account
    /// fails as a foreign key violation.
    pub insert_message: &'static str,
    /// `(stanza_xml, stamp_unix_ms)` of every message of an account (domain, localpart), in
    /// arrival order; where the dialect allows, deleting them in the same statement.
    pub take_messages: &'static str,
    /// Deletes the messages of an account (domain, localpart) after `take_messages`, if that
    /// did not.
    pub delete_taken: Option<&'static str>,
}

/// The messages of `(stanza_xml, stamp_unix_ms)` rows, in the rows' order.
pub(crate) fn messages_from_rows(rows: Vec<(String, i64)>) -> Vec<OfflineMessage> {
    rows.into_iter()
        .map(|(stanza_xml, stamp_unix_ms)| OfflineMessage {
            stanza_xml,
            stamp_unix_ms,
        })
        .collect()
}

/// Implements [`OfflineStore`](crate::OfflineStore) for `store`, a struct with a
/// `pool: sqlx::Pool<database>` field, running the statements of `sql`, an [`OfflineSql`].
macro_rules! offline_store {
    (store: $store:ty, database: $db:ty, sql: $sql:path $(,)?) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::tracing::debug;

            use $crate::error::db_error;
            use $crate::sql::offline::messages_from_rows;
            use $crate::sql::{begin, count_from, owner_write_error};
            use $crate::{AccountName, OfflineMessage, OfflineStore, StoreError};

            type Connection = <$db as ::sqlx::Database>::Connection;

            #[async_trait]
            impl OfflineStore for $store {
                async fn push_offline(
                    &self,
                    owner: &AccountName,
                    stanza_xml: &str,
                    stamp_unix_ms: i64,
                    quota: usize,
                ) -> Result<(), StoreError> {
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    // An absent account locks nothing; the insert then fails on the foreign
                    // key, unless the quota refuses first (on every backend, the quota is
                    // checked before the owner).
                    lock_account(&mut tx, owner).await?;
                    let stored = count(&mut tx, owner).await?;
                    if stored >= quota {
                        return Err(StoreError::QuotaExceeded(owner.to_string()));
                    }
                    ::sqlx::query($sql.insert_message)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .bind(stanza_xml)
                        .bind(stamp_unix_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| owner_write_error(e, owner))?;
                    tx.commit().await.map_err(db_error)?;
                    debug!(account = %owner, stored = stored + 1, "offline message stored");
                    Ok(())
                }

                async fn take_offline(
                    &self,
                    owner: &AccountName,
                ) -> Result<Vec<OfflineMessage>, StoreError> {
                    // Most takes (one per initial presence) find nothing: a plain read says
                    // so without the write transaction, which on SQLite would take the
                    // file's write lock and on Postgres the account's row. A message that
                    // commits after this read stays stored for the next take, as one that
                    // commits after the take's own transaction would.
                    if self.offline_count(owner).await? == 0 {
                        return Ok(Vec::new());
                    }
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    lock_account(&mut tx, owner).await?;
                    let rows: Vec<(String, i64)> = ::sqlx::query_as($sql.take_messages)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if rows.is_empty() {
                        // Dropping the transaction rolls it back; nothing was taken.
                        return Ok(Vec::new());
                    }
                    if let Some(delete) = $sql.delete_taken {
                        ::sqlx::query(delete)
                            .bind(&owner.domain)
                            .bind(&owner.localpart)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    tx.commit().await.map_err(db_error)?;
                    debug!(account = %owner, taken = rows.len(), "offline messages taken");
                    Ok(messages_from_rows(rows))
                }

                async fn offline_count(&self, owner: &AccountName) -> Result<usize, StoreError> {
                    let mut conn = self.pool.acquire().await.map_err(db_error)?;
                    count(&mut conn, owner).await
                }
            }

            /// Locks the owner's account row until the caller's transaction ends, where the
            /// backend needs that.
            async fn lock_account(
                conn: &mut Connection,
                owner: &AccountName,
            ) -> Result<(), StoreError> {
                if let Some(lock) = $sql.lock_account {
                    ::sqlx::query(lock)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .fetch_optional(conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }

            async fn count(
                conn: &mut Connection,
                owner: &AccountName,
            ) -> Result<usize, StoreError> {
                let (count,): (i64,) = ::sqlx::query_as($sql.count_messages)
                    .bind(&owner.domain)
                    .bind(&owner.localpart)
                    .fetch_one(conn)
                    .await
                    .map_err(db_error)?;
                count_from(count, || format!("the offline message count of {owner}"))
            }
        };
    };
}

pub(crate) use offline_store;
