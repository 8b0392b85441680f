//! The attribute syntax that the SCRAM client and server share (RFC 5802 §5.1, §7).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::SaslFailure;

/// Length in bytes of the random part of a nonce; its base64 form is 32 characters.
pub(crate) const NONCE_BYTES: usize = 24;

/// SCRAM messages are UTF-8 text (RFC 5802 §7: `value-char` excludes NUL).
pub(crate) fn text(msg: &[u8]) -> Result<&str, SaslFailure> {
    let s = std::str::from_utf8(msg).map_err(|_| SaslFailure::MalformedRequest)?;
    if s.contains('\0') {
        return Err(SaslFailure::MalformedRequest);
    }
    Ok(s)
}

/// The value of the field `name=value`, or `None` when the field has another name.
pub(crate) fn attr(field: &str, name: char) -> Option<&str> {
    field.strip_prefix(name)?.strip_prefix('=')
}

/// The value of the field `name=value`, which must be there and be non-empty.
pub(crate) fn required(field: Option<&str>, name: char) -> Result<&str, SaslFailure> {
    field
        .and_then(|f| attr(f, name))
        .filter(|v| !v.is_empty())
        .ok_or(SaslFailure::MalformedRequest)
}

/// Checks the trailing `extensions` of a message (RFC 5802 §7). Unknown optional
/// extensions are ignored as §5.1 requires; a mandatory one (`m=`) is not understood and
/// must fail the exchange.
pub(crate) fn check_extensions<'a>(
    fields: impl Iterator<Item = &'a str>,
) -> Result<(), SaslFailure> {
    for field in fields {
        let mut chars = field.chars();
        let name = chars.next().ok_or(SaslFailure::MalformedRequest)?;
        if !name.is_ascii_alphabetic() || chars.next() != Some('=') || chars.as_str().is_empty() {
            return Err(SaslFailure::MalformedRequest);
        }
        if name == 'm' {
            return Err(SaslFailure::MalformedRequest);
        }
    }
    Ok(())
}

/// Decodes a `saslname` (RFC 5802 §5.1): `=2C` is ',' and `=3D` is '='; any other '='
/// must fail the authentication.
pub(crate) fn decode_saslname(s: &str) -> Result<String, SaslFailure> {
    if s.is_empty() {
        return Err(SaslFailure::MalformedRequest);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i + 1..i + 3);
        out.push(match escape {
            Some("2C") => ',',
            Some("3D") => '=',
            _ => return Err(SaslFailure::MalformedRequest),
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Encodes a `saslname` (RFC 5802 §5.1).
pub(crate) fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// A nonce part is `printable`: ASCII 0x21-0x7E except ',' (RFC 5802 §7).
pub(crate) fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A fresh random nonce: 24 bytes from the OS generator, base64-encoded (which is
/// `printable`). RFC 5802 §5.1 requires a different value for every authentication.
///
/// # Panics
///
/// If the operating system's random number generator fails; there is no safe fallback.
pub(crate) fn random_nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes).expect("the OS random number generator is unavailable");
    b64_encode(&bytes)
}

/// `posit-number` (RFC 5802 §7): no sign, no leading zero.
pub(crate) fn posit_number(s: &str) -> Option<u32> {
    if s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n > 0)
}

pub(crate) fn b64_encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Strict base64 with padding (RFC 5802 §7 `base64`); errors are RFC 6120 §6.5.5
/// `incorrect-encoding`.
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, SaslFailure> {
    STANDARD
        .decode(s)
        .map_err(|_| SaslFailure::IncorrectEncoding)
}

/// `a XOR b` for equal-length inputs (RFC 5802 §3).
pub(crate) fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 5802 §5.1: '=' in a saslname is only valid as =2C or =3D.
    #[test]
    fn rfc5802_5_1_saslname_escapes() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        for bad in ["a=", "a=2", "a=2c", "a=41", "=", ""] {
            assert_eq!(
                decode_saslname(bad),
                Err(SaslFailure::MalformedRequest),
                "{bad}"
            );
        }
    }

    // RFC 5802 §7: posit-number and printable.
    #[test]
    fn rfc5802_7_number_and_nonce_syntax() {
        assert_eq!(posit_number("4096"), Some(4096));
        for bad in ["0", "04096", "-1", "+1", "", "4096x", "99999999999"] {
            assert_eq!(posit_number(bad), None, "{bad}");
        }
        assert!(is_printable("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
        assert!(!is_printable("a,b"));
        assert!(!is_printable("a b"));
        assert!(!is_printable(""));
        assert!(is_printable(&random_nonce()));
        assert_ne!(random_nonce(), random_nonce());
    }

    #[test]
    fn rfc5802_7_extensions() {
        assert!(check_extensions(["x=1", "Y=2"].into_iter()).is_ok());
        for bad in ["m=1", "x", "x=", "1=2", "xy=1"] {
            assert_eq!(
                check_extensions([bad].into_iter()),
                Err(SaslFailure::MalformedRequest),
                "{bad}"
            );
        }
    }
}
