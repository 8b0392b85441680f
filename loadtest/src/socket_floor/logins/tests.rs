//! Both sides of the logins in one process.

use super::*;

/// A server on a loopback port of its own answering `n` logins of `round_trips` exchanges of
/// `bytes`.
async fn server(n: u32, round_trips: u32, bytes: usize) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, n, round_trips, bytes));
    address
}

#[tokio::test]
async fn every_login_completes_its_round_trips_at_the_rate() {
    let address = server(30, 4, 100).await;
    let logins = Logins::new(30);
    // 30 logins at 600/s: the last is opened about 50 ms after the first.
    logins.open_paced(address, 600.0, 4, 100).await;
    assert!(logins.started.elapsed() >= Duration::from_millis(48));
    assert_eq!(logins.wait(Duration::from_secs(10)).await, 30);
}

#[tokio::test]
async fn logins_the_server_does_not_answer_in_full_are_not_counted() {
    // The server answers two round trips of the three each client makes.
    let address = server(5, 2, 50).await;
    let logins = Logins::new(5);
    logins.open_paced(address, 1e6, 3, 50).await;
    assert_eq!(logins.wait(Duration::from_millis(300)).await, 0);
}
