//! Accounts: who may log in, and with which SCRAM keys.

use std::fmt;

use async_trait::async_trait;
use xmpp_core::sasl::{ScramCredentials, ScramHash};

use crate::StoreError;

/// An account, identified by its localpart and domain.
///
/// Callers normalize both (RFC 7622 PRECIS profiles, IDNA) before building one; the store
/// treats them as opaque, exact strings, so `Alice` and `alice` would be two accounts. Keeping
/// normalization out of the store means every backend compares names the same way.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountName {
    /// The normalized localpart (the part before `@`).
    pub localpart: String,
    /// The normalized domain the account belongs to.
    pub domain: String,
}

impl AccountName {
    /// Builds a name from already-normalized parts.
    pub fn new(localpart: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            localpart: localpart.into(),
            domain: domain.into(),
        }
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.localpart, self.domain)
    }
}

/// Account storage: existence and SCRAM credentials.
///
/// Implementations are shared between tasks (the connection manager authenticates many
/// clients at once) and held behind `Arc<dyn AccountStore>`, hence the bounds. `Debug` lets
/// the services that hold one derive their own `Debug`.
#[async_trait]
pub trait AccountStore: Send + Sync + fmt::Debug + 'static {
    /// Creates the account with credentials for each SCRAM family given (at least one, each
    /// family at most once), atomically: either the account and all its credentials exist
    /// afterwards or nothing was written.
    ///
    /// Fails with [`StoreError::AlreadyExists`] if the account is already present.
    async fn create_account(
        &self,
        name: &AccountName,
        creds: &[ScramCredentials],
    ) -> Result<(), StoreError>;

    /// Replaces all stored credentials of the account (a password change), atomically. A
    /// family that is not given is removed, so an old password cannot keep working through
    /// it.
    ///
    /// Fails with [`StoreError::NotFound`] if the account is absent.
    async fn set_credentials(
        &self,
        name: &AccountName,
        creds: &[ScramCredentials],
    ) -> Result<(), StoreError>;

    /// Deletes the account and everything stored for it.
    ///
    /// Fails with [`StoreError::NotFound`] if the account is absent.
    async fn delete_account(&self, name: &AccountName) -> Result<(), StoreError>;

    /// The credentials of one SCRAM family, or `None` if the account or that family is absent.
    ///
    /// The two cases are deliberately not distinguished: SASL must answer an unknown user
    /// exactly like a wrong password, so callers have no use for the difference.
    async fn credentials(
        &self,
        name: &AccountName,
        hash: ScramHash,
    ) -> Result<Option<ScramCredentials>, StoreError>;

    /// Whether the account exists.
    async fn account_exists(&self, name: &AccountName) -> Result<bool, StoreError>;

    /// All accounts, or those of one domain (exact match), sorted by [`AccountName`]'s `Ord`
    /// (localpart, then domain, comparing bytes) whatever the backend's collation is.
    async fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<AccountName>, StoreError>;
}

/// Checks what every backend requires of a credential set before touching the database.
///
/// An empty set would create an account nobody can log in to; two entries for one family
/// would make it ambiguous which one is stored. Rejecting both here, rather than relying on a
/// constraint, keeps a duplicate family from being misreported as a duplicate account.
pub(crate) fn validate_credentials(
    name: &AccountName,
    creds: &[ScramCredentials],
) -> Result<(), StoreError> {
    if creds.is_empty() {
        return Err(StoreError::Other(format!(
            "no credentials given for account {name}"
        )));
    }
    for (i, c) in creds.iter().enumerate() {
        if creds[..i].iter().any(|earlier| earlier.hash == c.hash) {
            return Err(StoreError::Other(format!(
                "credentials for {} given twice for account {name}",
                c.hash.as_str()
            )));
        }
        if c.iterations == 0 {
            return Err(StoreError::Other(format!(
                "iteration count 0 for {} of account {name}",
                c.hash.as_str()
            )));
        }
    }
    Ok(())
}
