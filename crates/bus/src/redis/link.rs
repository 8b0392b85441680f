//! An inbox's connection to one Redis server: a RESP3 connection of its own, whose reading
//! task pairs each reply with the command it answers by what the reply says, not only by
//! its place in the stream.
//!
//! Why not the redis crate's multiplexed connection: it takes every subscription push as the
//! reply to the oldest command in flight, and a server pushes `sunsubscribe` by itself for
//! every channel of a slot it gives away, a push nothing tells from the confirmation of a
//! `SUNSUBSCRIBE` (valkey-io/valkey#1066; rueidis and StackExchange.Redis handle the same in
//! their clients). Arriving while subscriptions are in flight, it became the reply to the
//! first of them and shifted every later reply onto the next command: a subscription the
//! server refused (its slot had just moved) was reported made, and the one behind it, made,
//! was reported refused (`a_dropped_channel_does_not_answer_for_subscriptions_in_flight`).
//!
//! Here a `sunsubscribe` push is never a reply: it goes to the inbox like a message, which
//! follows the channel if it still holds it. The commands are such that every reply says
//! which command it answers or is an error: `SSUBSCRIBE` of one channel (a `ssubscribe` push
//! naming it), `PING` (`PONG`), and `SUNSUBSCRIBE` of one channel followed by `PING
//! <channel>` (the channel echoed; an error before it is the `SUNSUBSCRIBE`'s). A reply that
//! is not what its command expects would mean the pairing was lost: the connection is then
//! closed like a lost one, and the inbox reconnects and subscribes again.
//!
//! Order alone decides one case wrongly: a `SUNSUBSCRIBE` that succeeds followed by a `PING`
//! that fails (a server still loading its data refuses `PING`, not `SUNSUBSCRIBE`). The
//! error is taken for the `SUNSUBSCRIBE`'s, and the replies after it are one command off
//! until the first that is not an error, which cannot match and closes the connection; the
//! health check's own `PING` fails there too.

use std::collections::VecDeque;
use std::io;

use ::redis::{
    Cmd, ConnectionAddr, ConnectionInfo, PushInfo, PushKind, RedisError, RedisResult, Value,
    ValueCodec,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

use super::tls::RedisTls;

/// Requests waiting for a connection's task to write them. A caller finding the queue full
/// waits for room within its command timeout.
const REQUEST_QUEUE: usize = 1024;

/// What an inbox's connection receives besides replies: messages, `sunsubscribe` pushes,
/// and [`PushKind::Disconnection`] once when the connection is lost.
pub(crate) trait OnPush: Fn(PushInfo) + Send + Sync + 'static {}
impl<F: Fn(PushInfo) + Send + Sync + 'static> OnPush for F {}

/// A connection to one server. Clones share it; it closes when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct Link {
    /// Tells this connection's pushes from those of an earlier one to the same server.
    pub(crate) id: u64,
    requests: mpsc::Sender<Request>,
}

