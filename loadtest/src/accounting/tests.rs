use super::*;

const T0: u64 = 1_700_000_000_000_000;

fn receipt(recipient: u32, sender: u32, seq: u64, sent_us: u64, recv_us: u64) -> Receipt {
    Receipt {
        recipient,
        sender: Some(sender),
        stamp: Some(Stamp { seq, sent_us }),
        recv_us,
    }
}

#[test]
fn a_dropped_delivery_is_counted_missing() {
    let mut l = Ledger::new(T0);
    l.expect(Phase::Presence, 1, 1, vec![2, 3, 4]);
    l.receive(receipt(2, 1, 1, T0, T0 + 100));
    l.receive(receipt(4, 1, 1, T0, T0 + 200));
    assert_eq!(l.outstanding(), 1);
    l.finish();
    let s = l.stats(Phase::Presence);
    assert_eq!((s.expected, s.delivered, s.missing), (3, 2, 1));
    assert_eq!(s.duplicates, 0);
}

/// Room made before the measured phase holds every stanza planned: the map does not grow
/// (and rehash) while they are sent.
#[test]
fn a_reserved_ledger_does_not_grow_while_the_planned_stanzas_are_expected() {
    let mut l = Ledger::new(T0);
    l.reserve(10_000);
    let capacity = l.measured.capacity();
    assert!(capacity >= 10_000, "{capacity}");
    for seq in 0..10_000 {
        l.expect(Phase::Message, seq, 1, vec![2]);
    }
    assert_eq!(l.measured.capacity(), capacity);
}

/// A stanza its session could not take was never sent: it is neither expected nor missing,
/// while what was sent before it and never arrived still is.
#[test]
fn a_withdrawn_stanza_is_neither_expected_nor_missing() {
    let mut l = Ledger::new(T0);
    l.expect(Phase::Presence, 1, 1, vec![2, 3]);
    l.expect(Phase::Presence, 2, 4, vec![5, 6]);
    l.receive(receipt(2, 1, 1, T0, T0 + 100));
    l.withdraw(2);
    assert_eq!(l.outstanding(), 1);
    // Withdrawing what is not expected (again) changes nothing.
    l.withdraw(2);
    l.withdraw(77);
    // A copy of it arriving after all matches nothing.
    l.receive(receipt(5, 4, 2, T0, T0 + 200));
    assert_eq!(l.unexpected, 1);
    l.finish();
    let s = l.stats(Phase::Presence);
    assert_eq!((s.expected, s.delivered, s.missing), (2, 1, 1));
}

#[test]
fn a_duplicate_is_counted_and_does_not_fill_a_gap() {
    let mut l = Ledger::new(T0);
    l.expect(Phase::Message, 7, 1, vec![5]);
    l.expect(Phase::Message, 8, 1, vec![6]);
    l.receive(receipt(5, 1, 7, T0, T0 + 10));
    l.receive(receipt(5, 1, 7, T0, T0 + 20));
    l.finish();
    let s = l.stats(Phase::Message);
    assert_eq!((s.delivered, s.duplicates, s.missing), (1, 1, 1));
}

#[test]
fn a_receipt_at_the_wrong_recipient_is_unexpected() {
    let mut l = Ledger::new(T0);
    l.expect(Phase::Presence, 1, 1, vec![2]);
    l.receive(receipt(9, 1, 1, T0, T0 + 10));
    l.receive(receipt(9, 1, 99, T0, T0 + 10));
    assert_eq!(l.unexpected, 2);
    assert_eq!(l.outstanding(), 1);
    assert_eq!(
        l.unexpected_examples,
        [
            "user9 received from user1 at 0.000 s, stamp 1 sent at 0.000 s: \
             not among the stanza's recipients",
            "user9 received from user1 at 0.000 s, stamp 99 sent at 0.000 s: \
             not a contact of the sender",
        ]
    );
}

#[test]
fn only_the_first_unexpected_receipts_are_described() {
    let mut l = Ledger::new(T0);
    for n in 0..(UNEXPECTED_EXAMPLES as u64 + 5) {
        l.receive(receipt(3, 4, 100 + n, T0, T0 + 1_500_000));
    }
    assert_eq!(l.unexpected, UNEXPECTED_EXAMPLES as u64 + 5);
    assert_eq!(l.unexpected_examples.len(), UNEXPECTED_EXAMPLES);
    assert_eq!(
        l.unexpected_examples[0],
        "user3 received from user4 at 1.500 s, stamp 100 sent at 0.000 s: not a contact of the sender"
    );
}

#[test]
fn latency_is_receipt_time_minus_the_stamped_send_time() {
    let mut l = Ledger::new(T0);
    let recipients: Vec<u32> = (0..1000).collect();
    l.expect(Phase::Presence, 1, 0, recipients.clone());
    // Latencies 1 ms, 2 ms, … 1000 ms: p50 = 500 ms, p99 = 990 ms, max = 1000 ms.
    for r in recipients {
        let latency = u64::from(r + 1) * 1000;
        l.receive(receipt(r, 0, 1, T0 + 5, T0 + 5 + latency));
    }
    let h = &l.stats(Phase::Presence).latency;
    let close = |v: u64, want: u64| v.abs_diff(want) <= want / 500;
    assert!(
        close(h.value_at_quantile(0.5), 500_000),
        "{}",
        h.value_at_quantile(0.5)
    );
    assert!(close(h.value_at_quantile(0.99), 990_000));
    assert!(close(h.max(), 1_000_000));
    assert!(close(h.min(), 1_000));
    // All were received within the second second after T0 (latency up to 1.000005 s).
    let series = &l.stats(Phase::Presence).series;
    let per_second: u64 = series.iter().map(Histogram::len).sum();
    assert_eq!(per_second, 1000);
}

