//! XMPP addresses (JIDs) as defined by RFC 7622.
//!
//! A [`Jid`] is always stored in its enforced (normalized) form, so two addresses that
//! RFC 7622 considers equivalent compare equal byte for byte (§3.2.3, and RFC 8265 for the
//! PRECIS-based parts). Every part is normalized once, when the value is built; all later
//! comparisons, hashes and lookups are plain string operations.
//!
//! Deliberate choices, each discussed where it is implemented:
//!
//! * Example 18 of RFC 7622 §3.5 (`juliet@example.com/ foo`) is accepted: the table lists it
//!   as invalid, but no rule of the OpaqueString profile (RFC 8265 §4.2) that the resourcepart
//!   is defined by forbids a leading space. Rejecting an address other servers accept would
//!   lose stanzas.
//! * Domainparts are processed with UTS 46 non-transitional processing (IDNA2008-compatible,
//!   so `ß` stays `ß`), kept as lowercase U-labels. The RFC 1034 limit of 63 octets per label
//!   (in A-label form) is enforced; the 253-octet total is not, so the RFC 7622 limit of 1023
//!   octets is the one that applies.
//! * The PRECIS profiles come from `precis-profiles`, which uses a newer Unicode version than
//!   the RFC's reference tables; code points unassigned in Unicode 6.3 may therefore be accepted.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};

#[cfg(test)]
mod tests;

/// Maximum length of each part in octets, after normalization (RFC 7622 §3.1).
pub const MAX_PART_LEN: usize = 1023;

/// Maximum length of one DNS label in octets (RFC 1034 §3.1), checked on the A-label form.
const MAX_LABEL_LEN: usize = 63;

/// Characters that the UsernameCaseMapped profile allows but XMPP localparts do not
/// (RFC 7622 §3.3.1).
const FORBIDDEN_IN_LOCALPART: [char; 8] = ['"', '&', '\'', '/', ':', '<', '>', '@'];

/// Why a string is not a valid JID or JID part. Stanza handlers map every variant to
/// `<jid-malformed/>` (RFC 6120 §8.3.3.8); the variants exist for logs and tests.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum JidError {
    /// An `@` separator with nothing before it (RFC 7622 §3.3).
    #[error("empty localpart (RFC 7622 §3.3)")]
    EmptyLocalpart,
    /// No domainpart, or only a trailing dot (RFC 7622 §3.2).
    #[error("empty domainpart (RFC 7622 §3.2)")]
    EmptyDomainpart,
    /// A `/` separator with nothing after it (RFC 7622 §3.4).
    #[error("empty resourcepart (RFC 7622 §3.4)")]
    EmptyResourcepart,
    /// The normalized localpart is longer than 1023 octets; carries its length.
    #[error("localpart is {0} octets long after normalization, the limit is 1023 (RFC 7622 §3.3)")]
    LocalpartTooLong(usize),
    /// The normalized domainpart is longer than 1023 octets; carries its length.
    #[error("domainpart is {0} octets long after normalization, the limit is 1023 (RFC 7622 §3.2)")]
    DomainpartTooLong(usize),
    /// The normalized resourcepart is longer than 1023 octets; carries its length.
    #[error(
        "resourcepart is {0} octets long after normalization, the limit is 1023 (RFC 7622 §3.4)"
    )]
    ResourcepartTooLong(usize),
    /// The localpart is rejected by the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3).
    #[error("localpart is not allowed by the UsernameCaseMapped profile (RFC 7622 §3.3)")]
    InvalidLocalpart,
    /// The domainpart is neither an IP literal nor a valid IDNA domain name (RFC 7622 §3.2).
    #[error("domainpart is not a valid domain name or IP literal (RFC 7622 §3.2)")]
    InvalidDomainpart,
    /// The resourcepart is rejected by the PRECIS OpaqueString profile (RFC 8265 §4.2).
    #[error("resourcepart is not allowed by the OpaqueString profile (RFC 7622 §3.4)")]
    InvalidResourcepart,
    /// The localpart contains one of the characters RFC 7622 §3.3.1 excludes.
    #[error("character {0:?} is not allowed in a localpart (RFC 7622 §3.3.1)")]
    ForbiddenLocalpartChar(char),
}

/// A normalized XMPP address: `[localpart "@"] domainpart ["/" resourcepart]`.
///
/// JIDs are copied into routing tables and session maps, so the value is one shared string
/// (cloning is a reference-count increment) plus two 16-bit offsets; every part is at most
/// 1023 octets, so the whole string (at most 3071 octets) fits in `u16` offsets.
///
/// Equality, ordering and hashing are those of [`Jid::as_str`], which lets a
/// `HashMap<Jid, _>` be queried with a `&str` that is already normalized.
#[derive(Clone)]
pub struct Jid {
    full: Arc<str>,
    /// Octet length of the localpart, 0 if there is none (an empty localpart is invalid,
    /// so 0 cannot be ambiguous).
    local_len: u16,
    /// Offset where the domainpart ends: the `/` separator, or the end of the string.
    domain_end: u16,
}

