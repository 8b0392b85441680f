//! Counting sessions per user against a bus double that records each (un)subscription and
//! can hold one back until the test lets it go.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::Notify;

use super::*;

/// The bus double: `+user` for each subscription, `-user` for each unsubscription.
#[derive(Default)]
struct Recorded {
    calls: Mutex<Vec<String>>,
    /// Calls that wait until notified, by their record.
    stalled: Mutex<HashMap<String, Arc<Notify>>>,
    /// Users whose subscription fails.
    failing: Mutex<HashSet<String>>,
}

impl Recorded {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Holds back `call` (e.g. `+juliet@example.com`) until the returned notify fires.
    fn stall(&self, call: &str) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        let mut stalled = self.stalled.lock().unwrap();
        stalled.insert(call.to_owned(), Arc::clone(&notify));
        notify
    }

    async fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call.clone());
        let stall = self.stalled.lock().unwrap().remove(&call);
        if let Some(notify) = stall {
            notify.notified().await;
        }
    }
}

impl ChannelControl for Arc<Recorded> {
    fn subscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send {
        let (recorded, user) = (Arc::clone(self), user.to_owned());
        async move {
            recorded.record(format!("+{user}")).await;
            if recorded.failing.lock().unwrap().contains(&user) {
                return Err(BusError::Unavailable("refused by the double".to_owned()));
            }
            Ok(())
        }
    }

    fn unsubscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send {
        let (recorded, user) = (Arc::clone(self), user.to_owned());
        async move {
            recorded.record(format!("-{user}")).await;
            Ok(())
        }
    }
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn channels() -> (Arc<UserChannels<Arc<Recorded>>>, Arc<Recorded>) {
    let recorded = Arc::new(Recorded::default());
    (Arc::new(UserChannels::new(Arc::clone(&recorded))), recorded)
}

enum Change {
    Hold,
    Release,
}

/// `users.hold(user)` or `users.release(user)` in a task of its own.
fn spawn(
    users: &Arc<UserChannels<Arc<Recorded>>>,
    user: &Jid,
    change: Change,
) -> tokio::task::JoinHandle<Result<(), BusError>> {
    let (users, user) = (Arc::clone(users), user.clone());
    tokio::spawn(async move {
        match change {
            Change::Hold => users.hold(&user).await,
            Change::Release => users.release(&user).await,
        }
    })
}

/// Asserts that `waiting` waits while `stalled` holds back the call of `holder`, then lets
/// the call go: both must then succeed.
async fn in_turn(
    stalled: &Notify,
    holder: tokio::task::JoinHandle<Result<(), BusError>>,
    waiting: tokio::task::JoinHandle<Result<(), BusError>>,
) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    stalled.notify_one();
    holder.await.unwrap().unwrap();
    waiting.await.unwrap().unwrap();
}

/// Lets spawned tasks run until `done` holds (at most a few seconds).
async fn until(done: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened");
}

#[tokio::test]
async fn the_first_session_subscribes_and_the_last_unsubscribes() {
    let (users, recorded) = channels();
    let (juliet, romeo) = (jid("juliet@example.com"), jid("romeo@example.com"));
    users.hold(&juliet).await.unwrap();
    users.hold(&juliet).await.unwrap();
    users.hold(&romeo).await.unwrap();
    assert_eq!(
        recorded.calls(),
        ["+juliet@example.com", "+romeo@example.com"]
    );
    users.release(&juliet).await.unwrap();
    assert_eq!(recorded.calls().len(), 2);
    users.release(&juliet).await.unwrap();
    users.release(&romeo).await.unwrap();
    assert_eq!(
        recorded.calls()[2..],
        ["-juliet@example.com", "-romeo@example.com"]
    );
    assert_eq!(users.listed(), 0);
    // A release with no session left changes nothing.
    users.release(&juliet).await.unwrap();
    assert_eq!(recorded.calls().len(), 4);
}