impl Link {
    /// Connects to the server of `info` (over TLS as `tls` trusts for a `rediss://` address;
    /// `HELLO 3`, with its credentials; `SELECT` of its database if not 0) and starts the
    /// connection's task, which hands pushes to `on_push`.
    pub(crate) async fn connect(
        id: u64,
        info: &ConnectionInfo,
        tls: Option<&RedisTls>,
        on_push: impl OnPush,
    ) -> RedisResult<Self> {
        match (info.addr(), tls) {
            (ConnectionAddr::Tcp(host, port), _) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Self::start(id, info, stream, on_push).await
            }
            (ConnectionAddr::TcpTls { host, port, .. }, Some(tls)) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                let stream = tls.connect(host, stream).await?;
                Self::start(id, info, stream, on_push).await
            }
            #[cfg(unix)]
            (ConnectionAddr::Unix(path), _) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Self::start(id, info, stream, on_push).await
            }
            (other, _) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the bus does not connect to {other}"),
            )
            .into()),
        }
    }

    async fn start<S>(
        id: u64,
        info: &ConnectionInfo,
        stream: S,
        on_push: impl OnPush,
    ) -> RedisResult<Self>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut framed = Framed::new(stream, ValueCodec::default());
        let settings = info.redis_settings();
        let mut hello = ::redis::cmd("HELLO");
        hello.arg(3);
        if let Some(password) = settings.password() {
            hello
                .arg("AUTH")
                .arg(settings.username().unwrap_or("default"))
                .arg(password);
        }
        handshake(&mut framed, &hello).await?;
        if settings.db() != 0 {
            handshake(&mut framed, ::redis::cmd("SELECT").arg(settings.db())).await?;
        }
        let (requests, queue) = mpsc::channel(REQUEST_QUEUE);
        tokio::spawn(drive(framed, queue, on_push));
        Ok(Self { id, requests })
    }

    /// `SSUBSCRIBE` of `channel`.
    pub(crate) async fn ssubscribe(&self, channel: &str) -> RedisResult<()> {
        self.send(|request| request.ssubscribe(channel)).await
    }

    /// `SUNSUBSCRIBE` of `channel`.
    pub(crate) async fn sunsubscribe(&self, channel: &str) -> RedisResult<()> {
        self.send(|request| request.sunsubscribe(channel)).await
    }

    /// `SSUBSCRIBE` of each of `channels`, one command per channel (a multi-channel
    /// `SSUBSCRIBE` would be confirmed channel by channel, and in a cluster its channels would
    /// need to share a slot), written together: the first error, once every reply arrived.
    pub(crate) async fn ssubscribe_all(&self, channels: &[String]) -> RedisResult<()> {
        self.send(|request| {
            channels
                .iter()
                .for_each(|channel| request.ssubscribe(channel))
        })
        .await
    }

    /// `SUNSUBSCRIBE` of each of `channels`, queued before this returns, without waiting for
    /// the replies: a caller holding a lock knows it goes before any command queued after the
    /// lock is released. (An error would be the server's word that the channel is not
    /// subscribed there anyway.) False if the queue is full or the connection closed.
    pub(crate) fn sunsubscribe_now(&self, channels: &[String]) -> bool {
        let mut request = Request::default();
        channels
            .iter()
            .for_each(|channel| request.sunsubscribe(channel));
        request.expects.is_empty() || self.requests.try_send(request).is_ok()
    }

    pub(crate) async fn ping(&self) -> RedisResult<()> {
        self.send(Request::ping).await
    }

    /// Sends the commands `build` writes, and waits for their replies: the first error.
    async fn send(&self, build: impl FnOnce(&mut Request)) -> RedisResult<()> {
        let (done, outcome) = oneshot::channel();
        let mut request = Request {
            done: Some(done),
            ..Request::default()
        };
        build(&mut request);
        if request.expects.is_empty() {
            return Ok(());
        }
        if self.requests.send(request).await.is_err() {
            return Err(lost("the connection is closed"));
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(lost("the connection closed before the reply")))
    }
}

/// Commands written together and the replies they expect, in order.
#[derive(Default)]
struct Request {
    packed: Vec<u8>,
    expects: VecDeque<Expect>,
    done: Option<oneshot::Sender<RedisResult<()>>>,
}

impl Request {
    fn push(&mut self, cmd: &Cmd, expect: Expect) {
        cmd.write_packed_command(&mut self.packed);
        self.expects.push_back(expect);
    }

    fn ssubscribe(&mut self, channel: &str) {
        let expect = Expect::Subscribed(channel.as_bytes().to_vec());
        self.push(::redis::cmd("SSUBSCRIBE").arg(channel), expect);
    }

    /// `SUNSUBSCRIBE` and `PING <channel>`: the echo ends the replies to the two.
    fn sunsubscribe(&mut self, channel: &str) {
        self.push(
            ::redis::cmd("SUNSUBSCRIBE").arg(channel),
            Expect::OptionalError,
        );
        let echo = Expect::Echo(channel.as_bytes().to_vec());
        self.push(::redis::cmd("PING").arg(channel), echo);
    }

    fn ping(&mut self) {
        self.push(&::redis::cmd("PING"), Expect::Pong);
    }
}

/// What the next reply to a command must be, besides an error, which answers any command.
#[derive(Debug)]
enum Expect {
    /// `ssubscribe` push naming the channel.
    Subscribed(Vec<u8>),
    /// `PONG`.
    Pong,
    /// The argument of `PING <argument>`.
    Echo(Vec<u8>),
    /// An error, if there is one; otherwise nothing (a `SUNSUBSCRIBE`, whose confirmation
    /// is a push like the server's own).
    OptionalError,
}

impl Expect {
    fn accepts(&self, reply: &Value) -> bool {
        match (self, reply) {
            (
                Self::Subscribed(channel),
                Value::Push {
                    kind: PushKind::SSubscribe,
                    data,
                },
            ) => {
                matches!(data.first(), Some(Value::BulkString(named)) if named == channel)
            }
            (Self::Pong, Value::SimpleString(pong)) => pong == "PONG",
            (Self::Echo(argument), Value::BulkString(echoed)) => echoed == argument,
            _ => false,
        }
    }
}