impl Jid {
    /// Parses and normalizes a JID.
    ///
    /// The separators are located before any normalization (RFC 7622 §3.1 implementation
    /// note): the resourcepart is everything after the first `/`, and the localpart is what
    /// precedes the first `@` before that `/` (§3.2, see example 15 of §3.5).
    pub fn new(s: &str) -> Result<Jid, JidError> {
        let (head, resource) = match s.split_once('/') {
            Some((head, resource)) => (head, Some(resource)),
            None => (s, None),
        };
        let (local, domain) = match head.split_once('@') {
            Some((local, domain)) => (Some(local), domain),
            None => (None, head),
        };
        Self::from_parts(local, domain, resource)
    }

    /// Builds a JID from separate parts, normalizing each one. `Some("")` for the localpart or
    /// resourcepart is an error, as it would be with the separator present in [`Jid::new`].
    pub fn from_parts(
        local: Option<&str>,
        domain: &str,
        resource: Option<&str>,
    ) -> Result<Jid, JidError> {
        let local = local.map(localpart).transpose()?;
        let domain = domainpart(domain)?;
        let resource = resource.map(resourcepart).transpose()?;
        Ok(Self::assemble(
            local.as_deref(),
            &domain,
            resource.as_deref(),
        ))
    }

    /// Joins already-normalized, length-checked parts.
    fn assemble(local: Option<&str>, domain: &str, resource: Option<&str>) -> Jid {
        let len =
            local.map_or(0, |l| l.len() + 1) + domain.len() + resource.map_or(0, |r| r.len() + 1);
        let mut s = String::with_capacity(len);
        if let Some(local) = local {
            s.push_str(local);
            s.push('@');
        }
        s.push_str(domain);
        let domain_end = s.len();
        if let Some(resource) = resource {
            s.push('/');
            s.push_str(resource);
        }
        // Each part is at most MAX_PART_LEN octets (checked by the normalizers), so the
        // whole string is at most 3071 octets and the offsets fit in u16.
        debug_assert!(s.len() <= 3 * MAX_PART_LEN + 2);
        Jid {
            full: Arc::from(s),
            local_len: local.map_or(0, str::len) as u16,
            domain_end: domain_end as u16,
        }
    }

    fn domain_start(&self) -> usize {
        match self.local_len {
            0 => 0,
            n => usize::from(n) + 1,
        }
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        match self.local_len {
            0 => None,
            n => Some(&self.full[..usize::from(n)]),
        }
    }

    /// The domainpart, the only part every JID has.
    pub fn domain(&self) -> &str {
        &self.full[self.domain_start()..usize::from(self.domain_end)]
    }

    /// The resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        let end = usize::from(self.domain_end);
        (end < self.full.len()).then(|| &self.full[end + 1..])
    }

    /// True when the JID has no resourcepart (RFC 6120 §1.4 "bare JID").
    pub fn is_bare(&self) -> bool {
        usize::from(self.domain_end) == self.full.len()
    }

    /// True when the JID has a resourcepart (RFC 6120 §1.4 "full JID").
    pub fn is_full(&self) -> bool {
        !self.is_bare()
    }

    /// The JID without its resourcepart. Cheap (no allocation) when already bare.
    pub fn bare(&self) -> Jid {
        if self.is_bare() {
            return self.clone();
        }
        Jid {
            full: Arc::from(&self.full[..usize::from(self.domain_end)]),
            local_len: self.local_len,
            domain_end: self.domain_end,
        }
    }

    /// The JID of the domain alone, e.g. the server or service hosting this address.
    pub fn domain_jid(&self) -> Jid {
        if self.local_len == 0 && self.is_bare() {
            return self.clone();
        }
        let domain = self.domain();
        Jid {
            full: Arc::from(domain),
            local_len: 0,
            domain_end: domain.len() as u16,
        }
    }

    /// This JID's bare part with `resource` (normalized) as its resourcepart, e.g. for
    /// resource binding (RFC 6120 §7).
    pub fn with_resource(&self, resource: &str) -> Result<Jid, JidError> {
        let resource = resourcepart(resource)?;
        Ok(Self::assemble(self.local(), self.domain(), Some(&resource)))
    }

    /// The normalized string form.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// How many `Jid` values share this one's storage (clones count, equal JIDs parsed
    /// separately do not): lets a pool of shared JIDs see which ones only it still holds.
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.full)
    }
}

impl PartialEq for Jid {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.full, &other.full) || self.full == other.full
    }
}

impl Eq for Jid {}

impl Hash for Jid {
    // Must hash exactly like `str`, because of `Borrow<str>`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Jid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Jid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Borrow<str> for Jid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Jid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Jid").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jid::new(s)
    }
}

impl TryFrom<&str> for Jid {
    type Error = JidError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Jid::new(s)
    }
}

