//! The writing and reading sides in one process.

use super::*;

/// `n` connected pairs on loopback: the writing ends (blocking, as the writer uses them) and
/// the reading ends on the current runtime.
async fn pairs(n: usize) -> (Vec<TcpStream>, Vec<tokio::net::TcpStream>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = listener.local_addr().unwrap();
    let mut reading = Vec::new();
    for _ in 0..n {
        reading.push(tokio::net::TcpStream::connect(address).await.unwrap());
    }
    let writing = (0..n).map(|_| listener.accept().unwrap().0).collect();
    (writing, reading)
}

#[tokio::test]
async fn every_message_written_at_the_rate_is_read() {
    let (mut writing, reading) = pairs(16).await;
    let reading = Reading::start(reading, 200 * 50);
    let started = Instant::now();
    let written =
        tokio::task::spawn_blocking(move || write_paced(&mut writing, &[b'x'; 50], 4_000.0, 200))
            .await
            .unwrap()
            .unwrap();
    // 200 messages at 4,000/s take 50 ms; the last is due then, not before.
    assert!(started.elapsed() >= Duration::from_millis(49));
    assert_eq!(written, 200);
    assert_eq!(reading.wait(Duration::from_secs(10)).await, 200 * 50);
}

#[tokio::test]
async fn a_run_short_of_what_was_expected_reports_what_arrived() {
    let (mut writing, reading) = pairs(3).await;
    // Ten messages of 20 bytes expected, five written: the wait ends at its limit.
    let reading = Reading::start(reading, 10 * 20);
    let written = write_paced(&mut writing, &[b'x'; 20], 1e6, 5).unwrap();
    assert_eq!(written, 5);
    assert_eq!(reading.wait(Duration::from_millis(300)).await, 5 * 20);
}
