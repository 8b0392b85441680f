use std::time::Duration;

use tokio::time::Instant;

use super::QuietTimer;

/// A timer of 10 s, and the paused clock's start.
fn ten_seconds() -> (Option<QuietTimer>, Instant) {
    (
        Some(QuietTimer::new(Duration::from_secs(10))),
        Instant::now(),
    )
}

/// When `QuietTimer::elapsed` resolves, in seconds since `start`; `None` if not within
/// an hour.
async fn fires_at(timer: &mut Option<QuietTimer>, start: Instant) -> Option<u64> {
    let wait = QuietTimer::elapsed(timer);
    tokio::time::timeout(Duration::from_secs(3600), wait)
        .await
        .ok()
        .map(|()| start.elapsed().as_secs())
}

/// Quiet for the interval: the timer fires at its end, then every interval after it.
#[tokio::test(start_paused = true)]
async fn fires_after_each_quiet_interval() {
    let (mut timer, start) = ten_seconds();
    assert_eq!(fires_at(&mut timer, start).await, Some(10));
    assert_eq!(fires_at(&mut timer, start).await, Some(20));
}

/// A touch moves the end of the interval to an interval after it, however often it comes;
/// the timer fires once an interval passes with none.
#[tokio::test(start_paused = true)]
async fn touches_move_the_end_of_the_interval() {
    let (mut timer, start) = ten_seconds();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        timer.as_mut().unwrap().touch();
    }
    // The last touch was at 30 s.
    assert_eq!(fires_at(&mut timer, start).await, Some(40));
}

/// Waiting, dropped and waited for again (as a `select!` does when another branch wins),
/// keeps the same end.
#[tokio::test(start_paused = true)]
async fn a_dropped_wait_keeps_the_end() {
    let (mut timer, start) = ten_seconds();
    let wait = QuietTimer::elapsed(&mut timer);
    assert!(
        tokio::time::timeout(Duration::from_secs(4), wait)
            .await
            .is_err()
    );
    assert_eq!(fires_at(&mut timer, start).await, Some(10));
}

/// No interval, no timer: it never fires.
#[tokio::test(start_paused = true)]
async fn without_an_interval_it_never_fires() {
    assert_eq!(fires_at(&mut None, Instant::now()).await, None);
}
