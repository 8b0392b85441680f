//! [`PendingSubscriptionStore`](crate::PendingSubscriptionStore) on either SQL backend: the
//! macro [`pending_store!`].
//!
//! It is a macro rather than generic functions for the reason given in [`crate::sql`]: sqlx's
//! executor bounds. Each backend passes its store type (whose `pool` field the expansion
//! uses) and a [`PendingSql`] with its statements; nothing else differs, since each operation
//! is a single statement, atomic on its own.

/// The statements of the pending subscription store in one backend's dialect. Parameters are
/// numbered in the order given here.
#[derive(Debug)]
pub(crate) struct PendingSql {
    /// Stores a request, replacing the contact's older one (domain, localpart, contact,
    /// stanza_xml); a missing account fails as a foreign key violation.
    pub upsert_pending: &'static str,
    /// Deletes the contact's request, if any (domain, localpart, contact).
    pub delete_pending: &'static str,
    /// `(contact, stanza_xml)` of every request for an account (domain, localpart), in byte
    /// order of contact, as the trait promises.
    pub select_pending: &'static str,
}

/// Implements [`PendingSubscriptionStore`](crate::PendingSubscriptionStore) for `store`, a
/// struct with a `pool: sqlx::Pool<_>` field, running the statements of `sql`, a
/// [`PendingSql`].
macro_rules! pending_store {
    (store: $store:ty, sql: $sql:path $(,)?) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::tracing::debug;

            use $crate::error::db_error;
            use $crate::sql::owner_write_error;
            use $crate::{AccountName, PendingSubscriptionStore, StoreError};

            #[async_trait]
            impl PendingSubscriptionStore for $store {
                async fn put_pending_in(
                    &self,
                    owner: &AccountName,
                    contact: &str,
                    stanza_xml: &str,
                ) -> Result<(), StoreError> {
                    let _turn = self.write_turn().await?;
                    ::sqlx::query($sql.upsert_pending)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .bind(contact)
                        .bind(stanza_xml)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| owner_write_error(e, owner))?;
                    debug!(account = %owner, contact, "subscription request stored");
                    Ok(())
                }

                async fn remove_pending_in(
                    &self,
                    owner: &AccountName,
                    contact: &str,
                ) -> Result<(), StoreError> {
                    let _turn = self.write_turn().await?;
                    let removed = ::sqlx::query($sql.delete_pending)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .bind(contact)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                    if removed > 0 {
                        debug!(account = %owner, contact, "subscription request dropped");
                    }
                    Ok(())
                }

                async fn pending_in(
                    &self,
                    owner: &AccountName,
                ) -> Result<Vec<(String, String)>, StoreError> {
                    ::sqlx::query_as($sql.select_pending)
                        .bind(&owner.domain)
                        .bind(&owner.localpart)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)
                }
            }
        };
    };
}

pub(crate) use pending_store;
