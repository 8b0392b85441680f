use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::*;

fn stanza(n: usize) -> Outbound {
    Outbound::Serialized(Bytes::from(format!("<message id='{n}'/>")))
}

fn id(item: Option<Outbound>) -> String {
    match item {
        Some(Outbound::Serialized(xml)) => String::from_utf8(xml.to_vec()).unwrap(),
        Some(Outbound::End) => "end".into(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn items_come_out_in_order_and_a_full_queue_refuses_more() {
    let q = Outbox::new(2);
    q.try_push(stanza(1)).unwrap();
    q.try_push(stanza(2)).unwrap();
    assert!(matches!(q.try_push(stanza(3)), Err(PushError::Full(_))));
    assert_eq!(id(q.try_pop()), "<message id='1'/>");
    q.try_push(stanza(3)).unwrap();
    assert_eq!(id(q.try_pop()), "<message id='2'/>");
    assert_eq!(id(q.try_pop()), "<message id='3'/>");
    assert!(q.try_pop().is_none());
}

#[test]
fn the_end_is_taken_by_a_full_queue_and_comes_last() {
    let q = Outbox::new(1);
    q.try_push(stanza(1)).unwrap();
    q.try_push(Outbound::End).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(id(q.try_pop()), "<message id='1'/>");
    assert_eq!(id(q.try_pop()), "end");
}

#[test]
fn a_drained_queue_gives_its_storage_back() {
    let q = Outbox::new(1024);
    for n in 0..40 {
        q.try_push(stanza(n)).unwrap();
    }
    assert!(q.lock().rest.capacity() >= 39);
    while q.try_pop().is_some() {}
    assert_eq!(
        q.lock().rest.capacity(),
        0,
        "an idle session holds no slots"
    );
    assert!(q.is_empty());
}

#[test]
fn one_item_at_a_time_takes_no_storage() {
    let q = Outbox::new(8);
    for n in 0..3 {
        q.try_push(stanza(n)).unwrap();
        assert_eq!(q.lock().rest.capacity(), 0, "the head has its own slot");
        assert_eq!(id(q.try_pop()), format!("<message id='{n}'/>"));
    }
}

/// Items pushed while the head slot is taken, and while it is empty again but others still
/// wait, come out in the order they were pushed.
#[test]
fn the_head_slot_keeps_the_order() {
    let q = Outbox::new(8);
    for n in 0..3 {
        q.try_push(stanza(n)).unwrap();
    }
    assert_eq!(id(q.try_pop()), "<message id='0'/>");
    q.try_push(stanza(3)).unwrap();
    assert_eq!(id(q.try_pop()), "<message id='1'/>");
    assert_eq!(q.len(), 2);
    q.try_push(stanza(4)).unwrap();
    for n in 2..5 {
        assert_eq!(id(q.try_pop()), format!("<message id='{n}'/>"));
    }
    assert!(q.try_pop().is_none());
    // The capacity counts the head too.
    for n in 0..8 {
        q.try_push(stanza(n)).unwrap();
    }
    assert!(matches!(q.try_push(stanza(8)), Err(PushError::Full(_))));
}

#[test]
fn a_closed_queue_refuses_everything_and_drops_what_it_held() {
    let q = Outbox::new(4);
    q.try_push(stanza(1)).unwrap();
    q.close();
    assert!(q.is_empty());
    assert!(matches!(q.try_push(stanza(2)), Err(PushError::Closed(_))));
    assert!(matches!(
        q.try_push(Outbound::End),
        Err(PushError::Closed(_))
    ));
}

#[tokio::test]
async fn a_waiting_writer_wakes_for_a_push_and_for_the_close() {
    let q = Arc::new(Outbox::new(4));
    let writer = tokio::spawn({
        let q = q.clone();
        async move { (id(q.pop().await), q.pop().await.is_none()) }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    q.try_push(stanza(7)).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    q.close();
    let (first, closed) = tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the writer woke")
        .unwrap();
    assert_eq!(first, "<message id='7'/>");
    assert!(closed);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_writer_wakes_to_find_its_stop_condition() {
    let q = Arc::new(Outbox::new(4));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (q, stop) = (q.clone(), stop.clone());
        async move {
            q.pop_unless(|| stop.load(Ordering::Acquire))
                .await
                .is_none()
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A wake without the condition leaves it waiting.
    q.wake();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!writer.is_finished());
    stop.store(true, Ordering::Release);
    q.wake();
    let stopped = tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the writer woke")
        .unwrap();
    assert!(stopped);
    // Items still come first: the condition ends only an empty wait.
    q.try_push(stanza(1)).unwrap();
    assert_eq!(id(q.pop_unless(|| true).await), "<message id='1'/>");
}

#[tokio::test]
async fn many_pushers_lose_nothing() {
    let q = Arc::new(Outbox::new(100_000));
    let pushers: Vec<_> = (0..4)
        .map(|p| {
            let q = q.clone();
            tokio::spawn(async move {
                for n in 0..5_000 {
                    q.try_push(stanza(p * 5_000 + n)).unwrap();
                    if n % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let reader = tokio::spawn({
        let q = q.clone();
        async move {
            let mut seen = std::collections::HashSet::new();
            while seen.len() < 20_000 {
                seen.insert(id(q.pop().await));
            }
            seen.len()
        }
    });
    for p in pushers {
        p.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("every push was seen")
        .unwrap();
    assert_eq!(seen, 20_000);
    assert!(q.is_empty());
}
