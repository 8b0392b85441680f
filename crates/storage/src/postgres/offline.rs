//! [`OfflineStore`] on Postgres.
//!
//! Counting and inserting are two statements, and at `READ COMMITTED` two pushes could both
//! count `quota - 1` and both insert. So pushes and takes first lock the owner's `accounts`
//! row (`SELECT .. FOR UPDATE`) and hold it until they commit: one account's pushes and takes
//! run one after the other, which makes the quota exact (RFC 6121 §8.5.2.2.1 lets the server
//! bounce what it will not store) and gives every message to exactly one take. Other
//! accounts are not held up. Since one account's pushes commit in the order they got their
//! identity values, ordering by `id` is arrival order.

use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::debug;

use super::{PgStore, count_from, owner_write_error};
use crate::error::db_error;
use crate::{AccountName, OfflineMessage, OfflineStore, StoreError};

const LOCK_ACCOUNT: &str = "SELECT 1 FROM accounts WHERE domain = $1 AND localpart = $2 FOR UPDATE";
const COUNT_MESSAGES: &str =
    "SELECT COUNT(*) FROM offline_messages WHERE domain = $1 AND localpart = $2";
const INSERT_MESSAGE: &str = "INSERT INTO offline_messages \
     (domain, localpart, stanza_xml, stamp_unix_ms) VALUES ($1, $2, $3, $4)";
/// Deletes and returns the account's messages in one statement, in arrival order.
const TAKE_MESSAGES: &str = "WITH taken AS (\
     DELETE FROM offline_messages WHERE domain = $1 AND localpart = $2 \
     RETURNING id, stanza_xml, stamp_unix_ms) \
     SELECT stanza_xml, stamp_unix_ms FROM taken ORDER BY id";

#[async_trait]
impl OfflineStore for PgStore {
    async fn push_offline(
        &self,
        owner: &AccountName,
        stanza_xml: &str,
        stamp_unix_ms: i64,
        quota: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // An absent account locks nothing; the insert then fails on the foreign key, unless
        // the quota refuses first (as on SQLite, the quota is checked before the owner).
        lock_account(&mut tx, owner).await?;
        let stored = count(&mut tx, owner).await?;
        if stored >= quota {
            return Err(StoreError::QuotaExceeded(owner.to_string()));
        }
        sqlx::query(INSERT_MESSAGE)
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

    async fn take_offline(&self, owner: &AccountName) -> Result<Vec<OfflineMessage>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_account(&mut tx, owner).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(TAKE_MESSAGES)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        if !rows.is_empty() {
            debug!(account = %owner, taken = rows.len(), "offline messages taken");
        }
        Ok(rows
            .into_iter()
            .map(|(stanza_xml, stamp_unix_ms)| OfflineMessage {
                stanza_xml,
                stamp_unix_ms,
            })
            .collect())
    }

    async fn offline_count(&self, owner: &AccountName) -> Result<usize, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        count(&mut conn, owner).await
    }
}

/// Locks the owner's account row until the caller's transaction ends.
async fn lock_account(conn: &mut PgConnection, owner: &AccountName) -> Result<(), StoreError> {
    sqlx::query(LOCK_ACCOUNT)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn count(conn: &mut PgConnection, owner: &AccountName) -> Result<usize, StoreError> {
    let (count,): (i64,) = sqlx::query_as(COUNT_MESSAGES)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .fetch_one(conn)
        .await
        .map_err(db_error)?;
    count_from(count, || format!("the offline message count of {owner}"))
}
