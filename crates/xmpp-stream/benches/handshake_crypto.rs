//! What a login's TLS 1.3 handshake costs in CPU, without sockets: the public-key operations
//! each end runs once per full handshake, and whole handshakes between a rustls client and
//! a rustls server in memory, set up as Starling's (ring, AES-128-GCM first, an ECDSA P-256
//! certificate as `starling dev` makes, two session tickets sent).
//!
//! Why: a login storm on one machine pays both ends' handshakes; these numbers are the floor
//! under the load generator's login rate (README, "Left").
//!
//! Run with `cargo bench -p xmpp-stream --features test-support --bench handshake_crypto`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use rustls::client::Resumption;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use xmpp_stream::server_ordered_provider;
use xmpp_stream::tls_testing::handshake_in_memory;

/// An ephemeral key pair made and agreed with a peer's public key: one end's share of a
/// TLS 1.3 key exchange (RFC 8446 §4.2.8).
fn key_exchange(c: &mut Criterion, name: &str, alg: &'static agreement::Algorithm) {
    let rng = SystemRandom::new();
    let peer = EphemeralPrivateKey::generate(alg, &rng).unwrap();
    let peer_public = peer.compute_public_key().unwrap().as_ref().to_vec();
    c.bench_function(name, |b| {
        b.iter(|| {
            let own = EphemeralPrivateKey::generate(alg, &rng).unwrap();
            black_box(own.compute_public_key().unwrap());
            agreement::agree_ephemeral(own, &UnparsedPublicKey::new(alg, &peer_public), |s| {
                black_box(s.len())
            })
            .unwrap()
        })
    });
}

/// The server's CertificateVerify signature and the client's check of it (RFC 8446 §4.4.3),
/// over a transcript hash's length of content.
fn certificate_verify(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let content = [0x20u8; 130];
    c.bench_function("ecdsa-p256/sign", |b| {
        b.iter(|| key.sign(&rng, black_box(&content)).unwrap())
    });
    let sig = key.sign(&rng, &content).unwrap();
    let public = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        key.public_key().as_ref().to_vec(),
    );
    c.bench_function("ecdsa-p256/verify", |b| {
        b.iter(|| public.verify(black_box(&content), sig.as_ref()).unwrap())
    });
}

/// Full handshakes, both ends in one thread: the client resumes nothing.
fn full_handshake(c: &mut Criterion) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut server =
        rustls::ServerConfig::builder_with_provider(Arc::new(server_ordered_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
    server.ignore_client_order = true;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.resumption = Resumption::disabled();
    let (server, client) = (Arc::new(server), Arc::new(client));
    c.bench_function("tls13/full-handshake-both-ends", |b| {
        b.iter(|| handshake_in_memory(&client, &server, "localhost"))
    });
}

fn benches(c: &mut Criterion) {
    key_exchange(c, "x25519/generate-and-agree", &agreement::X25519);
    key_exchange(c, "p256-ecdh/generate-and-agree", &agreement::ECDH_P256);
    certificate_verify(c);
    full_handshake(c);
}

criterion_group!(handshake, benches);
criterion_main!(handshake);
