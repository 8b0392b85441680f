use std::time::Duration;

use tokio::time::Instant;

use super::QuietTimer;

/// Resolves `QuietTimer::elapsed` and returns the paused clock's time since `start`.
async fn fires_after(timer: &mut Option<QuietTimer>, start: Instant) -> Duration {
    QuietTimer::elapsed(timer).await;
    start.elapsed()
}

/// Quiet for the interval: the timer fires at its end, then every interval after it.
#[tokio::test(start_paused = true)]
async fn fires_after_each_quiet_interval() {
    let start = Instant::now();
    let mut timer = Some(QuietTimer::new(Duration::from_secs(10)));
    assert_eq!(
        fires_after(&mut timer, start).await,
        Duration::from_secs(10)
    );
    assert_eq!(
        fires_after(&mut timer, start).await,
        Duration::from_secs(20)
    );
}

/// A touch moves the end of the interval to an interval after it, however often it comes;
/// the timer fires once an interval passes with none.
#[tokio::test(start_paused = true)]
async fn touches_move_the_end_of_the_interval() {
    let start = Instant::now();
    let mut timer = Some(QuietTimer::new(Duration::from_secs(10)));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        timer.as_mut().unwrap().touch();
    }
    // The last touch was at 30 s.
    assert_eq!(
        fires_after(&mut timer, start).await,
        Duration::from_secs(40)
    );
}

/// Waiting, dropped and waited for again (as a `select!` does when another branch wins),
/// keeps the same end.
#[tokio::test(start_paused = true)]
async fn a_dropped_wait_keeps_the_end() {
    let start = Instant::now();
    let mut timer = Some(QuietTimer::new(Duration::from_secs(10)));
    let early = tokio::time::timeout(Duration::from_secs(4), QuietTimer::elapsed(&mut timer)).await;
    assert!(early.is_err());
    assert_eq!(
        fires_after(&mut timer, start).await,
        Duration::from_secs(10)
    );
}

/// No interval, no timer: it never fires.
#[tokio::test(start_paused = true)]
async fn without_an_interval_it_never_fires() {
    let mut timer = None;
    let waited =
        tokio::time::timeout(Duration::from_secs(3600), QuietTimer::elapsed(&mut timer)).await;
    assert!(waited.is_err());
}
