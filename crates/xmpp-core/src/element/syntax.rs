//! The XML 1.0 and XML-NAMES character and name rules that quick-xml leaves unchecked.
//!
//! Shared by every parser that builds [`Element`](super::Element)s (the stream reader and
//! [`Element::from_xml`](super::Element::from_xml)), so both accept exactly the same names
//! and characters.

/// XML §2.2 `Char`: the characters an XML document may contain at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `bytes` may hold a character XML does not allow (XML §2.2): a control character
/// other than tab and line ends, or the first byte of U+FFFE/U+FFFF (`EF`, which also starts
/// many allowed characters). `false` settles it; after `true`, look at the characters.
/// Surrogates cannot be encoded in valid UTF-8.
///
/// Why: it is a fold over the bytes, not an early-exit search, so it vectorizes. Checking
/// `char` by `char` instead made [`Element::from_xml`](super::Element::from_xml) of a
/// 308-byte presence take 2.87 µs instead of 2.43 µs (`benches/from_xml.rs`).
pub fn may_hold_non_xml_char(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |suspect, &b| suspect | is_suspect(b))
}

/// A byte that needs a closer look (see [`may_hold_non_xml_char`]).
fn is_suspect(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r') | (b == 0xEF)
}

/// XML-NAMES §4 `QName`: one NCName, or two joined by a colon (`prefix:local`).
pub fn is_qname(name: &str) -> bool {
    match name.split_once(':') {
        None => is_ncname(name),
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
    }
}

/// XML §2.3 `Name` (colons allowed anywhere), as in entity references.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == ':' || is_name_start(c))
        && chars.all(|c| c == ':' || is_name_char(c))
}

/// XML-NAMES §3 `NCName`: a `Name` without colons.
pub fn is_ncname(s: &str) -> bool {
    if let [first, rest @ ..] = s.as_bytes()
        && first.is_ascii_alphabetic() | (*first == b'_')
        && rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() | matches!(b, b'_' | b'-' | b'.'))
    {
        // The common, all-ASCII case.
        return true;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// XML §2.3 `NameStartChar`, without the colon.
fn is_name_start(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic() || c == '_';
    }
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML §2.3 `NameChar`, without the colon.
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    }
    is_name_start(c) || matches!(c, '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML §3.1: attributes are separated by white space (`a='1'b='2'` is not well-formed), which
/// quick-xml's attribute iterator does not check. `raw` is the text of a start tag after its
/// name. An unterminated value passes here: the attribute parser reports it.
pub fn attributes_separated(raw: &str) -> bool {
    let mut rest = raw.as_bytes();
    while let Some(open) = rest.iter().position(|&b| b == b'\'' || b == b'"') {
        let quote = rest[open];
        let after = &rest[open + 1..];
        let Some(close) = after.iter().position(|&b| b == quote) else {
            return true;
        };
        rest = &after[close + 1..];
        if rest
            .first()
            .is_some_and(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return false;
        }
    }
    true
}
