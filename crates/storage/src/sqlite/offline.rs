//! [`OfflineStore`] on SQLite.
//!
//! Pushes count and insert inside one `BEGIN IMMEDIATE` transaction, which holds the file's
//! write lock throughout, so the quota is exact even with several processes on one file.
//! Takes select and delete inside one as well, so every message is delivered exactly once.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use tracing::debug;

use super::{SqliteStore, owner_write_error};
use crate::error::db_error;
use crate::{AccountName, OfflineMessage, OfflineStore, StoreError};

const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

const COUNT_MESSAGES: &str =
    "SELECT COUNT(*) FROM offline_messages WHERE domain = ?1 AND localpart = ?2";
const INSERT_MESSAGE: &str = "INSERT INTO offline_messages \
     (domain, localpart, stanza_xml, stamp_unix_ms) VALUES (?1, ?2, ?3, ?4)";
const SELECT_MESSAGES: &str = "SELECT stanza_xml, stamp_unix_ms FROM offline_messages \
     WHERE domain = ?1 AND localpart = ?2 ORDER BY id";
const DELETE_MESSAGES: &str = "DELETE FROM offline_messages WHERE domain = ?1 AND localpart = ?2";

#[async_trait]
impl OfflineStore for SqliteStore {
    async fn push_offline(
        &self,
        owner: &AccountName,
        stanza_xml: &str,
        stamp_unix_ms: i64,
        quota: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(db_error)?;
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(db_error)?;
        let rows: Vec<(String, i64)> = sqlx::query_as(SELECT_MESSAGES)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(DELETE_MESSAGES)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        debug!(account = %owner, taken = rows.len(), "offline messages taken");
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

async fn count(conn: &mut SqliteConnection, owner: &AccountName) -> Result<usize, StoreError> {
    let (count,): (i64,) = sqlx::query_as(COUNT_MESSAGES)
        .bind(&owner.domain)
        .bind(&owner.localpart)
        .fetch_one(conn)
        .await
        .map_err(db_error)?;
    usize::try_from(count)
        .map_err(|_| StoreError::Other(format!("{owner} has {count} offline messages")))
}
