//! The task that owns a bound session's socket writer.
//!
//! It drains the session's bounded queue, batching whatever is already queued into one flush,
//! sends whitespace keepalives when the stream has been quiet (RFC 6120 §4.6.1), and on
//! termination writes the stream error and closes. Every socket write races the termination
//! signal, so a client that stopped reading cannot pin this task.

use std::sync::Arc;
use std::time::Duration;

use xmpp_core::{StreamError, StreamErrorCondition};

use super::stream::Writer;
use crate::outbox::Outbox;
use crate::registry::{Outbound, SessionControl};

/// Most stanzas written between two flushes, so one busy session cannot delay its own
/// flush indefinitely.
const MAX_BATCH: usize = 64;

/// How long a closing write may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes queued stanzas until the queue ends or the session is terminated, then closes
/// the queue.
pub(crate) async fn run_writer(
    writer: Writer,
    outbox: Arc<Outbox>,
    control: Arc<SessionControl>,
    keepalive: Option<Duration>,
) {
    write_queued(writer, &outbox, &control, keepalive).await;
    outbox.close();
}

async fn write_queued(
    mut writer: Writer,
    outbox: &Outbox,
    control: &SessionControl,
    keepalive: Option<Duration>,
) {
    loop {
        let idle = async {
            match keepalive {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = control.terminated() => break,
            item = outbox.pop() => {
                let mut end = !queue(&mut writer, item);
                let mut batched = 1;
                while !end && batched < MAX_BATCH {
                    match outbox.try_pop() {
                        Some(item) => end = !queue(&mut writer, Some(item)),
                        None => break,
                    }
                    batched += 1;
                }
                if end {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, writer.write_close()).await;
                    return;
                }
                tokio::select! {
                    biased;
                    () = control.terminated() => break,
                    r = writer.flush() => if r.is_err() {
                        control.terminate(StreamError::new(StreamErrorCondition::UndefinedCondition));
                        return;
                    },
                }
            }
            () = idle => {
                tokio::select! {
                    biased;
                    () = control.terminated() => break,
                    r = writer.write_raw(" ") => if r.is_err() { return },
                }
            }
        }
    }
    // Terminated: the reason goes out as a stream error, as far as the socket still takes it.
    let reason = control
        .reason()
        .unwrap_or_else(|| StreamError::new(StreamErrorCondition::UndefinedCondition));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, writer.write_error_and_close(&reason)).await;
}

/// Terminates the session when dropped, so that a writer never outlives its session's task:
/// its queue does not close when the handles go away, so nothing else would stop it if that
/// task panicked. On the normal path the writer has finished by then and this changes
/// nothing.
pub(crate) struct StopOnDrop(pub(crate) Arc<SessionControl>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0
            .terminate(StreamError::new(StreamErrorCondition::InternalServerError));
    }
}

/// Queues one item for writing; `false` when it ends the stream.
fn queue(writer: &mut Writer, item: Option<Outbound>) -> bool {
    match item {
        Some(Outbound::Stanza(e)) => writer.queue_element(&e),
        Some(Outbound::Serialized(xml)) => match std::str::from_utf8(&xml) {
            Ok(xml) => writer.queue_serialized(xml),
            Err(_) => tracing::warn!("dropping a delivery that is not UTF-8"),
        },
        Some(Outbound::End) | None => return false,
    }
    true
}
