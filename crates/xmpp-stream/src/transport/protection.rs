//! Record protection of one direction of an established TLS connection, with the keys rustls
//! negotiated: RFC 8446 §5.2–5.3 (TLS 1.3), RFC 5288 §3 (TLS 1.2 AES-GCM) and RFC 7905 §2
//! (TLS 1.2 ChaCha20-Poly1305). Only AEAD suites exist in either version as rustls offers them.
//!
//! A record here is its 5-byte header and its payload, as on the wire.
//!
//! On TLS 1.3 a direction also holds its traffic secret, so that its keys can change
//! (§4.6.3, §7.2); TLS 1.2 keys never change (rustls refuses renegotiation).

use std::ops::Range;

use ring::aead::{
    AES_128_GCM, AES_256_GCM, Aad, Algorithm, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey,
};
use rustls::{ConnectionTrafficSecrets, ProtocolVersion};
use zeroize::Zeroize;

use super::traffic_secret::TrafficSecret;

/// Record content types (RFC 8446 §5.1).
pub(super) const ALERT: u8 = 21;
pub(super) const HANDSHAKE: u8 = 22;
pub(super) const APPLICATION_DATA: u8 = 23;

/// The header's length field bounds (RFC 8446 §5.1–5.2; RFC 5246 §6.2.3).
pub(super) const HEADER_LEN: usize = 5;
/// Most plaintext in one record, in either version.
pub(super) const MAX_FRAGMENT: usize = 1 << 14;
/// The longest record either version allows, header included: RFC 5246 §6.2.3's 2^14 + 2048
/// bytes of ciphertext (RFC 8446 §5.2 is stricter).
pub(super) const MAX_RECORD: usize = HEADER_LEN + MAX_FRAGMENT + 2048;
const TAG_LEN: usize = 16;
/// TLS 1.2 AES-GCM's explicit nonce, carried in each record (RFC 5288 §3).
const EXPLICIT_NONCE_LEN: usize = 8;

/// A TLS alert description (RFC 8446 §6) that ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alert {
    UnexpectedMessage = 10,
    BadRecordMac = 20,
    RecordOverflow = 22,
    IllegalParameter = 47,
    DecodeError = 50,
}

/// TLS 1.3's record format, or TLS 1.2's with an explicit nonce (AES-GCM) or without
/// (ChaCha20-Poly1305).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Tls13,
    Tls12ExplicitNonce,
    Tls12,
}

/// The key, IV and sequence number of one direction.
pub(super) struct Protection {
    format: Format,
    algorithm: &'static Algorithm,
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    /// Records this direction may protect before the key must change (RFC 8446 §5.5): the
    /// suite's confidentiality limit.
    limit: u64,
    /// The traffic secret the key and IV derive from, on TLS 1.3.
    secret: Option<TrafficSecret>,
    /// How many times the keys changed.
    updates: u32,
}

