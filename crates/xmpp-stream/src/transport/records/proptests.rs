//! Property tests of the receiving side: records sealed with the session's keys read back
//! whole however the bytes are split, in each record format; and no input, however
//! malformed, makes a read panic or succeed after a failure.

use proptest::prelude::*;
use rustls::crypto::cipher::{AeadKey, Iv};
use rustls::{ConnectionTrafficSecrets, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::Records;
use crate::test_util::runtime;
use crate::transport::protection::{ALERT, APPLICATION_DATA, Protection};
use crate::transport::record_buffer::RecordBuffer;
use crate::transport::traffic_secret::TrafficSecret;

/// The three record formats: TLS 1.3, TLS 1.2 AES-GCM (explicit nonce), TLS 1.2 ChaCha20.
const FORMATS: [(ProtocolVersion, bool); 3] = [
    (ProtocolVersion::TLSv1_3, false),
    (ProtocolVersion::TLSv1_2, false),
    (ProtocolVersion::TLSv1_2, true),
];

/// One direction's protection; on TLS 1.3 its keys derive from a traffic secret, as they
/// must.
fn protection(version: ProtocolVersion, chacha: bool, seed: u8) -> Protection {
    let algorithm = if chacha {
        &ring::aead::CHACHA20_POLY1305
    } else {
        &ring::aead::AES_256_GCM
    };
    let secret = (version == ProtocolVersion::TLSv1_3)
        .then(|| TrafficSecret::new(ring::hkdf::HKDF_SHA384, &[seed; 48]).unwrap());
    let (key, iv) = match &secret {
        Some(secret) => secret.key_and_iv(algorithm),
        None => ([seed; 32], [seed.wrapping_add(1); 12]),
    };
    let (key, iv) = (AeadKey::from(key), Iv::from(iv));
    let secrets = if chacha {
        ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
    } else {
        ConnectionTrafficSecrets::Aes256Gcm { key, iv }
    };
    Protection::new(version, 0, secrets, secret, u64::MAX).expect("a supported format")
}

/// A session over a pipe, and the peer's protection of what it sends to the session.
fn session(format: usize) -> (Records<DuplexStream>, DuplexStream, Protection) {
    let (version, chacha) = FORMATS[format];
    let (ours, theirs) = tokio::io::duplex(4096);
    let records = Records::new(
        ours,
        protection(version, chacha, 1),
        protection(version, chacha, 2),
        None,
        RecordBuffer::default(),
        Vec::new(),
    );
    (records, theirs, protection(version, chacha, 1))
}

/// Writes `bytes` in pieces of the given sizes (cycled), then closes the pipe.
async fn write_split(mut to: DuplexStream, bytes: Vec<u8>, sizes: Vec<usize>) {
    let mut rest = &bytes[..];
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = (*size).min(rest.len());
        if to.write_all(&rest[..n]).await.is_err() {
            return;
        }
        rest = &rest[n..];
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sealed_records_read_back_whole_however_split(
        format in 0..FORMATS.len(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..6),
        sizes in prop::collection::vec(1..700usize, 1..8),
    ) {
        let (mut records, peer, mut seal) = session(format);
        let mut wire = Vec::new();
        for chunk in &chunks {
            seal.seal(APPLICATION_DATA, chunk, &mut wire).unwrap();
        }
        seal.seal(ALERT, &[1, 0], &mut wire).unwrap();
        let got = runtime().block_on(async {
            let writer = tokio::spawn(write_split(peer, wire, sizes));
            let mut got = Vec::new();
            let read = records.read_to_end(&mut got).await;
            writer.await.unwrap();
            read.map(|_| got)
        });
        prop_assert_eq!(got.unwrap(), chunks.concat());
    }

    #[test]
    fn malformed_input_fails_and_stays_failed(
        format in 0..FORMATS.len(),
        valid_first in any::<bool>(),
        header_type in prop::sample::select(vec![20u8, 21, 22, 23, 24, 0, 255]),
        length in 0..0x4900usize,
        body in prop::collection::vec(any::<u8>(), 0..1200),
        trailing in prop::collection::vec(any::<u8>(), 0..64),
        sizes in prop::collection::vec(1..300usize, 1..4),
    ) {
        let (mut records, peer, mut seal) = session(format);
        let mut wire = Vec::new();
        if valid_first {
            seal.seal(APPLICATION_DATA, b"<presence/>", &mut wire).unwrap();
        }
        wire.push(header_type);
        wire.extend_from_slice(&[3, 3]);
        wire.extend_from_slice(&(length as u16).to_be_bytes());
        wire.extend_from_slice(&body);
        wire.extend_from_slice(&trailing);
        let (first, second) = runtime().block_on(async {
            let writer = tokio::spawn(write_split(peer, wire, sizes));
            let mut got = Vec::new();
            let first = records.read_to_end(&mut got).await.map(|_| got);
            let second = records.read_u8().await;
            writer.await.unwrap();
            (first, second)
        });
        // Nothing forged verifies, and the pipe ends without close_notify: an error either way.
        prop_assert!(first.is_err(), "{:?}", first);
        prop_assert!(second.is_err());
    }
}
