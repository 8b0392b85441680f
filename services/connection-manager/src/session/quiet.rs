//! Timers for silence on a stream: the whitespace keepalive after outbound silence and the
//! idle timeout after inbound silence (RFC 6120 §4.6.1).

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Fires once `interval` has passed since the last [`QuietTimer::touch`]. The runtime's
/// timer is set once per interval, not once per stanza (each reset is a removal from and an
/// insertion into the runtime's timer wheel, under its lock): a stanza only notes its time,
/// and a timer that fires early moves to the interval's end after the last stanza.
pub(crate) struct QuietTimer {
    interval: Duration,
    /// Boxed: a session's future lives as long as the session.
    timer: Pin<Box<Sleep>>,
    last: Instant,
}

impl QuietTimer {
    /// A timer for `interval`, counting from now.
    pub(crate) fn new(interval: Duration) -> Self {
        let now = Instant::now();
        Self {
            interval,
            timer: Box::pin(tokio::time::sleep_until(now + interval)),
            last: now,
        }
    }

    /// Something went over the stream: the interval counts again from now.
    pub(crate) fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Resolves once the stream has been quiet for the interval, and counts again from
    /// then; never resolves without a timer (`None`, the limit disabled). Cancel-safe: it
    /// only waits at the timer, and every state between two waits is whole.
    pub(crate) async fn elapsed(timer: &mut Option<Self>) {
        let Some(this) = timer else {
            return std::future::pending().await;
        };
        loop {
            this.timer.as_mut().await;
            let quiet_until = this.last + this.interval;
            let now = Instant::now();
            if quiet_until > now {
                this.timer.as_mut().reset(quiet_until);
                continue;
            }
            this.timer.as_mut().reset(now + this.interval);
            this.last = now;
            return;
        }
    }
}

#[cfg(test)]
mod tests;
