//! The shard's decisions, checked on the effects it returns (no network): the stanzas, their
//! addressing and order, per RFC 6121 section.

use std::sync::Arc;

use storage::SqliteStore;
use storage::conformance::create_owner;
use xmpp_core::{Element, Jid, Stanza, ns};

use super::*;
use crate::effects::{Effect, Target};

const DOMAIN: &str = "example.org";

async fn shard() -> Shard {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    for user in ["juliet", "romeo", "nurse"] {
        create_owner(store.as_ref(), user).await;
    }
    Shard::new(ShardConfig::new(DOMAIN), Stores::sqlite(store))
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn stanza(xml: &str) -> Stanza {
    Stanza::from_element(Element::from_xml(xml, ns::JABBER_CLIENT).unwrap()).unwrap()
}

fn key(id: u64) -> SessionKey {
    SessionKey {
        node: "test".into(),
        id,
    }
}

/// Binds `full` and sends initial presence from it; returns the effects of the presence.
async fn available(shard: &Shard, full: &str, id: u64) -> Effects {
    shard.session_bound(jid(full), key(id)).await;
    shard
        .outbound(stanza(&format!("<presence from='{full}'/>")))
        .await
}

/// Carries out routed stanzas on the same shard (one shard serves everyone here) and
/// returns every delivery, in order.
async fn run(shard: &Shard, effects: Effects) -> Vec<(Jid, Target, String)> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from(effects.0);
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::Deliver {
                user,
                target,
                stanza,
            } => out.push((user, target, stanza.to_xml())),
            Effect::Route(stanza) => {
                let more = shard.inbound(stanza).await;
                for (i, e) in more.0.into_iter().enumerate() {
                    queue.insert(i, e);
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn rfc6121_3_3_3_inbound_unsubscribe_sends_unavailable_from_the_contact() {
    let shard = shard().await;
    run(
        &shard,
        available(&shard, "juliet@example.org/balcony", 1).await,
    )
    .await;
    run(
        &shard,
        available(&shard, "romeo@example.org/orchard", 2).await,
    )
    .await;
    let sub = shard
        .outbound(stanza(
            "<presence from='juliet@example.org/balcony' to='romeo@example.org' type='subscribe'/>",
        ))
        .await;
    run(&shard, sub).await;
    let approve = shard
        .outbound(stanza(
            "<presence from='romeo@example.org/orchard' to='juliet@example.org' type='subscribed'/>",
        ))
        .await;
    run(&shard, approve).await;
    let unsub = shard
        .outbound(stanza(
            "<presence from='juliet@example.org/balcony' to='romeo@example.org' type='unsubscribe'/>",
        ))
        .await;
    let out = run(&shard, unsub).await;
    let unavailable = out.iter().find(|(user, _, xml)| {
        user.as_str() == "juliet@example.org" && xml.contains("type='unavailable'")
    });
    assert!(
        unavailable.is_some_and(|(_, target, xml)| *target == Target::Available
            && xml.contains("from='romeo@example.org/orchard'")),
        "{out:#?}"
    );
}
