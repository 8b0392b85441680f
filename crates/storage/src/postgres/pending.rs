//! [`PendingSubscriptionStore`] on Postgres. Each operation is a single statement, atomic on
//! its own: `INSERT .. ON CONFLICT DO UPDATE` never fails on a concurrent insert of the same
//! key, so of two requests from one contact arriving at once the later one is kept (one per
//! contact, RFC 6121 §3.1.3).

use async_trait::async_trait;
use tracing::debug;

use super::{PgStore, owner_write_error};
use crate::error::db_error;
use crate::{AccountName, PendingSubscriptionStore, StoreError};

const UPSERT_PENDING: &str = "INSERT INTO pending_subscriptions \
     (domain, localpart, contact, stanza_xml) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (domain, localpart, contact) DO UPDATE SET stanza_xml = excluded.stanza_xml";
const DELETE_PENDING: &str =
    "DELETE FROM pending_subscriptions WHERE domain = $1 AND localpart = $2 AND contact = $3";
// The "C" collation: byte order, as the trait promises.
const SELECT_PENDING: &str = "SELECT contact, stanza_xml FROM pending_subscriptions \
     WHERE domain = $1 AND localpart = $2 ORDER BY contact";

#[async_trait]
impl PendingSubscriptionStore for PgStore {
    async fn put_pending_in(
        &self,
        owner: &AccountName,
        contact: &str,
        stanza_xml: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(UPSERT_PENDING)
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
        let removed = sqlx::query(DELETE_PENDING)
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

    async fn pending_in(&self, owner: &AccountName) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as(SELECT_PENDING)
            .bind(&owner.domain)
            .bind(&owner.localpart)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }
}
