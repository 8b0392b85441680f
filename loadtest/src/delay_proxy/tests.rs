//! The proxy against an echo server on loopback.

use super::*;

/// An echo server on a loopback port of its own.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn bytes_cross_in_order_no_sooner_than_the_delay_each_way() {
    let upstream = echo_server().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let delay = Duration::from_millis(25);
    tokio::spawn(serve(listener, upstream, delay));

    let mut client = TcpStream::connect(proxy).await.unwrap();
    let sent: Vec<u8> = (0..200_000_u32).map(|n| (n % 251) as u8).collect();
    let started = Instant::now();
    let (mut read, mut write) = client.split();
    let sending = async {
        write.write_all(&sent).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut received = Vec::new();
    let receiving = read.read_to_end(&mut received);
    let ((), n) = tokio::join!(sending, receiving);
    assert_eq!(n.unwrap(), sent.len());
    assert!(received == sent, "the echo differs from what was sent");
    // There and back: two delays at least.
    assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());
}

#[tokio::test]
async fn only_loopback_addresses_are_proxied() {
    let args = DelayProxyArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: "192.0.2.1:6379".parse().unwrap(),
        delay_ms: 1.0,
        max_run: 1.0,
    };
    let refused = execute(&args).await.unwrap_err();
    assert!(refused.to_string().contains("loopback"), "{refused}");
}