#[tokio::test]
async fn a_failed_subscription_counts_nothing_and_the_next_session_tries_again() {
    let (users, recorded) = channels();
    let juliet = jid("juliet@example.com");
    recorded.failing.lock().unwrap().insert(juliet.to_string());
    assert!(matches!(
        users.hold(&juliet).await,
        Err(BusError::Unavailable(_))
    ));
    assert_eq!(users.listed(), 0);
    recorded.failing.lock().unwrap().clear();
    users.hold(&juliet).await.unwrap();
    users.release(&juliet).await.unwrap();
    assert_eq!(
        recorded.calls(),
        [
            "+juliet@example.com",
            "+juliet@example.com",
            "-juliet@example.com"
        ]
    );
    assert_eq!(users.listed(), 0);
}

#[tokio::test]
async fn other_users_do_not_wait_for_a_stalled_subscription_but_the_same_user_does() {
    let (users, recorded) = channels();
    let (juliet, romeo) = (jid("juliet@example.com"), jid("romeo@example.com"));
    let stalled = recorded.stall("+juliet@example.com");
    let first = spawn(&users, &juliet, Change::Hold);
    until(|| recorded.calls().len() == 1).await;

    // Romeo binds while Juliet's channel is being subscribed: not behind it.
    let romeo_bound = tokio::time::timeout(Duration::from_secs(5), users.hold(&romeo)).await;
    assert!(matches!(romeo_bound, Ok(Ok(()))), "{romeo_bound:?}");

    // Juliet's second session waits for her channel, and does not subscribe it again.
    let second = spawn(&users, &juliet, Change::Hold);
    in_turn(&stalled, first, second).await;
    assert_eq!(
        recorded.calls(),
        ["+juliet@example.com", "+romeo@example.com"]
    );
    users.release(&juliet).await.unwrap();
    users.release(&juliet).await.unwrap();
    assert_eq!(recorded.calls().last().unwrap(), "-juliet@example.com");
}

#[tokio::test]
async fn a_session_binding_while_the_last_one_leaves_subscribes_again_after_it() {
    let (users, recorded) = channels();
    let juliet = jid("juliet@example.com");
    users.hold(&juliet).await.unwrap();
    let stalled = recorded.stall("-juliet@example.com");
    let leaving = spawn(&users, &juliet, Change::Release);
    until(|| recorded.calls().len() == 2).await;
    let binding = spawn(&users, &juliet, Change::Hold);
    in_turn(&stalled, leaving, binding).await;
    assert_eq!(
        recorded.calls(),
        [
            "+juliet@example.com",
            "-juliet@example.com",
            "+juliet@example.com"
        ]
    );
    assert_eq!(users.listed(), 1);
    users.release(&juliet).await.unwrap();
    assert_eq!(users.listed(), 0);
}

/// Sessions of a few users binding and leaving at once on several threads: each user's
/// calls alternate, subscription first, and every user ends unsubscribed and unlisted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sessions_leave_every_channel_as_its_count_says() {
    let (users, recorded) = channels();
    let names: Vec<Jid> = (0..4)
        .map(|n| jid(&format!("user{n}@example.com")))
        .collect();
    let mut tasks = Vec::new();
    for task in 0..64 {
        let (users, user) = (Arc::clone(&users), names[task % names.len()].clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                users.hold(&user).await.unwrap();
                tokio::task::yield_now().await;
                users.release(&user).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(users.listed(), 0);
    for user in &names {
        let calls: Vec<String> = recorded
            .calls()
            .into_iter()
            .filter(|call| call[1..] == *user.as_str())
            .collect();
        assert!(!calls.is_empty());
        for (n, call) in calls.iter().enumerate() {
            let expected = if n % 2 == 0 { '+' } else { '-' };
            assert!(call.starts_with(expected), "{user}: {calls:?}");
        }
        assert!(calls.last().unwrap().starts_with('-'), "{user}: {calls:?}");
    }
}
