//! Faults in a real cluster (`scripts/cluster up`): a connection manager killed with
//! SIGKILL, a roster-presence shard killed and started again, Redis and Postgres taken away
//! and brought back. Each scenario checks what clients see during the fault and that the
//! cluster recovers by itself, and leaves everything running again, even when it fails.
//!
//! The scenarios stop shared processes, so they run one after the other in one test, in a
//! fixed order (Redis last: what a Redis restart leaves behind would otherwise show up in the
//! scenarios after it), each in its own task so that a failing one does not keep the others
//! from running. No other tests should use the cluster meanwhile.

mod cluster_support;

use std::time::Duration;

use cluster_support::peer::{Peer, presence};
use cluster_support::{
    Cluster, DELAY, DOMAIN, child_text, is_wait_error, listening, message_with, online,
    online_with_priority, roster_items, subscribe, within,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::Instant;
use tokio_xmpp::minidom::Element;

/// How long after a connection manager dies its sessions may still look available to their
/// contacts: the liveness key's TTL plus a shard's check interval, with margin.
const GHOST_BOUND: Duration = Duration::from_secs(15);
/// How long a restarted shard may take to know its users' sessions again.
const SHARD_RECOVERY: Duration = Duration::from_secs(10);
/// How long the cluster may take to work again once Redis or Postgres is back.
const SERVICE_RECOVERY: Duration = Duration::from_secs(20);
/// How long after Redis is back every liveness key has been written again and read by every
/// shard: the keys' TTL (10 s) plus a shard's check interval (2 s), with margin.
const LIVENESS_SETTLED: Duration = Duration::from_secs(13);

/// Every scenario, in order; fails listing those that failed (each one's panic is printed
/// where it happened).
#[tokio::test]
async fn cluster_faults() {
    let cluster = Cluster::from_env();
    let scenarios: [(&str, BoxFuture<'static, ()>); 4] = [
        (
            "kill -9 of a connection manager",
            kill_9_of_a_connection_manager_ends_its_sessions_for_contacts(cluster.clone()).boxed(),
        ),
        (
            "restart of a shard",
            restart_of_a_shard_keeps_rosters_and_presence_converges(cluster.clone()).boxed(),
        ),
        (
            "Postgres outage",
            postgres_outage_gives_wait_errors_then_rosters_work_again(cluster.clone()).boxed(),
        ),
        (
            "Redis outage",
            redis_outage_gives_wait_errors_then_messages_flow_again(cluster.clone()).boxed(),
        ),
    ];
    let mut failed = Vec::new();
    for (name, scenario) in scenarios {
        if tokio::spawn(scenario).await.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}

fn bare(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// Starts again, when dropped, what a scenario stopped, unless [`Restore::now`] did already;
/// so that a failing scenario still leaves the cluster up for the next one.
struct Restore {
    cluster: Cluster,
    script: &'static str,
    args: Vec<String>,
    done: bool,
}

impl Restore {
    fn new(cluster: &Cluster, script: &'static str, args: &[&str]) -> Restore {
        Restore {
            cluster: cluster.clone(),
            script,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            done: false,
        }
    }

    /// Starts it again now and waits until it is ready.
    async fn now(mut self) {
        self.done = true;
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.cluster.script(self.script, &args).await;
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.cluster.run_script(self.script, &self.args)
        {
            eprintln!("restoring the cluster failed: {e}");
        }
    }
}

/// Waits until `peer` gets unavailable presence from `from`; how long after `since` it came.
async fn unavailable_from(peer: &mut Peer, from: &str, since: Instant) -> Option<Duration> {
    within(peer, GHOST_BOUND + Duration::from_secs(10), |e| {
        presence(e, from, Some("unavailable"))
    })
    .await
    .map(|_| since.elapsed())
}

/// A connection manager killed with SIGKILL sends nothing for its sessions; the shards notice
/// that its liveness key expired and end its sessions (RFC 6121 §4.5.2 for a lost
/// connection): every contact, here on the other connection manager and on other shards,
/// gets unavailable presence from the session's full JID within [`GHOST_BOUND`].
async fn kill_9_of_a_connection_manager_ends_its_sessions_for_contacts(cluster: Cluster) {
    let [victim, first, second] = cluster.users(["victim", "contact", "contact"]);
    let mut victim = online(cluster.c2s(1), &victim).await;
    let mut first = online(cluster.c2s(2), &first).await;
    let mut second = online(cluster.c2s(2), &second).await;
    subscribe(&mut first, &mut victim).await;
    subscribe(&mut second, &mut victim).await;
    let victim_full = victim.jid.clone();
    victim
        .send("<presence><status>before the crash</status></presence>")
        .await;
    for contact in [&mut first, &mut second] {
        let update = contact
            .expect("the victim's presence", |e| presence(e, &victim_full, None))
            .await;
        assert_eq!(
            child_text(&update, "status").as_deref(),
            Some("before the crash")
        );
    }

    let restart = Restore::new(&cluster, "cluster", &["start", "c2s-1"]);
    let killed = Instant::now();
    cluster.script("cluster", &["kill", "c2s-1"]).await;
    drop(victim);
    let (a, b) = tokio::join!(
        unavailable_from(&mut first, &victim_full, killed),
        unavailable_from(&mut second, &victim_full, killed),
    );
    eprintln!("ghost presence after kill -9 of c2s-1: {a:?} and {b:?} for the two contacts");
    for (contact, time) in [(&first, a), (&second, b)] {
        let time = time.unwrap_or_else(|| {
            panic!(
                "{} got no unavailable from {victim_full}; shard logs:\n{}",
                contact.jid,
                (0..cluster.shards.get())
                    .map(|i| cluster.log_tail(&format!("shard-{i}"), 10))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(
            time <= GHOST_BOUND,
            "{}: unavailable came {time:?} after the kill",
            contact.jid
        );
    }
    restart.now().await;
    // The restarted connection manager serves again.
    let mut back = online(cluster.c2s(1), &cluster.users(["after"])[0]).await;
    back.drain().await;
    for peer in [first, second, back] {
        peer.logout().await;
    }
}

/// Sends roster gets until one succeeds or `deadline` passes; every failure must be a
/// temporary error (type 'wait'). Returns the result and how many attempts failed.
async fn roster_until_ok(peer: &mut Peer, tag: &str, deadline: Instant) -> (Element, u32) {
    for attempt in 0.. {
        let id = format!("{tag}-{attempt}");
        peer.send(&format!(
            "<iq type='get' id='{id}'><query xmlns='jabber:iq:roster'/></iq>"
        ))
        .await;
        let reply = peer
            .expect("roster reply", |e| {
                e.name() == "iq" && e.attr("id") == Some(id.as_str())
            })
            .await;
        if reply.attr("type") == Some("result") {
            return (reply, attempt);
        }
        assert!(
            is_wait_error(&reply, "iq", &id),
            "a roster get failed otherwise than with a temporary error: {}",
            String::from(&reply)
        );
        assert!(
            Instant::now() < deadline,
            "roster gets still fail: {}",
            String::from(&reply)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    unreachable!()
}

/// Sends chats from `from` to `to`'s bare JID, one per second, until one reaches `to`
/// without a delay stamp (so live, not from offline storage) or `deadline` passes.
async fn chat_until_live(from: &mut Peer, to: &mut Peer, tag: &str, deadline: Instant) -> u32 {
    let to_bare = to.bare();
    for attempt in 0.. {
        from.send(&format!(
            "<message to='{to_bare}' type='chat' id='{tag}-{attempt}'><body>{tag}</body></message>"
        ))
        .await;
        let got = within(to, Duration::from_secs(1), |e| {
            message_with(e, tag) && e.get_child("delay", DELAY).is_none()
        })
        .await;
        if got.is_some() {
            return attempt;
        }
        assert!(
            Instant::now() < deadline,
            "no live '{tag}' from {} reached {}",
            from.jid,
            to.jid
        );
    }
    unreachable!()
}

/// Sends presence updates from `from` (show 'away', status `tag` and a number), one per
/// second, until `to` gets one or `deadline` passes; `None` then. How long it took.
async fn presence_until_seen(
    from: &mut Peer,
    to: &mut Peer,
    tag: &str,
    deadline: Instant,
) -> Option<Duration> {
    let started = Instant::now();
    let from_full = from.jid.clone();
    for attempt in 0.. {
        from.send(&format!(
            "<presence><show>away</show><status>{tag} {attempt}</status></presence>"
        ))
        .await;
        let got = within(to, Duration::from_secs(1), |e| {
            presence(e, &from_full, None)
                && child_text(e, "status").is_some_and(|s| s.starts_with(tag))
        })
        .await;
        if let Some(update) = got {
            assert_eq!(child_text(&update, "show").as_deref(), Some("away"));
            return Some(started.elapsed());
        }
        if Instant::now() >= deadline {
            eprintln!(
                "no presence update '{tag}' from {from_full} reached {}",
                to.jid
            );
            return None;
        }
    }
    unreachable!()
}

/// A shard killed with SIGKILL and started again loses only what it kept in memory: the
/// user's roster (RFC 6121 §2) is intact, and the connection managers register the user's
/// session again, so a contact's presence update (§4.4) reaches the user and the user's the
/// contact, and a message to the bare JID (§8.5.2.1.1) reaches the session live, within
/// [`SHARD_RECOVERY`].
async fn restart_of_a_shard_keeps_rosters_and_presence_converges(cluster: Cluster) {
    let [user, contact, other] = cluster.users(["user", "contact", "other"]);
    let shard = format!("shard-{}", cluster.shard_of(&user));
    let (contact_bare, other_bare) = (bare(&contact), bare(&other));
    let mut user = online(cluster.c2s(1), &user).await;
    let mut contact = online(cluster.c2s(2), &contact).await;
    let mut other = online(cluster.c2s(2), &other).await;
    subscribe(&mut user, &mut contact).await;
    subscribe(&mut contact, &mut user).await;
    subscribe(&mut user, &mut other).await;
    let (before, _) = roster_until_ok(&mut user, "before", Instant::now()).await;
    let before = roster_items(&before);
    assert_eq!(
        before,
        [
            (contact_bare.clone(), "both".to_owned(), None),
            (other_bare.clone(), "to".to_owned(), None),
        ]
    );

    let restart = Restore::new(&cluster, "cluster", &["start", &shard]);
    cluster.script("cluster", &["kill", &shard]).await;
    restart.now().await;
    let restarted = Instant::now();
    let deadline = restarted + SHARD_RECOVERY;

    let (after, failed) = roster_until_ok(&mut user, "after", deadline).await;
    assert_eq!(roster_items(&after), before, "the roster after the restart");
    eprintln!(
        "{shard} restarted: roster get succeeded after {failed} failed attempts, {:?}",
        restarted.elapsed()
    );

    let to_user = presence_until_seen(&mut contact, &mut user, "contact after restart", deadline)
        .await
        .unwrap_or_else(|| panic!("{shard} log:\n{}", cluster.log_tail(&shard, 20)));
    let from_user = presence_until_seen(&mut user, &mut contact, "user after restart", deadline)
        .await
        .unwrap_or_else(|| panic!("{shard} log:\n{}", cluster.log_tail(&shard, 20)));
    let failed = chat_until_live(&mut contact, &mut user, "live after restart", deadline).await;
    eprintln!(
        "{shard} restarted: presence reaches the user after {to_user:?} and the contact after \
         {from_user:?}; a live message after {failed} attempts, {:?}",
        restarted.elapsed()
    );
    contact
        .expect_none("an error", |e| e.attr("type") == Some("error"))
        .await;
    for peer in [user, contact, other] {
        peer.logout().await;
    }
}

/// Without Redis no delivery can be published: a message between two online users is
/// answered with a temporary error (RFC 6120 §8.3.2 type 'wait') instead of vanishing. Once
/// Redis is back, the bus reconnects and subscribes again by itself, and messages flow both
/// ways between the sessions that stayed connected throughout, and still do once the
/// liveness keys Redis lost have had time to be written again and checked.
async fn redis_outage_gives_wait_errors_then_messages_flow_again(cluster: Cluster) {
    let [alice, bob] = cluster.users(["alice", "bob"]);
    let bob_bare = bare(&bob);
    let mut alice = online_with_priority(cluster.c2s(1), &alice, 0).await;
    let mut bob = online_with_priority(cluster.c2s(2), &bob, 0).await;
    chat_until_live(&mut alice, &mut bob, "before the outage", Instant::now()).await;

    let restart = Restore::new(&cluster, "services", &["start-redis"]);
    cluster.script("services", &["stop-redis"]).await;
    assert!(
        !listening(cluster.var("REDIS_URL")),
        "Redis still answers after stop-redis: run the tests with the STARLING_SERVICES_DIR \
         the cluster was started with"
    );
    alice
        .send(&format!(
            "<message to='{bob_bare}' type='chat' id='down'><body>during the outage</body></message>"
        ))
        .await;
    let reply = alice
        .expect("a reply to the message", |e| e.attr("id") == Some("down"))
        .await;
    assert!(
        is_wait_error(&reply, "message", "down"),
        "not a temporary error: {}",
        String::from(&reply)
    );
    // §8.3.1: the error carries the original message's children, so the sender can tell
    // which message failed.
    assert_eq!(
        child_text(&reply, "body").as_deref(),
        Some("during the outage")
    );
    bob.expect_none("the message", |e| message_with(e, "during the outage"))
        .await;

    restart.now().await;
    let back = Instant::now();
    let deadline = back + SERVICE_RECOVERY;
    chat_until_live(&mut alice, &mut bob, "after the outage", deadline).await;
    let forth = back.elapsed();
    chat_until_live(&mut bob, &mut alice, "answer after the outage", deadline).await;
    eprintln!(
        "Redis back: messages flow again after {forth:?}, both ways after {:?}",
        back.elapsed()
    );
    // And they keep flowing: the shards do not take the connection managers for dead while
    // their liveness keys, lost with Redis's data, are being written again.
    tokio::time::sleep_until(back + LIVENESS_SETTLED).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    chat_until_live(&mut alice, &mut bob, "once settled", deadline).await;
    chat_until_live(&mut bob, &mut alice, "answer once settled", deadline).await;
    alice.logout().await;
    bob.logout().await;
}

/// Without Postgres a roster get (RFC 6121 §2.1.3) gets a temporary error (type 'wait');
/// once Postgres is back, roster gets succeed again by themselves.
async fn postgres_outage_gives_wait_errors_then_rosters_work_again(cluster: Cluster) {
    let [alice, bob] = cluster.users(["alice", "bob"]);
    let bob_bare = bare(&bob);
    let mut alice = online(cluster.c2s(1), &alice).await;
    let mut bob = online(cluster.c2s(2), &bob).await;
    subscribe(&mut alice, &mut bob).await;
    let (before, _) = roster_until_ok(&mut alice, "before", Instant::now()).await;
    assert_eq!(roster_items(&before), [(bob_bare, "to".to_owned(), None)]);

    let restart = Restore::new(&cluster, "services", &["start-postgres"]);
    cluster.script("services", &["stop-postgres"]).await;
    assert!(
        !listening(&cluster.database_url),
        "Postgres still answers after stop-postgres: run the tests with the \
         STARLING_SERVICES_DIR the cluster was started with"
    );
    alice
        .send("<iq type='get' id='down'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let reply = alice
        .expect("a reply to the roster get", |e| {
            e.attr("id") == Some("down")
        })
        .await;
    assert!(
        is_wait_error(&reply, "iq", "down"),
        "not a temporary error: {}",
        String::from(&reply)
    );

    restart.now().await;
    let back = Instant::now();
    let (after, failed) = roster_until_ok(&mut alice, "after", back + SERVICE_RECOVERY).await;
    assert_eq!(roster_items(&after), roster_items(&before));
    eprintln!(
        "Postgres back: roster get succeeded after {failed} failed attempts, {:?}",
        back.elapsed()
    );
    alice.logout().await;
    bob.logout().await;
}
