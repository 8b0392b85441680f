//! A running local cluster (`scripts/cluster up`) as the cluster tests see it: its
//! description in `$STARLING_CLUSTER_DIR/cluster.env`, fresh accounts made with the real
//! admin command, users picked so that they live on different shards, and the scripts that
//! stop and start roles and services.
//!
//! The tests need the cluster to run already; they fail (never skip) when it does not:
//!
//! ```text
//! eval "$(scripts/cluster up)"
//! cargo test -p starling --test cluster_im --test cluster_faults
//! scripts/cluster down
//! ```
#![allow(dead_code)]

#[path = "../../../connection-manager/tests/support/peer.rs"]
pub mod peer;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster_api::ShardCount;
use tokio_xmpp::minidom::Element;
use xmpp_core::Jid;

use peer::{Peer, is, item, presence, push_for};

/// The password of every account the tests create.
pub const PASSWORD: &str = "s3cret pässword";
/// The domain the local cluster serves.
pub const DOMAIN: &str = "localhost";
/// The roster namespace.
pub const ROSTER: &str = "jabber:iq:roster";
/// The client namespace.
pub const CLIENT: &str = "jabber:client";
/// XEP-0203 delayed delivery.
pub const DELAY: &str = "urn:xmpp:delay";
/// The stanza error conditions' namespace.
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// One connection manager of the cluster, as the shared client helpers address it.
#[derive(Clone, Debug)]
pub struct TestServer {
    /// Its STARTTLS client listener.
    pub addr: SocketAddr,
}

/// The cluster described by `$STARLING_CLUSTER_DIR/cluster.env`.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `$STARLING_CLUSTER_DIR`.
    pub dir: PathBuf,
    /// The number of roster-presence shards.
    pub shards: ShardCount,
    /// Postgres, where accounts are created.
    pub database_url: String,
    /// The connection managers, `c2s[0]` being `c2s-1`.
    pub c2s: Vec<TestServer>,
    env: HashMap<String, String>,
}