/// A request written and waiting for its replies.
struct Pending {
    expects: VecDeque<Expect>,
    error: Option<RedisError>,
    done: Option<oneshot::Sender<RedisResult<()>>>,
}

/// Writes the requests, reads the replies and pushes, until the last [`Link`] is dropped
/// (the connection is closed) or the connection is lost or out of step (the requests in
/// flight fail, and `on_push` gets [`PushKind::Disconnection`]).
async fn drive<S>(
    mut framed: Framed<S, ValueCodec>,
    mut queue: mpsc::Receiver<Request>,
    on_push: impl OnPush,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut pending = VecDeque::new();
    let lost = loop {
        tokio::select! {
            request = queue.recv() => {
                let Some(request) = request else { return };
                if let Err(error) = write(&mut framed, request, &mut queue, &mut pending).await {
                    break error;
                }
            }
            frame = framed.next() => {
                let received = match frame {
                    Some(Ok(value)) => receive(value, &mut pending, &on_push).inspect_err(|error| {
                        tracing::warn!(%error, "a bus connection is out of step, closing it");
                    }),
                    Some(Err(error)) => Err(error),
                    None => Err(lost("the server closed the connection")),
                };
                if let Err(error) = received {
                    break error;
                }
            }
        }
    };
    tracing::debug!(%lost, "bus connection lost");
    for request in pending {
        if let Some(done) = request.done {
            let _ = done.send(Err(lost_like(&lost)));
        }
    }
    on_push(PushInfo {
        kind: PushKind::Disconnection,
        data: Vec::new(),
    });
}

/// Writes `request` and whatever else is queued already, with one flush.
async fn write<S>(
    framed: &mut Framed<S, ValueCodec>,
    request: Request,
    queue: &mut mpsc::Receiver<Request>,
    pending: &mut VecDeque<Pending>,
) -> RedisResult<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut next = Some(request);
    while let Some(request) = next {
        framed.feed(request.packed).await?;
        pending.push_back(Pending {
            expects: request.expects,
            error: None,
            done: request.done,
        });
        next = queue.try_recv().ok();
    }
    framed.flush().await
}

/// Hands a push to `on_push`, or pairs a reply with the oldest request in flight: an error
/// when the reply is not one the request expects.
fn receive(
    value: Value,
    pending: &mut VecDeque<Pending>,
    on_push: &impl OnPush,
) -> RedisResult<()> {
    let value = match value {
        Value::Attribute { data, .. } => *data,
        value => value,
    };
    let reply = match value {
        Value::Push { kind, data } if kind != PushKind::SSubscribe => {
            on_push(PushInfo { kind, data });
            return Ok(());
        }
        reply => reply,
    };
    let Some(request) = pending.front_mut() else {
        return Err(out_of_step(&reply, None));
    };
    loop {
        let Some(expect) = request.expects.pop_front() else {
            return Err(out_of_step(&reply, None));
        };
        if let Value::ServerError(error) = &reply {
            request.error.get_or_insert_with(|| error.clone().into());
        } else if matches!(expect, Expect::OptionalError) {
            continue;
        } else if !expect.accepts(&reply) {
            return Err(out_of_step(&reply, Some(&expect)));
        }
        break;
    }
    if request.expects.is_empty()
        && let Some(request) = pending.pop_front()
        && let Some(done) = request.done
    {
        // A caller that gave up waiting has dropped the receiver.
        let _ = done.send(request.error.map_or(Ok(()), Err));
    }
    Ok(())
}

/// Writes `cmd` and reads its reply, before the connection's task starts.
async fn handshake<S>(framed: &mut Framed<S, ValueCodec>, cmd: &Cmd) -> RedisResult<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    framed.send(cmd.get_packed_command()).await?;
    match framed.next().await {
        Some(Ok(Value::ServerError(error))) => Err(error.into()),
        Some(Ok(_)) => Ok(()),
        Some(Err(error)) => Err(error),
        None => Err(lost("the server closed the connection")),
    }
}

fn out_of_step(reply: &Value, expected: Option<&Expect>) -> RedisError {
    let expected = expected.map_or("no reply".to_owned(), |expect| format!("{expect:?}"));
    lost(&format!(
        "replies out of step: expected {expected}, got {reply:?}"
    ))
}

fn lost(why: &str) -> RedisError {
    io::Error::new(io::ErrorKind::ConnectionAborted, why.to_owned()).into()
}

/// The error given to every request in flight when the connection is lost with `error`.
fn lost_like(error: &RedisError) -> RedisError {
    lost(&error.to_string())
}

#[cfg(test)]
mod tests;
