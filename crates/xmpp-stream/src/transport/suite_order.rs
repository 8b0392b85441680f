//! Which cipher suite a server takes: by its own order, AES-128-GCM first, except for a
//! client that puts ChaCha20-Poly1305 first, which keeps its choice.
//!
//! Why AES-128 first: it matches the 128-bit security of the X25519 and P-256 key
//! exchanges, and its SHA-256 key schedule runs on the SHA extensions of current x86 and
//! ARM cores, where AES-256's SHA-384 has no hardware help. OpenSSL- and rustls-based
//! clients list AES-256 first, and with their order SHA-384 took about 6% of the server's
//! CPU in a login storm (perf). Why the ChaCha20 exception: a client lists ChaCha20 first when it has
//! no AES instructions, and AES in software is several times slower for it. Go's and
//! BoringSSL's servers choose the same way.

use rustls::crypto::CryptoProvider;
use rustls::server::ClientHello;
use rustls::{CipherSuite, ServerConfig};

/// rustls's ring provider with AES-128-GCM first in both TLS versions, then rustls's order.
/// A server configuration built on it should set `ignore_client_order`;
/// [`ServerTls`](super::ServerTls) then applies the ChaCha20 exception.
pub fn server_ordered_provider() -> CryptoProvider {
    use CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS13_AES_128_GCM_SHA256,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    // A stable sort: the rest keep rustls's order.
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        TLS13_AES_128_GCM_SHA256 => 0,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 1,
        _ => 2,
    });
    provider
}

/// Whether the first suite of the client's list that `config` supports is a
/// ChaCha20-Poly1305 one (unknown and GREASE values in the client's list are passed over).
pub(super) fn prefers_chacha(hello: &ClientHello<'_>, config: &ServerConfig) -> bool {
    let supported = &config.crypto_provider().cipher_suites;
    hello
        .cipher_suites()
        .iter()
        .find(|offered| supported.iter().any(|s| s.suite() == **offered))
        .is_some_and(|first| {
            matches!(
                first,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            )
        })
}

#[cfg(test)]
mod tests;
