//! Per-session stanza rate limiting as traffic shaping: a token bucket whose empty state makes
//! the session stop reading until a token refills. TCP flow control then slows the client;
//! nothing is dropped and no error is raised.

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket of `burst` tokens refilled at `rate` per second.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket; `rate == 0` means unlimited.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// How long to wait before one more stanza may be processed (zero if it may go now), and
    /// takes the token.
    pub(crate) fn take(&mut self) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_shaped_to_the_rate() {
        let mut b = TokenBucket::new(10, 3);
        for _ in 0..3 {
            assert_eq!(b.take(), Duration::ZERO);
        }
        // The fourth stanza waits one token's refill time: 1/10 s.
        assert_eq!(b.take(), Duration::from_millis(100));
        tokio::time::advance(Duration::from_secs(10)).await;
        // Refill never exceeds the burst.
        for _ in 0..3 {
            assert_eq!(b.take(), Duration::ZERO);
        }
        assert!(b.take() > Duration::ZERO);
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let mut b = TokenBucket::new(0, 1);
        for _ in 0..1000 {
            assert_eq!(b.take(), Duration::ZERO);
        }
    }
}
