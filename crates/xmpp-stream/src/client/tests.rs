//! The client's TLS opening, against a rustls server driven by hand so that each read of
//! the socket shows what the client sent together.

use std::future::Future;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::ServerConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{ClientStream, tls_connect};
use crate::test_util::tls_configs;

/// Starts `client` on a listener of ours with a client configuration for `version`, and
/// returns its task, the accepted connection and a rustls server for it, not yet fed.
async fn accept<F, T>(
    version: &'static rustls::SupportedProtocolVersion,
    client: impl FnOnce(SocketAddr, Arc<rustls::ClientConfig>) -> F,
) -> (JoinHandle<T>, TcpStream, ServerConnection)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (server_config, client_config) = tls_configs(
        version,
        rustls::crypto::ring::default_provider(),
        rustls::crypto::ring::default_provider(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(client(addr, Arc::new(client_config)));
    let (tcp, _) = listener.accept().await.unwrap();
    let server = ServerConnection::new(Arc::new(server_config)).unwrap();
    (client, tcp, server)
}

/// Reads from `tcp` into `server` until it has something to send, and sends it.
async fn answer_flight(tcp: &mut TcpStream, server: &mut ServerConnection) {
    let mut buf = vec![0; 64 * 1024];
    while !server.wants_write() {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed during the handshake");
        server.read_tls(&mut &buf[..n]).unwrap();
        server.process_new_packets().unwrap();
    }
    let mut out = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut out).unwrap();
    }
    tcp.write_all(&out).await.unwrap();
}

/// Feeds one read of `tcp` to `server` and returns the plaintext it gave.
async fn read_once(tcp: &mut TcpStream, server: &mut ServerConnection) -> String {
    let mut buf = vec![0; 64 * 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    server.read_tls(&mut &buf[..n]).unwrap();
    server.process_new_packets().unwrap();
    let mut plain = Vec::new();
    match server.reader().read_to_end(&mut plain) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => panic!("reading plaintext: {e}"),
    }
    String::from_utf8(plain).unwrap()
}

/// Checks that the client sends nothing more for a while: it waits for the server's header.
async fn assert_nothing_more(tcp: &mut TcpStream) {
    let mut buf = [0; 1];
    let more = tokio::time::timeout(std::time::Duration::from_millis(100), tcp.read(&mut buf));
    assert!(more.await.is_err(), "the client sent more than one header");
}

const OUR_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
     xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' \
     xml:lang='en'>";

#[tokio::test]
async fn what_tls_connect_queues_leaves_with_the_clients_finished() {
    // RFC 8446 §2: the client's application data may follow its Finished at once. The
    // client here writes nothing after the handshake, so the plaintext can only be what was
    // queued before it, and the first read after the server's flight brings it together
    // with the Finished: one TCP segment, one wake-up of the server.
    let (client, mut tcp, mut server) =
        accept(&rustls::version::TLS13, |addr, config| async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            tls_connect(tcp, "localhost", config, b"<queued/>")
                .await
                .unwrap()
        })
        .await;

    answer_flight(&mut tcp, &mut server).await;
    assert!(server.is_handshaking());
    let plain = read_once(&mut tcp, &mut server).await;
    assert!(!server.is_handshaking(), "the client's Finished came");
    assert_eq!(plain, "<queued/>");
    let _transport = client.await.unwrap();
}

#[tokio::test]
async fn over_tls_1_3_the_stream_header_is_sent_once_with_the_clients_finished() {
    let (client, mut tcp, mut server) = accept(&rustls::version::TLS13, |addr, config| {
        ClientStream::connect_direct_tls(addr, "localhost", config)
    })
    .await;

    answer_flight(&mut tcp, &mut server).await;
    let plain = read_once(&mut tcp, &mut server).await;
    assert!(!server.is_handshaking(), "the client's Finished came");
    assert_eq!(plain, OUR_HEADER);
    assert_nothing_more(&mut tcp).await;
    client.abort();
}

#[tokio::test]
async fn over_tls_1_2_the_stream_header_follows_the_servers_finished() {
    // A TLS 1.2 client sends its Finished before the server's, so its application data can
    // only follow the server's Finished: the header then leaves on its own, and still once.
    let (client, mut tcp, mut server) = accept(&rustls::version::TLS12, |addr, config| {
        ClientStream::connect_direct_tls(addr, "localhost", config)
    })
    .await;

    answer_flight(&mut tcp, &mut server).await;
    answer_flight(&mut tcp, &mut server).await;
    assert!(!server.is_handshaking());
    let mut plain = String::new();
    while plain.len() < OUR_HEADER.len() {
        plain.push_str(&read_once(&mut tcp, &mut server).await);
    }
    assert_eq!(plain, OUR_HEADER);
    assert_nothing_more(&mut tcp).await;
    client.abort();
}
