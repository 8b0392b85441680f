//! [`AccountStore`] on Postgres.
//!
//! Replacing credentials deletes and re-inserts one row per family. Two replacements of one
//! account at once would both delete, then collide on inserting, so each first locks the
//! account row (`FOR UPDATE`): the second waits for the first to commit and then replaces its
//! result, and a concurrent deletion of the account is seen as `NotFound`.

use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::debug;
use xmpp_core::sasl::{ScramCredentials, ScramHash};

use super::PgStore;
use crate::account::validate_credentials;
use crate::error::{db_error, is_unique_violation};
use crate::{AccountName, AccountStore, StoreError};

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (domain, localpart) VALUES ($1, $2)";
const ACCOUNT_EXISTS: &str = "SELECT 1 FROM accounts WHERE domain = $1 AND localpart = $2";
const LOCK_ACCOUNT: &str = "SELECT 1 FROM accounts WHERE domain = $1 AND localpart = $2 FOR UPDATE";
const DELETE_ACCOUNT: &str = "DELETE FROM accounts WHERE domain = $1 AND localpart = $2";
// The columns use the "C" collation, so this is byte order: the order of `AccountName`'s `Ord`.
const LIST_ACCOUNTS: &str = "SELECT localpart, domain FROM accounts ORDER BY localpart, domain";
const LIST_DOMAIN_ACCOUNTS: &str =
    "SELECT localpart, domain FROM accounts WHERE domain = $1 ORDER BY localpart, domain";

const INSERT_CREDENTIALS: &str = "INSERT INTO scram_credentials \
     (domain, localpart, hash, salt, iterations, stored_key, server_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const DELETE_CREDENTIALS: &str =
    "DELETE FROM scram_credentials WHERE domain = $1 AND localpart = $2";
const SELECT_CREDENTIALS: &str = "SELECT salt, iterations, stored_key, server_key \
     FROM scram_credentials WHERE domain = $1 AND localpart = $2 AND hash = $3";

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(
        &self,
        name: &AccountName,
        creds: &[ScramCredentials],
    ) -> Result<(), StoreError> {
        validate_credentials(name, creds)?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A concurrent creation of the same account makes this insert wait for the other
        // transaction, then fail as a duplicate if it committed.
        let inserted = sqlx::query(INSERT_ACCOUNT)
            .bind(&name.domain)
            .bind(&name.localpart)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(name.to_string()));
            }
            Err(e) => return Err(db_error(e)),
        }
        insert_credentials(&mut tx, name, creds).await?;
        tx.commit().await.map_err(db_error)?;
        debug!(account = %name, families = creds.len(), "account created");
        Ok(())
    }

    async fn set_credentials(
        &self,
        name: &AccountName,
        creds: &[ScramCredentials],
    ) -> Result<(), StoreError> {
        validate_credentials(name, creds)?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let exists = sqlx::query(LOCK_ACCOUNT)
            .bind(&name.domain)
            .bind(&name.localpart)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .is_some();
        if !exists {
            // Dropping the transaction rolls it back; nothing was written.
            return Err(StoreError::NotFound(name.to_string()));
        }
        sqlx::query(DELETE_CREDENTIALS)
            .bind(&name.domain)
            .bind(&name.localpart)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        insert_credentials(&mut tx, name, creds).await?;
        tx.commit().await.map_err(db_error)?;
        debug!(account = %name, families = creds.len(), "credentials replaced");
        Ok(())
    }

    async fn delete_account(&self, name: &AccountName) -> Result<(), StoreError> {
        // One statement, so no explicit transaction: everything stored for the account goes
        // with it through ON DELETE CASCADE.
        let deleted = sqlx::query(DELETE_ACCOUNT)
            .bind(&name.domain)
            .bind(&name.localpart)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        debug!(account = %name, "account deleted");
        Ok(())
    }

    async fn credentials(
        &self,
        name: &AccountName,
        hash: ScramHash,
    ) -> Result<Option<ScramCredentials>, StoreError> {
        let row: Option<(Vec<u8>, i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(SELECT_CREDENTIALS)
            .bind(&name.domain)
            .bind(&name.localpart)
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some((salt, iterations, stored_key, server_key)) = row else {
            return Ok(None);
        };
        let iterations = u32::try_from(iterations).map_err(|_| {
            StoreError::Other(format!(
                "stored iteration count {iterations} of {} for {name} is out of range",
                hash.as_str()
            ))
        })?;
        Ok(Some(ScramCredentials {
            hash,
            salt,
            iterations,
            stored_key,
            server_key,
        }))
    }

    async fn account_exists(&self, name: &AccountName) -> Result<bool, StoreError> {
        let row = sqlx::query(ACCOUNT_EXISTS)
            .bind(&name.domain)
            .bind(&name.localpart)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<AccountName>, StoreError> {
        let query = match domain {
            Some(domain) => sqlx::query_as(LIST_DOMAIN_ACCOUNTS).bind(domain),
            None => sqlx::query_as(LIST_ACCOUNTS),
        };
        let rows: Vec<(String, String)> = query.fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(localpart, domain)| AccountName { localpart, domain })
            .collect())
    }
}

/// Inserts one row per family, inside the caller's transaction.
async fn insert_credentials(
    conn: &mut PgConnection,
    name: &AccountName,
    creds: &[ScramCredentials],
) -> Result<(), StoreError> {
    for c in creds {
        sqlx::query(INSERT_CREDENTIALS)
            .bind(&name.domain)
            .bind(&name.localpart)
            .bind(c.hash.as_str())
            .bind(c.salt.as_slice())
            .bind(i64::from(c.iterations))
            .bind(c.stored_key.as_slice())
            .bind(c.server_key.as_slice())
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
