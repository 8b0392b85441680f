//! [`AccountStore`](crate::AccountStore) on either SQL backend: the macro [`account_store!`].
//!
//! It is a macro rather than generic functions for the reason given in [`crate::sql`]: sqlx's
//! executor bounds. Each backend passes its store type (whose `pool` field the expansion
//! uses), its `sqlx` database type, and an [`AccountSql`] with its statements. The backends
//! differ only in how they keep two credential replacements of one account apart:
//!
//! - SQLite begins writes with `BEGIN IMMEDIATE`, which takes the file's write lock, and its
//!   [`AccountSql::lock_account`] merely checks that the account exists;
//! - Postgres begins them with a plain `BEGIN` and locks the account row there
//!   (`SELECT .. FOR UPDATE`).

use xmpp_core::sasl::{ScramCredentials, ScramHash};

use crate::{AccountName, StoreError};

/// The statements of the account store in one backend's dialect. Parameters are numbered in
/// the order given here.
#[derive(Debug)]
pub(crate) struct AccountSql {
    /// Begins a transaction that creates an account or replaces its credentials.
    pub begin_write: &'static str,
    /// Inserts an account (domain, localpart); a duplicate fails as a unique violation.
    pub insert_account: &'static str,
    /// Some row if the account (domain, localpart) exists.
    pub account_exists: &'static str,
    /// Like `account_exists`, inside the transaction of a credential replacement, and holding
    /// off other replacements of the account until it ends where the transaction itself does
    /// not.
    pub lock_account: &'static str,
    /// Deletes an account (domain, localpart) and, by `ON DELETE CASCADE`, all it owns.
    pub delete_account: &'static str,
    /// `(localpart, domain)` of every account, in byte order of localpart, then domain: the
    /// order of [`AccountName`]'s `Ord`.
    pub list_accounts: &'static str,
    /// The same for the accounts of one domain (domain).
    pub list_domain_accounts: &'static str,
    /// Inserts one family's credentials (domain, localpart, hash, salt, iterations,
    /// stored_key, server_key).
    pub insert_credentials: &'static str,
    /// Deletes the credentials of every family of an account (domain, localpart).
    pub delete_credentials: &'static str,
    /// A [`CredentialsRow`] of one family (domain, localpart, hash name).
    pub select_credentials: &'static str,
}

/// A `scram_credentials` row as selected: salt, iterations, StoredKey, ServerKey.
pub(crate) type CredentialsRow = (Vec<u8>, i64, Vec<u8>, Vec<u8>);

/// The credentials of family `hash` of account `name`, from their row.
pub(crate) fn credentials_from_row(
    name: &AccountName,
    hash: ScramHash,
    row: CredentialsRow,
) -> Result<ScramCredentials, StoreError> {
    let (salt, iterations, stored_key, server_key) = row;
    let iterations = u32::try_from(iterations).map_err(|_| {
        StoreError::Other(format!(
            "stored iteration count {iterations} of {} for {name} is out of range",
            hash.as_str()
        ))
    })?;
    Ok(ScramCredentials {
        hash,
        salt,
        iterations,
        stored_key,
        server_key,
    })
}

/// Implements [`AccountStore`](crate::AccountStore) for `store`, a struct with a
/// `pool: sqlx::Pool<database>` field and a `reader()` method for single-statement reads
/// (the pool's [`PoolReader`](crate::sql::PoolReader) or one of the same shape), running the
/// statements of `sql`, an [`AccountSql`].
macro_rules! account_store {
    (store: $store:ty, database: $db:ty, sql: $sql:path $(,)?) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::tracing::debug;
            use ::xmpp_core::sasl::{ScramCredentials, ScramHash};

            use $crate::account::validate_credentials;
            use $crate::error::{db_error, is_unique_violation};
            use $crate::sql::accounts::{CredentialsRow, credentials_from_row};
            use $crate::sql::begin;
            use $crate::{AccountName, AccountStore, StoreError};

            #[async_trait]
            impl AccountStore for $store {
                async fn create_account(
                    &self,
                    name: &AccountName,
                    creds: &[ScramCredentials],
                ) -> Result<(), StoreError> {
                    validate_credentials(name, creds)?;
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    // A concurrent creation of the same account makes this wait for the other
                    // transaction (at the insert on Postgres, for the write lock on SQLite),
                    // then fail as a duplicate if it committed.
                    let inserted = ::sqlx::query($sql.insert_account)
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
                    let _turn = self.write_turn().await?;
                    let mut tx = begin(&self.pool, $sql.begin_write).await?;
                    let exists = ::sqlx::query($sql.lock_account)
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
                    ::sqlx::query($sql.delete_credentials)
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
                    // One statement, so no explicit transaction: the credentials and everything
                    // else stored for the account go with it through ON DELETE CASCADE.
                    let _turn = self.write_turn().await?;
                    let deleted = ::sqlx::query($sql.delete_account)
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
                    let mut reader = self.reader().await?;
                    let row = ::sqlx::query_as($sql.select_credentials)
                        .bind(&name.domain)
                        .bind(&name.localpart)
                        .bind(hash.as_str())
                        .fetch_optional(reader.executor())
                        .await;
                    let row: Option<CredentialsRow> = reader.finish(row)?;
                    row.map(|row| credentials_from_row(name, hash, row))
                        .transpose()
                }

                async fn account_exists(&self, name: &AccountName) -> Result<bool, StoreError> {
                    let mut reader = self.reader().await?;
                    let row = ::sqlx::query($sql.account_exists)
                        .bind(&name.domain)
                        .bind(&name.localpart)
                        .fetch_optional(reader.executor())
                        .await;
                    Ok(reader.finish(row)?.is_some())
                }

                async fn list_accounts(
                    &self,
                    domain: Option<&str>,
                ) -> Result<Vec<AccountName>, StoreError> {
                    let query = match domain {
                        Some(domain) => ::sqlx::query_as($sql.list_domain_accounts).bind(domain),
                        None => ::sqlx::query_as($sql.list_accounts),
                    };
                    let rows: Vec<(String, String)> =
                        query.fetch_all(&self.pool).await.map_err(db_error)?;
                    Ok(rows
                        .into_iter()
                        .map(|(localpart, domain)| AccountName { localpart, domain })
                        .collect())
                }
            }

            /// Inserts one row per family, inside the caller's transaction.
            async fn insert_credentials(
                conn: &mut <$db as ::sqlx::Database>::Connection,
                name: &AccountName,
                creds: &[ScramCredentials],
            ) -> Result<(), StoreError> {
                for c in creds {
                    ::sqlx::query($sql.insert_credentials)
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
        };
    };
}

pub(crate) use account_store;
