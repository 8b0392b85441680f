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
            Effect::DeliverStored { to, stanza, .. } => {
                out.push((to.bare(), Target::Resources(vec![to]), stanza.to_xml()));
            }
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

/// Makes juliet and romeo subscribed to each other's presence, both online.
async fn mutual(shard: &Shard) {
    run(
        shard,
        available(shard, "juliet@example.org/balcony", 1).await,
    )
    .await;
    run(
        shard,
        available(shard, "romeo@example.org/orchard", 2).await,
    )
    .await;
    let (juliet, romeo) = ("juliet@example.org/balcony", "romeo@example.org/orchard");
    for (from, to, kind) in [
        (juliet, "romeo@example.org", "subscribe"),
        (romeo, "juliet@example.org", "subscribed"),
        (romeo, "juliet@example.org", "subscribe"),
        (juliet, "romeo@example.org", "subscribed"),
    ] {
        let xml = format!("<presence from='{from}' to='{to}' type='{kind}'/>");
        run(shard, shard.outbound(stanza(&xml)).await).await;
    }
}

#[tokio::test]
async fn rfc6121_4_5_2_a_dead_node_s_sessions_go_unavailable_to_their_contacts() {
    let shard = shard().await;
    mutual(&shard).await;
    // juliet is on node "test" (see `key`); romeo moves to another node.
    let romeo = jid("romeo@example.org/orchard");
    shard.session_closed(&romeo, &key(2)).await;
    let other = SessionKey {
        node: "other".into(),
        id: 9,
    };
    shard.session_bound(romeo.clone(), other.clone()).await;
    run(
        &shard,
        shard
            .outbound(stanza("<presence from='romeo@example.org/orchard'/>"))
            .await,
    )
    .await;
    assert_eq!(
        shard.sessions().nodes(),
        [Arc::<str>::from("other"), Arc::<str>::from("test")]
    );

    let out = run(&shard, shard.node_gone("test").await).await;
    // §4.5.2: romeo, subscribed to juliet, gets her unavailable presence; nothing else.
    assert_eq!(out.len(), 1, "{out:#?}");
    let (user, target, xml) = &out[0];
    assert_eq!(user.as_str(), "romeo@example.org");
    assert_eq!(*target, Target::Available);
    assert!(
        xml.contains("type='unavailable'") && xml.contains("from='juliet@example.org/balcony'"),
        "{xml}"
    );
    assert!(shard.sessions().on_node("test").is_empty());
    assert_eq!(shard.sessions().on_node("other"), [(romeo, other)]);
}

#[tokio::test]
async fn a_restored_session_is_available_again_without_a_broadcast() {
    let shard = shard().await;
    mutual(&shard).await;
    // The shard restarts: a new one with the same stores and no sessions.
    let restarted = Shard::new(shard.config.clone(), shard.stores.clone());
    let juliet = jid("juliet@example.org/balcony");
    let presence = Element::from_xml(
        "<presence from='juliet@example.org/balcony'><priority>5</priority></presence>",
        ns::JABBER_CLIENT,
    )
    .unwrap();
    let effects = restarted
        .session_restored(juliet.clone(), key(1), Some(presence), true)
        .await;
    assert!(effects.0.is_empty(), "no broadcast: {:?}", effects.0);
    let resource = restarted.sessions().get(&juliet).unwrap();
    assert!(resource.available && resource.interested);
    assert_eq!(resource.priority, 5);
    // Restoring again with the same session changes nothing; another session is left alone.
    assert!(
        restarted
            .session_restored(juliet.clone(), key(1), None, false)
            .await
            .0
            .is_empty()
    );
    assert!(
        restarted
            .session_restored(juliet.clone(), key(3), None, false)
            .await
            .0
            .is_empty()
    );
    assert_eq!(restarted.sessions().get(&juliet).unwrap().session, key(1));
    // romeo's probe is answered with the restored presence (§4.3.2).
    let probe = restarted
        .inbound(stanza(
            "<presence from='romeo@example.org/orchard' to='juliet@example.org' type='probe'/>",
        ))
        .await;
    let out = run(&restarted, probe).await;
    assert!(
        out.iter()
            .any(|(user, _, xml)| user.as_str() == "romeo@example.org"
                && xml.contains("<priority>5</priority>")),
        "{out:#?}"
    );
}