/// Enforces the localpart rules: PRECIS UsernameCaseMapped (RFC 7622 §3.3, RFC 8265 §3.3),
/// the extra exclusions of §3.3.1 and the 1023-octet limit.
pub fn normalize_localpart(s: &str) -> Result<String, JidError> {
    localpart(s).map(Cow::into_owned)
}

/// Enforces the domainpart rules of RFC 7622 §3.2: strips one trailing dot, accepts IPv4
/// addresses and bracketed IPv6 literals (RFC 3986 §3.2.2, zone identifiers are not
/// accepted), and otherwise applies IDNA (UTS 46 non-transitional mapping, STD3 ASCII rules)
/// and returns lowercase U-labels (§3.2.1: A-labels are converted to U-labels).
pub fn normalize_domainpart(s: &str) -> Result<String, JidError> {
    domainpart(s).map(Cow::into_owned)
}

/// Enforces the resourcepart rules: PRECIS OpaqueString (RFC 7622 §3.4, RFC 8265 §4.2) and
/// the 1023-octet limit. Case is preserved.
pub fn normalize_resourcepart(s: &str) -> Result<String, JidError> {
    resourcepart(s).map(Cow::into_owned)
}

fn localpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    if s.is_empty() {
        return Err(JidError::EmptyLocalpart);
    }
    let out = if s.bytes().all(|b| b.is_ascii_graphic()) {
        // Fast path: U+0021..U+007E are PVALID in the IdentifierClass (RFC 8264 §9.11), and
        // for them UsernameCaseMapped reduces to ASCII lowercasing (no width mapping, NFC
        // is the identity, no bidi rule). A property test checks this against the profile.
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        UsernameCaseMapped::enforce(s).map_err(|_| JidError::InvalidLocalpart)?
    };
    // After enforcement: width mapping can turn e.g. U+FF20 into '@' (RFC 7622 §3.1 note).
    if let Some(c) = out.chars().find(|c| FORBIDDEN_IN_LOCALPART.contains(c)) {
        return Err(JidError::ForbiddenLocalpartChar(c));
    }
    if out.len() > MAX_PART_LEN {
        return Err(JidError::LocalpartTooLong(out.len()));
    }
    Ok(out)
}

fn resourcepart(s: &str) -> Result<Cow<'_, str>, JidError> {
    if s.is_empty() {
        return Err(JidError::EmptyResourcepart);
    }
    let out = if s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        // Fast path: printable ASCII and space are PVALID in the FreeformClass and
        // OpaqueString maps none of them (RFC 8265 §4.2.2).
        Cow::Borrowed(s)
    } else {
        OpaqueString::enforce(s).map_err(|_| JidError::InvalidResourcepart)?
    };
    if out.len() > MAX_PART_LEN {
        return Err(JidError::ResourcepartTooLong(out.len()));
    }
    Ok(out)
}

fn domainpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    // §3.2: the final dot is stripped before any other canonicalization step.
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err(JidError::EmptyDomainpart);
    }
    let out = if let Some(literal) = s.strip_prefix('[') {
        // RFC 3986 IP-literal; IPvFuture and RFC 6874 zone identifiers have no use in XMPP.
        let addr: Ipv6Addr = literal
            .strip_suffix(']')
            .and_then(|a| a.parse().ok())
            .ok_or(JidError::InvalidDomainpart)?;
        // The RFC 5952 text form, so that equal addresses compare equal.
        Cow::Owned(format!("[{addr}]"))
    } else if s.parse::<Ipv4Addr>().is_ok() {
        // The std parser accepts only the canonical dotted-decimal form.
        Cow::Borrowed(s)
    } else if let Some(ascii) = ldh_fast_path(s) {
        ascii
    } else {
        idna_domain(s)?
    };
    if out.len() > MAX_PART_LEN {
        return Err(JidError::DomainpartTooLong(out.len()));
    }
    Ok(out)
}

/// The common case: an ASCII letter-digit-hyphen name without A-labels. UTS 46 maps such a
/// name to its lowercase form; a property test checks this against the full processing.
fn ldh_fast_path(s: &str) -> Option<Cow<'_, str>> {
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL_LEN
            && !l.starts_with('-')
            && !l.ends_with('-')
            && !l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !s.split('.').all(valid_label) {
        return None;
    }
    Some(if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    })
}

/// Full IDNA processing (RFC 7622 §3.2.1, §3.2.2): validate through ToASCII, check the
/// label lengths on the A-labels, and store the ToUnicode form.
fn idna_domain(s: &str) -> Result<Cow<'static, str>, JidError> {
    // Hyphens: only the first and last positions are checked. Full CheckHyphens would also
    // reject "--" in positions 3-4, which names in real use contain.
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            s.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map_err(|_| JidError::InvalidDomainpart)?;
    if !ascii
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN)
    {
        return Err(JidError::InvalidDomainpart);
    }
    let (unicode, result) = uts46.to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    result.map_err(|_| JidError::InvalidDomainpart)?;
    Ok(Cow::Owned(unicode.into_owned()))
}
