//! The stream header: the attributes of the opening `<stream:stream>` tag (RFC 6120 §4.7).

use xmpp_core::{StreamError, StreamErrorCondition};

/// The attributes of a stream header (RFC 6120 §4.7) and its content namespace (§4.8.2).
///
/// The reader reports what was sent and checks only what makes the stream unreadable
/// (namespaces); whether `to` is served or the version is acceptable is the caller's decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamHeader {
    /// `to` (§4.7.2), as sent.
    pub to: Option<String>,
    /// `from` (§4.7.1), as sent.
    pub from: Option<String>,
    /// `id` (§4.7.3), as sent.
    pub id: Option<String>,
    /// `version` (§4.7.5), as sent.
    pub version: Option<String>,
    /// `xml:lang` (§4.7.4), as sent.
    pub lang: Option<String>,
    /// The default namespace of the stream, `jabber:client` or `jabber:server` (§4.8.2).
    pub content_ns: String,
}

impl StreamHeader {
    /// Checks that the peer speaks XMPP 1.x.
    ///
    /// RFC 6120 §4.7.5: a missing `version` means the peer only supports the pre-1.0 protocol
    /// ("0.9"), without stream features, SASL or TLS negotiation. Starling does not support it,
    /// so that is `<unsupported-version/>` (§4.9.3.25). The version is `<major>.<minor>`, two
    /// integers compared numerically with leading zeros ignored: any 1.x is accepted, since a
    /// higher minor only adds capabilities the lower side ignores. A different major version
    /// means stream or stanza formats changed incompatibly; we refuse it rather than answer
    /// with "1.0" and hope the peer falls back. A version that is not two integers is refused
    /// the same way, since it cannot be compared.
    pub fn check_version(&self) -> Result<(), StreamError> {
        let unsupported = |text: &str| {
            Err(StreamError::with_text(
                StreamErrorCondition::UnsupportedVersion,
                text,
            ))
        };
        let Some(version) = &self.version else {
            return unsupported(
                "XMPP 1.0 is required; streams without a version are not supported",
            );
        };
        match parse_version(version) {
            Some((1, _)) => Ok(()),
            Some(_) => unsupported("only XMPP 1.x is supported"),
            None => unsupported("the version must be <major>.<minor>"),
        }
    }
}

/// Parses `<major>.<minor>` (RFC 6120 §4.7.5): two decimal integers, leading zeros ignored.
fn parse_version(v: &str) -> Option<(u64, u64)> {
    let (major, minor) = v.split_once('.')?;
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Leading zeros are ignored; a run of digits too long for u64 is saturated, which
        // still compares correctly against 1.
        let digits = s.trim_start_matches('0');
        Some(
            digits
                .parse::<u64>()
                .unwrap_or(if digits.is_empty() { 0 } else { u64::MAX }),
        )
    };
    Some((number(major)?, number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(version: Option<&str>) -> Result<(), StreamErrorCondition> {
        StreamHeader {
            version: version.map(str::to_owned),
            ..StreamHeader::default()
        }
        .check_version()
        .map_err(|e| e.condition)
    }

    #[test]
    fn versions_of_section_4_7_5() {
        assert_eq!(check(Some("1.0")), Ok(()));
        assert_eq!(check(Some("1.5")), Ok(()));
        assert_eq!(check(Some("1.13")), Ok(()));
        assert_eq!(check(Some("01.0")), Ok(()), "leading zeros are ignored");
        assert_eq!(check(Some("1.99999999999999999999999")), Ok(()));
        let unsupported = Err(StreamErrorCondition::UnsupportedVersion);
        assert_eq!(check(None), unsupported, "no version means 0.9");
        assert_eq!(check(Some("0.9")), unsupported);
        assert_eq!(check(Some("2.0")), unsupported);
        assert_eq!(check(Some("12.3")), unsupported);
        assert_eq!(check(Some("1")), unsupported);
        assert_eq!(check(Some("1.")), unsupported);
        assert_eq!(check(Some("1.x")), unsupported);
        assert_eq!(check(Some(" 1.0")), unsupported);
        assert_eq!(check(Some("")), unsupported);
    }
}