impl Protection {
    /// One direction's protection from the keys rustls hands over, starting at `seq`. On
    /// TLS 1.3 `secret` is the traffic secret they derive from, which is checked; TLS 1.2
    /// has none. `Err` for a protocol version or algorithm this layer does not implement,
    /// or a secret that is missing or does not give these keys.
    pub(super) fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: ConnectionTrafficSecrets,
        secret: Option<TrafficSecret>,
        limit: u64,
    ) -> Result<Self, &'static str> {
        let unsupported = "no record protection for this TLS version and cipher suite";
        let (algorithm, key, iv, explicit) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv, true),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv, true),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&CHACHA20_POLY1305, key, iv, false)
            }
            _ => return Err(unsupported),
        };
        let format = match version {
            ProtocolVersion::TLSv1_3 => Format::Tls13,
            ProtocolVersion::TLSv1_2 if explicit => Format::Tls12ExplicitNonce,
            ProtocolVersion::TLSv1_2 => Format::Tls12,
            _ => return Err(unsupported),
        };
        let secret = match (format, secret) {
            (Format::Tls13, Some(secret)) => {
                let (mut derived_key, derived_iv) = secret.key_and_iv(algorithm);
                let same = derived_key[..algorithm.key_len()] == *key.as_ref()
                    && derived_iv[..] == *iv.as_ref();
                derived_key.zeroize();
                if !same {
                    return Err("the TLS 1.3 traffic secret does not give the negotiated keys");
                }
                Some(secret)
            }
            (Format::Tls13, None) => return Err("no TLS 1.3 traffic secret"),
            _ => None,
        };
        let key =
            LessSafeKey::new(UnboundKey::new(algorithm, key.as_ref()).map_err(|_| unsupported)?);
        Ok(Self {
            format,
            algorithm,
            key,
            iv: iv.as_ref().try_into().map_err(|_| unsupported)?,
            seq,
            limit,
            secret,
            updates: 0,
        })
    }

    /// Whether this direction's keys can change (TLS 1.3).
    pub(super) fn updatable(&self) -> bool {
        self.secret.is_some()
    }

    /// Whether the suite's limit leaves room for one record only: the KeyUpdate that must
    /// come before any other (RFC 8446 §5.5).
    pub(super) fn at_limit(&self) -> bool {
        self.seq.saturating_add(1) >= self.limit
    }

    /// How many times the keys changed.
    pub(super) fn updates(&self) -> u32 {
        self.updates
    }

    /// Changes to the next traffic secret's key and IV, the sequence number starting again
    /// at zero (RFC 8446 §7.2, §5.3).
    pub(super) fn update(&mut self) -> Result<(), &'static str> {
        let next = self
            .secret
            .as_ref()
            .ok_or("TLS 1.2 keys cannot change")?
            .next();
        let (mut key, iv) = next.key_and_iv(self.algorithm);
        let unbound = UnboundKey::new(self.algorithm, &key[..self.algorithm.key_len()]);
        key.zeroize();
        self.key = LessSafeKey::new(unbound.map_err(|_| "no key from the next traffic secret")?);
        self.iv = iv;
        self.seq = 0;
        self.secret = Some(next);
        self.updates += 1;
        Ok(())
    }

    /// The next record's sequence number.
    #[cfg(test)]
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Lowers the record limit, so that tests reach it.
    #[cfg(test)]
    pub(super) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The per-record nonce: the IV XORed with the sequence number (RFC 8446 §5.3; RFC 7905
    /// §2; rustls chooses TLS 1.2 AES-GCM's explicit part the same way).
    fn nonce(&self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// TLS 1.2's additional data (RFC 5246 §6.2.3.3): sequence number, type, version, and
    /// the plaintext's length.
    fn aad12(&self, content_type: u8, plaintext_len: usize) -> [u8; 13] {
        let mut aad = [0; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8] = content_type;
        aad[9..11].copy_from_slice(&[3, 3]);
        aad[11..].copy_from_slice(&(plaintext_len as u16).to_be_bytes());
        aad
    }

    /// Appends `data` (at most [`MAX_FRAGMENT`] bytes) to `out` as one protected record of
    /// `content_type`. `Err` once the sequence number reached the suite's limit: the keys
    /// must have changed before (TLS 1.3), or the connection must end (TLS 1.2).
    pub(super) fn seal(
        &mut self,
        content_type: u8,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), &'static str> {
        debug_assert!(data.len() <= MAX_FRAGMENT);
        if self.seq >= self.limit {
            return Err("the cipher suite's record limit was reached");
        }
        let nonce = self.nonce();
        let start = out.len();
        let (outer_type, payload_len) = match self.format {
            Format::Tls13 => (APPLICATION_DATA, data.len() + 1 + TAG_LEN),
            Format::Tls12ExplicitNonce => (content_type, EXPLICIT_NONCE_LEN + data.len() + TAG_LEN),
            Format::Tls12 => (content_type, data.len() + TAG_LEN),
        };
        out.reserve(HEADER_LEN + payload_len);
        out.push(outer_type);
        out.extend_from_slice(&[3, 3]);
        out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        let header: [u8; HEADER_LEN] = out[start..].try_into().expect("five bytes pushed");
        if self.format == Format::Tls12ExplicitNonce {
            out.extend_from_slice(&nonce[4..]);
        }
        let body = out.len();
        out.extend_from_slice(data);
        let sealed = match self.format {
            Format::Tls13 => {
                // TLSInnerPlaintext: the content, then its real type, no padding (§5.2).
                out.push(content_type);
                self.key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(header),
                    &mut out[body..],
                )
            }
            Format::Tls12ExplicitNonce | Format::Tls12 => self.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad12(content_type, data.len())),
                &mut out[body..],
            ),
        };
        let tag = sealed.map_err(|_| "record encryption failed")?;
        out.extend_from_slice(tag.as_ref());
        self.seq += 1;
        Ok(())
    }

    /// Decrypts one whole record in place and returns its content type and where its
    /// content now lies within `record`.
    pub(super) fn open(&mut self, record: &mut [u8]) -> Result<(u8, Range<usize>), Alert> {
        let header: [u8; HEADER_LEN] = record[..HEADER_LEN]
            .try_into()
            .map_err(|_| Alert::DecodeError)?;
        let payload_len = record.len() - HEADER_LEN;
        let nonce = self.nonce();
        let opened = match self.format {
            Format::Tls13 => {
                // §5.2: every protected record is outwardly application_data, at most
                // 2^14 + 256 bytes.
                if header[0] != APPLICATION_DATA {
                    return Err(Alert::UnexpectedMessage);
                }
                if payload_len > MAX_FRAGMENT + 256 {
                    return Err(Alert::RecordOverflow);
                }
                if payload_len < TAG_LEN + 1 {
                    return Err(Alert::BadRecordMac);
                }
                let plain = self
                    .key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(header),
                        &mut record[HEADER_LEN..],
                    )
                    .map_err(|_| Alert::BadRecordMac)?;
                // §5.4: the real type is the last non-zero byte; zeros after it are padding.
                let Some(end) = plain.iter().rposition(|&b| b != 0) else {
                    return Err(Alert::UnexpectedMessage);
                };
                if end > MAX_FRAGMENT {
                    return Err(Alert::RecordOverflow);
                }
                (plain[end], HEADER_LEN..HEADER_LEN + end)
            }
            Format::Tls12ExplicitNonce | Format::Tls12 => {
                let explicit = if self.format == Format::Tls12ExplicitNonce {
                    EXPLICIT_NONCE_LEN
                } else {
                    0
                };
                // RFC 5246 §6.2.3: at most 2^14 + 2048 bytes of ciphertext.
                if payload_len > MAX_RECORD - HEADER_LEN {
                    return Err(Alert::RecordOverflow);
                }
                let Some(plain_len) = payload_len.checked_sub(explicit + TAG_LEN) else {
                    return Err(Alert::BadRecordMac);
                };
                if plain_len > MAX_FRAGMENT {
                    return Err(Alert::RecordOverflow);
                }
                let mut nonce = nonce;
                if explicit > 0 {
                    // RFC 5288 §3: the implicit salt, then the record's explicit part.
                    nonce[4..].copy_from_slice(&record[HEADER_LEN..HEADER_LEN + explicit]);
                }
                let body = HEADER_LEN + explicit;
                let aad = self.aad12(header[0], plain_len);
                self.key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        &mut record[body..],
                    )
                    .map_err(|_| Alert::BadRecordMac)?;
                (header[0], body..body + plain_len)
            }
        };
        self.seq = self.seq.checked_add(1).ok_or(Alert::UnexpectedMessage)?;
        Ok(opened)
    }
}
