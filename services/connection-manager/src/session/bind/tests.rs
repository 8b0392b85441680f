//! A binding that negotiation leaves halfway (the handshake deadline or shutdown dropping
//! it): nothing of it may stay, in the registry or the user's channel count (nor, since
//! the release unregisters it, at the shard).

use std::path::PathBuf;
use std::time::Duration;

use storage::SqliteStore;

use super::*;
use crate::cluster::Cluster;
use crate::config::C2sConfig;

const DOMAIN: &str = "example.com";

/// A connection manager's state over a real shard in this process, composed as
/// `starling dev` composes them, without listeners; with what must outlive it.
async fn server() -> (Arc<C2sServer>, bus::Inbox, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = C2sConfig {
        domain: DOMAIN.into(),
        ..C2sConfig::default()
    };
    // One call to the shard at a time, so that a test can keep a registration waiting.
    config.limits.min_shard_calls = 1;
    config.limits.max_shard_calls = 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starling.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tls");
    let (cert, key) = (fixtures.join("server.pem"), fixtures.join("server-key.pem"));
    let tls = crate::tls::server_config(&cert, &key, &config.tls).unwrap();
    let bus: Arc<dyn bus::Bus> = Arc::new(bus::LocalBus::new(bus::LocalBusConfig::default()));
    let shards = roster_presence::in_process::start(
        roster_presence::ShardConfig::new(DOMAIN),
        roster_presence::Stores::sqlite(store.clone()),
        bus.clone(),
    );
    let inbox = bus.open_inbox("test", 1024).await.unwrap();
    let cluster = Cluster::new("test", shards, inbox.subscriptions());
    let server = C2sServer::new(config, tls, store, [7u8; 32], cluster);
    (server, inbox, dir)
}

/// Sessions in the registry, and users counted for their channel.
fn held(server: &C2sServer) -> (usize, usize) {
    (server.sessions.len(), server.cluster.users_listed())
}

/// Waits (a few seconds at most) until `server` holds `expected`.
async fn until_held(server: &C2sServer, expected: (usize, usize)) {
    for _ in 0..5_000 {
        if held(server) == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("held {:?}, not {expected:?}", held(server));
}

fn juliet() -> Jid {
    Jid::new("juliet@example.com").unwrap()
}

#[tokio::test]
async fn a_binding_dropped_while_it_registers_is_released() {
    let (server, _inbox, _dir) = server().await;
    let account = juliet();
    // The shard's only call slot taken: the registration waits for it, as it would behind
    // a shard that fell behind when the handshake deadline comes.
    let slot = server.cluster.try_call_slot(0).unwrap();
    let mut registering = Box::pin(register(&server, &account, "balcony"));
    for _ in 0..10 {
        assert!(futures::poll!(registering.as_mut()).is_pending());
        tokio::task::yield_now().await;
    }
    // Bound in the registry and counted for the channel, the shard call waiting.
    assert_eq!(held(&server), (1, 1));
    drop(registering);
    drop(slot);
    until_held(&server, (0, 0)).await;
    // The resource is free again.
    let outcome = register(&server, &account, "balcony").await.unwrap();
    outcome.release().await;
    assert_eq!(held(&server), (0, 0));
}

#[tokio::test]
async fn a_binding_dropped_before_the_session_takes_it_is_released_and_one_taken_stays() {
    let (server, _inbox, _dir) = server().await;
    let outcome = register(&server, &juliet(), "balcony").await.unwrap();
    assert_eq!(held(&server), (1, 1));
    drop(outcome);
    until_held(&server, (0, 0)).await;

    let outcome = register(&server, &juliet(), "balcony").await.unwrap();
    let handle = outcome.into_handle();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(held(&server), (1, 1));
    release(&server, &handle).await;
    assert_eq!(held(&server), (0, 0));
}
