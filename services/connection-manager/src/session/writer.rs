//! The task that owns a bound session's socket writer.
//!
//! It drains the session's bounded queue, batching whatever is already queued into one flush,
//! sends whitespace keepalives when the stream has been quiet (RFC 6120 §4.6.1), and on
//! termination writes the stream error and closes. Every socket write races the termination
//! signal, so a client that stopped reading cannot pin this task.

use std::sync::Arc;
use std::time::Duration;

use xmpp_core::{StreamError, StreamErrorCondition};

use super::quiet::QuietTimer;
use super::stream::Writer;
use crate::outbox::Outbox;
use crate::registry::{Outbound, SessionControl};

/// Most stanzas written between two flushes, so one busy session cannot delay its own
/// flush indefinitely.
const MAX_BATCH: usize = 64;

/// How long a closing write may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes the stanzas queued in `control`'s queue (the one its termination wakes) until
/// the queue ends or the session is terminated, then closes the queue.
pub(crate) async fn run_writer(
    writer: Writer,
    control: Arc<SessionControl>,
    keepalive: Option<Duration>,
) {
    let outbox = control.outbox();
    write_queued(writer, outbox, &control, keepalive).await;
    outbox.close();
}

async fn write_queued(
    mut writer: Writer,
    outbox: &Outbox,
    control: &SessionControl,
    keepalive: Option<Duration>,
) {
    // Made once: a fresh termination future per stanza registers with and leaves the
    // token's waiters each time.
    let terminated = control.terminated();
    tokio::pin!(terminated);
    let mut keepalive = keepalive.map(QuietTimer::new);
    // Idle, the writer waits on its queue, which termination wakes ([`SessionControl`]); the
    // termination future (two locks a poll) is polled only while the socket makes it wait.
    // The flag is checked on every turn, so a terminated session writes at most the batch it
    // had already taken.
    while !control.is_terminated() {
        tokio::select! {
            biased;
            item = outbox.pop_unless(|| control.is_terminated()) => {
                if item.is_none() && control.is_terminated() {
                    break;
                }
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
                    r = writer.flush() => if r.is_err() {
                        control.terminate(StreamError::new(StreamErrorCondition::UndefinedCondition));
                        return;
                    },
                    () = &mut terminated => break,
                }
                if let Some(keepalive) = &mut keepalive {
                    keepalive.touch();
                }
            }
            () = QuietTimer::elapsed(&mut keepalive) => {
                tokio::select! {
                    biased;
                    () = &mut terminated => break,
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
        Some(Outbound::Serialized(xml)) => {
            if writer.queue_serialized(xml).is_err() {
                tracing::warn!("dropping a delivery that is not UTF-8");
            }
        }
        Some(Outbound::End) | None => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use bytes::Bytes;
    use tokio::net::{TcpListener, TcpStream};
    use xmpp_core::ns;
    use xmpp_stream::{Transport, XmlWriter};

    use super::*;
    use crate::outbox::PushError;

    /// A writer over a loopback connection, and the peer's end as a plain non-blocking
    /// socket, read without the runtime (whose paused clock would jump while it waited).
    async fn writer() -> (Writer, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let peer = listener.accept().await.unwrap().0.into_std().unwrap();
        peer.set_nonblocking(true).unwrap();
        let (_, write) = tokio::io::split(Transport::Plain(ours));
        (XmlWriter::new(write, ns::JABBER_CLIENT), peer)
    }

    /// Whatever the peer has received so far.
    fn received(peer: &mut std::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0; 1024];
        loop {
            match peer.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        String::from_utf8(got).unwrap()
    }

    /// RFC 6120 §4.6.1: whitespace goes out only once the stream has been quiet for the
    /// interval (10 s here), counted from the last write.
    #[tokio::test(start_paused = true)]
    async fn keepalives_go_out_only_after_a_quiet_interval() {
        let (writer, mut peer) = writer().await;
        let outbox = Arc::new(Outbox::new(16));
        let control = Arc::new(SessionControl::new(outbox.clone()));
        let keepalive = Some(Duration::from_secs(10));
        let task = tokio::spawn(run_writer(writer, control.clone(), keepalive));
        let presence = || Outbound::Serialized(Bytes::from_static(b"<presence/>"));
        // A stanza every 6 s for 30 s, then 9 s of quiet: no keepalive yet.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            outbox.try_push(presence()).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert_eq!(received(&mut peer), "<presence/>".repeat(5));
        // 10 s after the last stanza, then every 10 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(received(&mut peer), " ");
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(received(&mut peer), "");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(received(&mut peer), " ");
        // A stanza moves the next keepalive to 10 s after it.
        tokio::time::sleep(Duration::from_secs(5)).await;
        outbox.try_push(presence()).unwrap();
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert_eq!(received(&mut peer), "<presence/>");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(received(&mut peer), " ");

        control.terminate(StreamError::new(StreamErrorCondition::SystemShutdown));
        task.await.unwrap();
        assert!(received(&mut peer).contains("<system-shutdown"));
    }

    /// An idle writer waits on its queue alone; termination wakes it there, and the reason
    /// goes out as a stream error (RFC 6120 §4.9.1.1) before the stream's close.
    #[tokio::test(start_paused = true)]
    async fn terminating_an_idle_session_wakes_its_writer() {
        let (writer, mut peer) = writer().await;
        let outbox = Arc::new(Outbox::new(16));
        let control = Arc::new(SessionControl::new(outbox.clone()));
        let task = tokio::spawn(run_writer(writer, control.clone(), None));
        outbox
            .try_push(Outbound::Serialized(Bytes::from_static(b"<presence/>")))
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(received(&mut peer), "<presence/>");
        assert!(!task.is_finished());

        control.terminate(StreamError::new(StreamErrorCondition::Conflict));
        // The paused clock jumps to the deadline if nothing else can run: a writer that did
        // not wake fails here instead of hanging the test.
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the idle writer woke for the termination")
            .unwrap();
        let rest = received(&mut peer);
        assert!(
            rest.starts_with("<stream:error><conflict ") && rest.ends_with("</stream:stream>"),
            "{rest}"
        );
        assert!(matches!(
            outbox.try_push(Outbound::End),
            Err(PushError::Closed(_))
        ));
    }
}
