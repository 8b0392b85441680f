//! Pairing replies with commands, frame by frame, as the connection's task does: the
//! exchanges are those of a subscriber whose server gives a slot away meanwhile
//! (valkey-io/valkey#1066), and of a connection that lost the pairing.

use std::sync::{Arc, Mutex};

use super::*;

/// Requests in flight and what their callers and the push handler get.
struct Flight {
    pending: VecDeque<Pending>,
    outcomes: Vec<oneshot::Receiver<RedisResult<()>>>,
    pushes: Arc<Mutex<Vec<PushInfo>>>,
}

impl Flight {
    fn new() -> Self {
        Self {
            pending: VecDeque::new(),
            outcomes: Vec::new(),
            pushes: Arc::default(),
        }
    }

    /// Puts `request` in flight, as written.
    fn send(&mut self, mut request: Request) {
        let (done, outcome) = oneshot::channel();
        request.done = Some(done);
        self.outcomes.push(outcome);
        self.pending.push_back(Pending {
            expects: request.expects,
            error: None,
            done: request.done,
        });
    }

    /// Receives `value`, which must keep the connection in step.
    fn receive(&mut self, value: Value) {
        let received = self.try_receive(value.clone());
        assert!(received.is_ok(), "{value:?}: {received:?}");
    }

    fn try_receive(&mut self, value: Value) -> RedisResult<()> {
        let pushes = Arc::clone(&self.pushes);
        let on_push = move |push: PushInfo| pushes.lock().unwrap().push(push);
        receive(value, &mut self.pending, &on_push)
    }

    /// The outcome of the `n`th request: `None` while it waits for a reply, else `Ok` or
    /// the error's text.
    fn outcome(&mut self, n: usize) -> Option<Result<(), String>> {
        let outcome = self.outcomes[n].try_recv().ok()?;
        Some(outcome.map_err(|error| error.to_string()))
    }

    fn pushed(&self) -> Vec<PushKind> {
        let pushes = self.pushes.lock().unwrap();
        pushes.iter().map(|push| push.kind.clone()).collect()
    }
}

fn ssubscribe(channel: &str) -> Request {
    let mut request = Request::default();
    request.ssubscribe(channel);
    request
}

fn sunsubscribe(channel: &str) -> Request {
    let mut request = Request::default();
    request.push(
        ::redis::cmd("SUNSUBSCRIBE").arg(channel),
        Expect::OptionalError,
    );
    let echo = Expect::Echo(channel.as_bytes().to_vec());
    request.push(::redis::cmd("PING").arg(channel), echo);
    request
}

fn push(kind: PushKind, channel: &str, count: i64) -> Value {
    let data = vec![
        Value::BulkString(channel.as_bytes().to_vec()),
        Value::Int(count),
    ];
    Value::Push { kind, data }
}

fn moved(slot: u16) -> Value {
    let error = format!("-MOVED {slot} 127.0.0.1:7002\r\n");
    let Ok(Value::ServerError(error)) = ::redis::parse_redis_value(error.as_bytes()) else {
        unreachable!("an error reply parses as one");
    };
    Value::ServerError(error)
}

#[test]
fn a_servers_own_sunsubscribe_is_handed_over_not_taken_for_a_reply() {
    let mut flight = Flight::new();
    flight.send(ssubscribe("u:romeo"));
    flight.send(ssubscribe("u:juliet"));
    // The server gave away the slot of a held channel before it read the two commands: the
    // first is refused (its channel is in that slot), the second made.
    flight.receive(push(PushKind::SUnsubscribe, "u:nurse", 0));
    assert_eq!(flight.outcome(0), None);
    flight.receive(moved(1234));
    flight.receive(push(PushKind::SSubscribe, "u:juliet", 1));

    assert_eq!(flight.pushed(), [PushKind::SUnsubscribe]);
    let refused = "Moved: 1234 127.0.0.1:7002".to_owned();
    assert_eq!(flight.outcome(0), Some(Err(refused)));
    assert_eq!(flight.outcome(1), Some(Ok(())));
    assert!(flight.pending.is_empty());
}

#[test]
fn an_unsubscribe_ends_with_its_echo_and_any_error_before_it_is_its_own() {
    let mut flight = Flight::new();
    flight.send(sunsubscribe("u:romeo"));
    flight.send(sunsubscribe("u:juliet"));
    flight.send(ssubscribe("u:nurse"));
    // romeo's confirmation, then the server's own push for juliet's moved slot, which also
    // refuses juliet's SUNSUBSCRIBE.
    flight.receive(push(PushKind::SUnsubscribe, "u:romeo", 0));
    flight.receive(Value::BulkString(b"u:romeo".to_vec()));
    flight.receive(push(PushKind::SUnsubscribe, "u:juliet", 0));
    flight.receive(moved(99));
    assert_eq!(flight.outcome(1), None);
    flight.receive(Value::BulkString(b"u:juliet".to_vec()));
    flight.receive(push(PushKind::SSubscribe, "u:nurse", 1));

    assert_eq!(flight.outcome(0), Some(Ok(())));
    let refused = "Moved: 99 127.0.0.1:7002".to_owned();
    assert_eq!(flight.outcome(1), Some(Err(refused)));
    assert_eq!(flight.outcome(2), Some(Ok(())));
    assert_eq!(
        flight.pushed(),
        [PushKind::SUnsubscribe, PushKind::SUnsubscribe]
    );
}

#[test]
fn a_batch_is_done_when_its_last_reply_arrives_with_its_first_error() {
    let mut flight = Flight::new();
    let mut batch = Request::default();
    for channel in ["u:a", "u:b", "u:c"] {
        batch.ssubscribe(channel);
    }
    flight.send(batch);
    flight.receive(push(PushKind::SSubscribe, "u:a", 1));
    flight.receive(moved(7));
    assert_eq!(flight.outcome(0), None);
    flight.receive(moved(8));
    let first = "Moved: 7 127.0.0.1:7002".to_owned();
    assert_eq!(flight.outcome(0), Some(Err(first)));
}

#[test]
fn a_reply_its_command_does_not_expect_puts_the_connection_out_of_step() {
    let confirmation_of_another = push(PushKind::SSubscribe, "u:juliet", 1);
    let pong_for_a_subscription = Value::SimpleString("PONG".to_owned());
    let echo_of_another = Value::BulkString(b"u:juliet".to_vec());
    for (request, reply) in [
        (ssubscribe("u:romeo"), confirmation_of_another),
        (ssubscribe("u:romeo"), pong_for_a_subscription),
        (sunsubscribe("u:romeo"), echo_of_another),
    ] {
        let mut flight = Flight::new();
        flight.send(request);
        let error = flight.try_receive(reply.clone()).unwrap_err();
        assert!(
            error.to_string().contains("replies out of step"),
            "{reply:?}: {error}"
        );
    }
    // A reply with nothing in flight.
    let error = Flight::new().try_receive(Value::SimpleString("PONG".to_owned()));
    assert!(error.is_err());
}

#[test]
fn messages_are_handed_over_between_replies() {
    let mut flight = Flight::new();
    let mut ping = Request::default();
    ping.ping();
    flight.send(ping);
    let message = Value::Push {
        kind: PushKind::SMessage,
        data: vec![
            Value::BulkString(b"u:romeo".to_vec()),
            Value::BulkString(b"hi".to_vec()),
        ],
    };
    flight.receive(message);
    assert_eq!(flight.outcome(0), None);
    flight.receive(Value::SimpleString("PONG".to_owned()));
    assert_eq!(flight.outcome(0), Some(Ok(())));
    assert_eq!(flight.pushed(), [PushKind::SMessage]);
}
