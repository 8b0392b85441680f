//! A TLS handshake between a rustls client and server in memory, for tests of TLS settings
//! (session resumption, versions) that need no socket. Behind the `test-support` feature.

use std::sync::Arc;

use rustls::{
    ClientConfig, ClientConnection, Connection, HandshakeKind, ServerConfig, ServerConnection,
};
use rustls_pki_types::ServerName;

/// Runs one connection's handshake, then hands the server's messages after it (TLS 1.3
/// tickets) to the client, so that its session store holds them for the next connection.
/// Returns how the handshake went.
///
/// # Panics
/// When the handshake fails or does not finish within ten round trips.
pub fn handshake_in_memory(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
    server_name: &str,
) -> HandshakeKind {
    let name = ServerName::try_from(server_name.to_owned()).expect("a valid server name");
    let mut c = Connection::from(ClientConnection::new(client.clone(), name).expect("client"));
    let mut s = Connection::from(ServerConnection::new(server.clone()).expect("server"));
    for _ in 0..10 {
        transfer(&mut c, &mut s);
        transfer(&mut s, &mut c);
        if !c.is_handshaking() && !s.is_handshaking() && !s.wants_write() {
            return c.handshake_kind().expect("a finished handshake has a kind");
        }
    }
    panic!("the handshake did not finish");
}

/// Moves everything `from` has to send into `to`, processing it.
fn transfer(from: &mut Connection, to: &mut Connection) {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).expect("writing to memory");
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("reading from memory");
        to.process_new_packets().expect("a valid TLS record");
    }
}