#[test]
fn the_mesh_needs_every_pair_once_and_reports_repeats() {
    let mut l = Ledger::new(T0);
    l.expect_mesh(1, &[2, 3]);
    l.expect_mesh(2, &[1]);
    l.receive(receipt(2, 1, 100, T0, T0 + 50));
    // A probe answer without a stamp still counts for the pair.
    l.receive(Receipt {
        recipient: 3,
        sender: Some(1),
        stamp: None,
        recv_us: T0 + 60,
    });
    l.receive(receipt(2, 1, 100, T0, T0 + 70));
    assert_eq!(l.mesh_waiting(), 1);
    assert_eq!(l.mesh_complete_us(), None);
    l.receive(receipt(1, 2, 101, T0, T0 + 80));
    assert_eq!(l.mesh_complete_us(), Some(T0 + 80));
    l.finish();
    let s = l.stats(Phase::Initial);
    assert_eq!(
        (s.expected, s.delivered, s.duplicates, s.missing),
        (3, 3, 1, 0)
    );
}

#[test]
fn a_missing_mesh_pair_is_counted() {
    let mut l = Ledger::new(T0);
    l.expect_mesh(1, &[2, 3]);
    l.receive(receipt(2, 1, 100, T0, T0 + 50));
    l.finish();
    assert_eq!(l.stats(Phase::Initial).missing, 1);
}

/// An initial presence its session could not take takes back the pairs it would have made;
/// a pair its recipient already saw (a probe answer), and other senders' pairs, stay.
#[test]
fn a_withdrawn_initial_presence_takes_back_only_its_unseen_pairs() {
    let mut l = Ledger::new(T0);
    l.expect_mesh(2, &[1]);
    l.expect_mesh(1, &[2, 3, 4]);
    l.receive(Receipt {
        recipient: 3,
        sender: Some(1),
        stamp: None,
        recv_us: T0 + 60,
    });
    l.withdraw_mesh(1, &[2, 3, 4]);
    assert_eq!(l.mesh_waiting(), 1);
    l.finish();
    let s = l.stats(Phase::Initial);
    assert_eq!((s.expected, s.delivered, s.missing), (2, 1, 1));
}

#[test]
fn a_stamp_from_another_sender_or_partition_is_unexpected() {
    // A partition of users 300…599: user300's change is expected at 301 and 599.
    let mut l = Ledger::new(T0);
    l.expect(Phase::Presence, 1, 300, vec![301, 599]);
    // The same sequence number from user5 (another process's partition) matches nothing,
    l.receive(receipt(301, 5, 1, T0, T0 + 10));
    // nor does an unstamped presence from outside the partition,
    l.receive(Receipt {
        recipient: 301,
        sender: Some(5),
        stamp: None,
        recv_us: T0 + 20,
    });
    // nor one whose sender is not one of ours at all.
    l.receive(Receipt {
        recipient: 599,
        sender: None,
        stamp: Some(Stamp {
            seq: 1,
            sent_us: T0,
        }),
        recv_us: T0 + 30,
    });
    assert_eq!(l.unexpected, 3);
    assert_eq!(l.outstanding(), 2);
    l.receive(receipt(301, 300, 1, T0, T0 + 40));
    l.receive(receipt(599, 300, 1, T0, T0 + 50));
    l.finish();
    let s = l.stats(Phase::Presence);
    assert_eq!((s.delivered, s.missing, s.duplicates), (2, 0, 0));
}

#[test]
fn the_series_starts_at_a_whole_second() {
    let l = Ledger::new(T0 + 1_234_567);
    assert_eq!(l.start_us(), T0 + 1_000_000);
}

#[test]
fn a_recorded_histogram_comes_back_with_the_same_buckets() {
    let mut h = histogram();
    for v in [
        1,
        2,
        999,
        1000,
        1001,
        123_456,
        123_457,
        5_000_000,
        599_999_999,
    ] {
        h.record_n(v, v % 7 + 1).unwrap();
    }
    let r = Recorded::of(&h);
    let json = serde_json::to_string(&r).unwrap();
    let back: Recorded = serde_json::from_str(&json).unwrap();
    let g = back.histogram().unwrap();
    assert_eq!(g, h);
    assert_eq!((g.len(), g.min(), g.max()), (h.len(), h.min(), h.max()));
    for q in [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(g.value_at_quantile(q), h.value_at_quantile(q), "q={q}");
    }
    let empty = Recorded::of(&histogram());
    assert_eq!(empty.counts, "");
    assert!(empty.histogram().unwrap().is_empty());
    let bad = Recorded {
        counts: "12:x".into(),
        ..empty
    };
    assert!(bad.histogram().is_err());
}