const HOW: &str = "start the local cluster first, in the shell that runs the tests: \
    eval \"$(scripts/cluster up)\" (it exports STARLING_CLUSTER_DIR)";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Cluster {
    /// Reads the cluster's description; panics, saying how to start it, when there is none.
    pub fn from_env() -> Cluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = std::env::var_os("STARLING_CLUSTER_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("STARLING_CLUSTER_DIR is not set: {HOW}"));
        let file = dir.join("cluster.env");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; {HOW}", file.display()));
        let env: HashMap<String, String> = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let get = |key: &str| {
            env.get(key)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {key}; {HOW}", file.display()))
        };
        assert_eq!(
            get("DOMAIN"),
            DOMAIN,
            "the tests expect the domain {DOMAIN}"
        );
        let shards: u32 = get("SHARDS").parse().expect("SHARDS is a number");
        let c2s = (1..)
            .map_while(|k| env.get(&format!("C2S_{k}")))
            .map(|addr| TestServer {
                addr: addr.parse().expect("C2S_k is HOST:PORT"),
            })
            .collect::<Vec<_>>();
        assert!(c2s.len() >= 2, "the tests need two connection managers");
        Cluster {
            shards: ShardCount::new(shards).expect("SHARDS is at least 1"),
            database_url: get("DATABASE_URL"),
            c2s,
            dir,
            env,
        }
    }

    /// A value of cluster.env.
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("cluster.env has no {key}; {HOW}"))
    }

    /// Connection manager `c2s-k` (`k` from 1).
    pub fn c2s(&self, k: usize) -> &TestServer {
        &self.c2s[k - 1]
    }

    /// The gRPC endpoint of shard `i`.
    pub fn shard_grpc(&self, i: u32) -> String {
        format!("http://{}", self.var(&format!("SHARD_{i}_GRPC")))
    }

    /// The shard owning `user@localhost`.
    pub fn shard_of(&self, user: &str) -> u32 {
        let jid = Jid::new(&format!("{user}@{DOMAIN}")).unwrap();
        cluster_api::shard_of(&jid, self.shards)
    }

    /// Creates one fresh account per role (`["juliet", "romeo"]`) and returns their
    /// localparts, each on a different shard (there must be no more roles than shards).
    /// The names carry a random tag, so tests can run again and again on one cluster.
    pub fn users<const N: usize>(&self, roles: [&str; N]) -> [String; N] {
        assert!(N as u32 <= self.shards.get(), "more roles than shards");
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).unwrap();
        let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let mut taken = HashSet::new();
        roles.map(|role| {
            let name = (0..)
                .map(|k| format!("{role}-{tag}-{k}"))
                .find(|name| taken.insert(self.shard_of(name)))
                .unwrap();
            self.add_user(&name);
            name
        })
    }

    /// `starling user add NAME@localhost` against the cluster's database.
    pub fn add_user(&self, user: &str) {
        let out = Command::new(env!("CARGO_BIN_EXE_starling"))
            .args(["user", "add", &format!("{user}@{DOMAIN}")])
            .args(["--password", PASSWORD, "--database-url", &self.database_url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "starling user add {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The environment the scripts need to find this cluster's roles and services: what the
    /// shell that ran `up` exported, completed from cluster.env where it can be.
    fn script_env(&self) -> Vec<(String, String)> {
        let port = |url: &str| {
            url.rsplit(':')
                .next()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned()
        };
        // scripts/cluster puts c2s-1's STARTTLS listener at its base port + 310.
        let c2s_1 = self.c2s(1).addr.port();
        let derived = [
            ("STARLING_CLUSTER_DIR", self.dir.display().to_string()),
            ("STARLING_CLUSTER_BASE_PORT", (c2s_1 - 310).to_string()),
            ("STARLING_PG_PORT", port(&self.database_url)),
            ("STARLING_REDIS_PORT", port(self.var("REDIS_URL"))),
        ];
        derived
            .into_iter()
            .filter(|(k, _)| *k == "STARLING_CLUSTER_DIR" || std::env::var_os(k).is_none())
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Runs `scripts/NAME ARGS…` and waits for it; its error output when it fails.
    pub fn run_script(&self, name: &str, args: &[String]) -> Result<(), String> {
        let out = Command::new(repo_root().join("scripts").join(name))
            .args(args)
            .envs(self.script_env())
            .output()
            .map_err(|e| format!("scripts/{name}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/{name} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// [`Cluster::run_script`] off the runtime's thread, so that connected clients are still
    /// read meanwhile; panics when the script fails.
    pub async fn script(&self, name: &str, args: &[&str]) {
        let (cluster, name_owned) = (self.clone(), name.to_owned());
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || cluster.run_script(&name_owned, &args))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The last `lines` lines of a role's log, for failure messages.
    pub fn log_tail(&self, role: &str, lines: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{role}.log"))).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Whether something accepts TCP connections at `host:port` of `url`.
pub fn listening(url: &str) -> bool {
    let hostport = url.split("://").nth(1).unwrap_or(url);
    let hostport = hostport
        .rsplit('@')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    std::net::TcpStream::connect_timeout(&hostport.parse().unwrap(), Duration::from_millis(500))
        .is_ok()
}

/// A roster push for `contact` with `subscription` and, when `ask`, `ask='subscribe'`.
pub fn push(e: &Element, contact: &str, subscription: &str, ask: bool) -> bool {
    push_for(e, contact)
        && item(e).is_some_and(|i| {
            i.attr("subscription") == Some(subscription)
                && i.attr("ask") == ask.then_some("subscribe")
        })
}

/// Logs `user` in on `server`, requests the roster (interested resource) and sends initial
/// presence.
pub async fn online(server: &TestServer, user: &str) -> Peer {
    let mut p = Peer::login(server, user).await;
    let roster = p.roster().await;
    assert!(
        is(&roster, "iq", Some("result"), Some("roster-get")),
        "{}: the roster get failed: {}",
        p.jid,
        String::from(&roster)
    );
    p.send("<presence/>").await;
    let me = p.jid.clone();
    p.expect("own presence", |e| presence(e, &me, None)).await;
    p.drain().await;
    p
}

/// Logs `user` in on `server` and sends available presence with `priority`, waiting for the
/// server's echo (RFC 6121 §4.2.2), which comes once the shard has recorded it.
pub async fn online_with_priority(server: &TestServer, user: &str, priority: i8) -> Peer {
    let mut p = Peer::login(server, user).await;
    p.send(&format!(
        "<presence><priority>{priority}</priority></presence>"
    ))
    .await;
    let me = p.jid.clone();
    p.expect("own presence", |e| presence(e, &me, None)).await;
    p
}

/// `a` asks `b` for a subscription and `b` approves (RFC 6121 §3.1), then both are drained.
pub async fn subscribe(a: &mut Peer, b: &mut Peer) {
    a.send(&format!("<presence to='{}' type='subscribe'/>", b.bare()))
        .await;
    let from = a.bare();
    b.expect("subscription request", |e| {
        presence(e, &from, Some("subscribe"))
    })
    .await;
    b.send(&format!("<presence to='{}' type='subscribed'/>", a.bare()))
        .await;
    let from = b.bare();
    a.expect("approval", |e| presence(e, &from, Some("subscribed")))
        .await;
    a.drain().await;
    b.drain().await;
}

/// The text of child `name` of a stanza, if any.
pub fn child_text(e: &Element, name: &str) -> Option<String> {
    e.get_child(name, CLIENT).map(Element::text)
}

/// A `<message/>` (of any type but error) whose body is `text`.
pub fn message_with(e: &Element, text: &str) -> bool {
    e.name() == "message"
        && e.attr("type") != Some("error")
        && child_text(e, "body").as_deref() == Some(text)
}

/// The (jid, subscription, ask) of each item of a roster result, sorted by JID.
pub fn roster_items(result: &Element) -> Vec<(String, String, Option<String>)> {
    let query = result
        .get_child("query", ROSTER)
        .unwrap_or_else(|| panic!("not a roster result: {}", String::from(result)));
    let mut items: Vec<_> = query
        .children()
        .filter(|c| c.is("item", ROSTER))
        .map(|i| {
            (
                i.attr("jid").unwrap_or_default().to_owned(),
                i.attr("subscription").unwrap_or("none").to_owned(),
                i.attr("ask").map(str::to_owned),
            )
        })
        .collect();
    items.sort();
    items
}

/// The error type and defined condition of a stanza error reply.
pub fn error_of(e: &Element) -> Option<(String, String)> {
    let error = e.get_child("error", CLIENT)?;
    let condition = error
        .children()
        .find(|c| c.ns() == STANZAS && c.name() != "text")?;
    Some((
        error.attr("type").unwrap_or_default().to_owned(),
        condition.name().to_owned(),
    ))
}

/// Whether `e` is a temporary error reply (RFC 6120 §8.3.2 type 'wait') to the `name` stanza
/// with `id`, with `<internal-server-error/>` or `<service-unavailable/>`.
pub fn is_wait_error(e: &Element, name: &str, id: &str) -> bool {
    is(e, name, Some("error"), Some(id))
        && error_of(e).is_some_and(|(kind, condition)| {
            kind == "wait"
                && matches!(
                    condition.as_str(),
                    "internal-server-error" | "service-unavailable"
                )
        })
}

/// The first stanza within `within` that `matches`, reading and dropping others; `None` when
/// none came in time. Panics when the stream ends: the peer was to stay connected.
pub async fn within(
    peer: &mut Peer,
    within: Duration,
    matches: impl Fn(&Element) -> bool,
) -> Option<Element> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, peer.next()).await {
            Ok(Some(e)) if matches(&e) => return Some(e),
            Ok(Some(_)) => {}
            Ok(None) => panic!("{}: the stream ended", peer.jid),
            Err(_) => return None,
        }
    }
}