#[tokio::test]
async fn offline_messages_stored_before_a_restore_are_delivered_by_it() {
    let shard = shard().await;
    let message = shard
        .inbound(stanza(
            "<message from='romeo@example.org/orchard' to='juliet@example.org' type='chat'><body>hi</body></message>",
        ))
        .await;
    assert!(run(&shard, message).await.is_empty(), "stored offline");
    let juliet = jid("juliet@example.org/balcony");
    let presence = Element::from_xml(
        "<presence from='juliet@example.org/balcony'/>",
        ns::JABBER_CLIENT,
    )
    .unwrap();
    let out = run(
        &shard,
        shard
            .session_restored(juliet, key(1), Some(presence), false)
            .await,
    )
    .await;
    assert_eq!(out.len(), 1, "{out:#?}");
    assert!(out[0].2.contains("<body>hi</body>") && out[0].2.contains("urn:xmpp:delay"));
}

/// A held roster follows every subscription change (the broadcast after a change reaches
/// exactly the new subscribers), and is dropped with the user's last session.
#[tokio::test]
async fn rosters_are_held_while_online_and_follow_every_change() {
    let shard = shard().await;
    mutual(&shard).await;
    // The last subscription writes forgot both copies; a broadcast reads them again.
    assert_eq!(shard.rosters_held(), 0);
    for full in ["juliet@example.org/balcony", "romeo@example.org/orchard"] {
        let xml = format!("<presence from='{full}'><show>chat</show></presence>");
        run(&shard, shard.outbound(stanza(&xml)).await).await;
    }
    assert_eq!(shard.rosters_held(), 2);
    // §3.2.2: romeo cancels juliet's subscription to his presence; his next broadcast
    // reaches only himself.
    let cancel =
        "<presence from='romeo@example.org/orchard' to='juliet@example.org' type='unsubscribed'/>";
    run(&shard, shard.outbound(stanza(cancel)).await).await;
    let out = run(
        &shard,
        shard
            .outbound(stanza(
                "<presence from='romeo@example.org/orchard'><show>away</show></presence>",
            ))
            .await,
    )
    .await;
    let users: Vec<&str> = out.iter().map(|(user, _, _)| user.as_str()).collect();
    assert_eq!(users, ["romeo@example.org"], "{out:#?}");
    // juliet's roster did not change her side: romeo is still subscribed to her.
    let out = run(
        &shard,
        shard
            .outbound(stanza(
                "<presence from='juliet@example.org/balcony'><show>dnd</show></presence>",
            ))
            .await,
    )
    .await;
    let mut users: Vec<&str> = out.iter().map(|(user, _, _)| user.as_str()).collect();
    users.sort_unstable();
    assert_eq!(
        users,
        ["juliet@example.org", "romeo@example.org"],
        "{out:#?}"
    );

    shard
        .session_closed(&jid("romeo@example.org/orchard"), &key(2))
        .await;
    assert_eq!(shard.rosters_held(), 1);
    shard
        .session_closed(&jid("juliet@example.org/balcony"), &key(1))
        .await;
    assert_eq!(shard.rosters_held(), 0);
}

/// §4.3.2: a probe of a user who is bound but has not sent initial presence reads that user's
/// roster once and keeps it (the user is online), so that the probes of the other contacts
/// are answered from memory; a probe of an offline user reads the store and keeps nothing.
#[tokio::test]
async fn a_probe_of_a_bound_user_keeps_the_roster_and_one_of_an_offline_user_does_not() {
    let shard = shard().await;
    mutual(&shard).await;
    shard
        .session_closed(&jid("juliet@example.org/balcony"), &key(1))
        .await;
    shard
        .session_bound(jid("juliet@example.org/balcony"), key(3))
        .await;
    assert_eq!(shard.rosters_held(), 0);
    let probe = "<presence from='romeo@example.org/orchard' to='juliet@example.org' type='probe'/>";
    // Subscribed, but juliet has no available resource: nothing to answer.
    let out = run(&shard, shard.inbound(stanza(probe)).await).await;
    assert_eq!(out, []);
    assert_eq!(shard.rosters_held(), 1, "juliet's roster is kept");
    shard
        .session_closed(&jid("juliet@example.org/balcony"), &key(3))
        .await;
    assert_eq!(shard.rosters_held(), 0);
    let out = run(&shard, shard.inbound(stanza(probe)).await).await;
    assert_eq!(out, []);
    assert_eq!(
        shard.rosters_held(),
        0,
        "an offline user's roster is not kept"
    );
}
