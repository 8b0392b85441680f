//! Graceful shutdown of a connection manager in a real cluster (`scripts/cluster up`): on
//! SIGTERM it turns unready, stops accepting, and closes its streams (RFC 6120 §4.4, with
//! `<system-shutdown/>`), so its sessions end at once, not when their liveness runs out:
//! contacts get unavailable presence right away (RFC 6121 §4.5.2).

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::peer::presence;
use cluster_support::{Cluster, online, subscribe, within};

/// How long after SIGTERM the contact may wait for unavailable presence: the shutdown grace
/// period of the connection manager with margin, and far below the liveness bound (12 s),
/// so that passing shows the session was closed, not timed out.
const CLEAN_CLOSE: Duration = Duration::from_secs(6);

/// Starts c2s-2 again when dropped, so a failing test leaves the cluster up.
struct StartAgain(Cluster);

impl Drop for StartAgain {
    fn drop(&mut self) {
        if let Err(e) = self
            .0
            .run_script("cluster", &["start".into(), "c2s-2".into()])
        {
            eprintln!("starting c2s-2 again failed: {e}");
        }
    }
}

#[tokio::test]
async fn rfc6120_4_4_sigterm_closes_streams_and_contacts_get_unavailable_at_once() {
    let cluster = Cluster::from_env();
    let [leaving, contact] = cluster.users(["leaving", "contact"]);
    let mut leaving = online(cluster.c2s(2), &leaving).await;
    let mut contact = online(cluster.c2s(1), &contact).await;
    subscribe(&mut contact, &mut leaving).await;
    let leaving_full = leaving.jid.clone();

    let _guard = StartAgain(cluster.clone());
    let started = Instant::now();
    let stop = {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || {
            cluster.run_script("cluster", &["stop".into(), "c2s-2".into()])
        })
    };
    // The leaving client stays connected and silent (it is not read, and the client library
    // would reconnect by itself anyway; the connection manager's own tests check the
    // `<system-shutdown/>` it is sent): what the contact sees shows that the server closed
    // the session, neither the client nor a timeout.
    let unavailable = within(&mut contact, CLEAN_CLOSE, |e| {
        presence(e, &leaving_full, Some("unavailable"))
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        unavailable.is_some(),
        "no unavailable presence within {CLEAN_CLOSE:?}\n{}",
        cluster.log_tail("c2s-2", 20)
    );
    eprintln!("unavailable presence {elapsed:?} after SIGTERM");
    stop.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    drop(leaving);
}
