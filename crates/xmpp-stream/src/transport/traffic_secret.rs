//! TLS 1.3 application traffic secrets and what derives from them (RFC 8446 §7.1–7.3), so
//! that a compact session can change its keys when a KeyUpdate (§4.6.3) asks for it: the
//! next secret is `HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)`, and each
//! secret gives its record key and IV.

use ring::aead;
use ring::hkdf;
use zeroize::Zeroize;

/// The longest digest of a TLS 1.3 suite's hash (SHA-384).
const MAX_SECRET: usize = 48;
/// Every TLS 1.3 AEAD's IV length (RFC 8446 §5.3).
pub(super) const IV_LEN: usize = 12;
/// The longest AEAD key (AES-256, ChaCha20).
pub(super) const MAX_KEY: usize = 32;

/// One direction's current application traffic secret, wiped when dropped.
pub(super) struct TrafficSecret {
    hkdf: hkdf::Algorithm,
    bytes: [u8; MAX_SECRET],
}

impl TrafficSecret {
    /// The secret `secret` for the suite whose HKDF is `hkdf`; `None` unless it has the
    /// hash's length.
    pub(super) fn new(hkdf: hkdf::Algorithm, secret: &[u8]) -> Option<Self> {
        if secret.len() != hkdf::KeyType::len(&hkdf) {
            return None;
        }
        let mut bytes = [0; MAX_SECRET];
        bytes[..secret.len()].copy_from_slice(secret);
        Some(Self { hkdf, bytes })
    }

    fn secret(&self) -> &[u8] {
        &self.bytes[..hkdf::KeyType::len(&self.hkdf)]
    }

    /// `application_traffic_secret_N+1` (§7.2).
    pub(super) fn next(&self) -> Self {
        let mut next = Self {
            hkdf: self.hkdf,
            bytes: [0; MAX_SECRET],
        };
        let len = hkdf::KeyType::len(&self.hkdf);
        expand_label(
            self.hkdf,
            self.secret(),
            b"traffic upd",
            &mut next.bytes[..len],
        );
        next
    }

    /// The record key for `algorithm` and the IV (§7.3). The key is the first
    /// `algorithm.key_len()` bytes of the array, which the caller wipes.
    pub(super) fn key_and_iv(&self, algorithm: &aead::Algorithm) -> ([u8; MAX_KEY], [u8; IV_LEN]) {
        let mut key = [0; MAX_KEY];
        let mut iv = [0; IV_LEN];
        expand_label(
            self.hkdf,
            self.secret(),
            b"key",
            &mut key[..algorithm.key_len()],
        );
        expand_label(self.hkdf, self.secret(), b"iv", &mut iv);
        (key, iv)
    }
}

impl Drop for TrafficSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// `HKDF-Expand-Label(secret, label, "", out.len())` (§7.1): the `HkdfLabel` structure is
/// the output length, the label prefixed with "tls13 ", and an empty context.
fn expand_label(algorithm: hkdf::Algorithm, secret: &[u8], label: &[u8], out: &mut [u8]) {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).expect("a key, IV or secret length");
    let label_len = [u8::try_from(PREFIX.len() + label.len()).expect("a short label")];
    let info: [&[u8]; 5] = [&length.to_be_bytes(), &label_len, PREFIX, label, &[0]];
    hkdf::Prk::new_less_safe(algorithm, secret)
        .expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        // Only lengths above 255 digests fail; these are at most 48 bytes.
        .expect("HKDF-Expand of at most one digest");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256): the server's
    /// application traffic secret derives the key and IV the trace shows.
    #[test]
    fn keys_derive_as_in_rfc_8448() {
        let secret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let secret = TrafficSecret::new(hkdf::HKDF_SHA256, &secret).unwrap();
        let (key, iv) = secret.key_and_iv(&aead::AES_128_GCM);
        assert_eq!(key[..16], hex("9f02283b6c9c07efc26bb9f2ac92e356")[..]);
        assert_eq!(key[16..], [0; 16]);
        assert_eq!(iv[..], hex("cf782b88dd83549aadf1e984")[..]);

        let client = hex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
        let client = TrafficSecret::new(hkdf::HKDF_SHA256, &client).unwrap();
        let (key, iv) = client.key_and_iv(&aead::AES_128_GCM);
        assert_eq!(key[..16], hex("17422dda596ed5d9acd890e3c63f5051")[..]);
        assert_eq!(iv[..], hex("5b78923dee08579033e523d9")[..]);
    }

    #[test]
    fn the_next_secret_is_a_traffic_upd_expansion() {
        let secret = TrafficSecret::new(hkdf::HKDF_SHA384, &[7; 48]).unwrap();
        let next = secret.next();
        let mut expected = [0; 48];
        expand_label(hkdf::HKDF_SHA384, &[7; 48], b"traffic upd", &mut expected);
        assert_eq!(next.secret(), expected);
        assert_ne!(next.secret(), secret.secret());
        assert_ne!(next.next().secret(), next.secret());
    }

    #[test]
    fn a_secret_must_have_the_hashs_length() {
        assert!(TrafficSecret::new(hkdf::HKDF_SHA256, &[0; 48]).is_none());
        assert!(TrafficSecret::new(hkdf::HKDF_SHA384, &[0; 32]).is_none());
        assert!(TrafficSecret::new(hkdf::HKDF_SHA384, &[0; 48]).is_some());
    }
}
