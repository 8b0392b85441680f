use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

const TARGET: Duration = Duration::from_millis(100);

#[tokio::test(start_paused = true)]
async fn no_more_than_the_limit_in_flight_and_waiters_served_in_order() {
    let gate = Arc::new(CallGate::fixed(3));
    let peak = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (gate, peak, order) = (gate.clone(), peak.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let slot = gate.slot().await;
            order.lock().unwrap().push(i);
            peak.fetch_max(gate.in_flight(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            // A fixed gate never changes, however slow the call.
            assert_eq!(slot.finish(true), None);
        }));
        // Each call asks for its slot before the next one is made.
        tokio::task::yield_now().await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::Relaxed), 3);
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    assert_eq!(gate.slots.available_permits(), 3);
    assert!(gate.try_slot().is_some());
}

#[test]
fn a_limit_of_zero_still_lets_calls_through_one_at_a_time() {
    assert_eq!(CallGate::fixed(0).slots.available_permits(), 1);
    assert_eq!(CallGate::adaptive(0, 0, TARGET).window(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_zero_target_keeps_the_bound_fixed() {
    let gate = CallGate::adaptive(2, 8, Duration::ZERO);
    assert!(gate.adaptive.is_none());
    let slot = gate.slot().await;
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(slot.finish(false), None);
    assert_eq!(gate.window(), 8);
}

/// `n` calls one after another, each taking `took`; what each did to the window.
async fn calls_taking(gate: &CallGate, took: Duration, n: usize) -> Vec<Option<usize>> {
    let mut changes = Vec::new();
    for _ in 0..n {
        let slot = gate.slot().await;
        tokio::time::advance(took).await;
        changes.push(slot.finish(false));
    }
    changes
}

#[tokio::test(start_paused = true)]
async fn the_window_shrinks_once_the_smoothed_latency_passes_the_target_once_per_round() {
    let gate = CallGate::adaptive(2, 64, TARGET);
    assert_eq!(gate.window(), 64);
    // Calls of twice the target: the average passes it at the eleventh
    // (2 × (1 − (15/16)^11) = 1.02 targets).
    let changes = calls_taking(&gate, TARGET * 2, 11).await;
    assert_eq!(changes[..10], [None; 10]);
    assert_eq!(changes[10], Some(48));
    // Two calls taken together, after that decrease: the first to end shrinks the window,
    // the second belongs to the same round.
    let (first, second) = (gate.slot().await, gate.slot().await);
    tokio::time::advance(TARGET * 2).await;
    assert_eq!(first.finish(false), Some(36));
    assert_eq!(second.finish(false), None);
    assert_eq!(calls_taking(&gate, TARGET * 2, 1).await, [Some(27)]);
    assert_eq!(gate.slots.available_permits(), 27);
}

#[tokio::test(start_paused = true)]
async fn a_lone_slow_call_among_fast_ones_does_not_shrink_the_window() {
    let gate = CallGate::adaptive(2, 64, TARGET);
    let fast = calls_taking(&gate, Duration::from_millis(1), 50).await;
    let slow = calls_taking(&gate, TARGET * 10, 1).await;
    assert!(fast.iter().chain(&slow).all(Option::is_none));
    assert_eq!(gate.window(), 64);
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_shard_shrinks_the_window_even_when_it_answers_at_once() {
    let gate = CallGate::adaptive(2, 64, TARGET);
    assert_eq!(gate.slot().await.finish(true), Some(48));
    // A fast success afterwards, with the window mostly unused, changes nothing.
    assert_eq!(gate.slot().await.finish(false), None);
}

#[tokio::test(start_paused = true)]
async fn the_window_never_shrinks_below_the_floor() {
    let gate = CallGate::adaptive(5, 8, TARGET);
    for _ in 0..10 {
        let _ = gate.slot().await.finish(true);
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    assert_eq!(gate.window(), 5);
    assert_eq!(gate.slots.available_permits(), 5);
}

#[tokio::test(start_paused = true)]
async fn fast_calls_grow_a_used_window_by_one_per_window_of_calls_up_to_the_ceiling() {
    let gate = CallGate::adaptive(1, 8, TARGET);
    assert_eq!(gate.slot().await.finish(true), Some(6));
    // Idle: one call in flight of six is not using the window, so it does not grow.
    for _ in 0..10 {
        assert_eq!(gate.slot().await.finish(false), None);
    }
    // Busy: every slot taken. Each fast call adds 1/window: the seventh grows it to 7.
    let mut held: Vec<_> = std::iter::from_fn(|| gate.try_slot()).collect();
    assert_eq!(held.len(), 6);
    let mut grown = Vec::new();
    for _ in 0..20 {
        grown.push(held.pop().unwrap().finish(false));
        held.extend(std::iter::from_fn(|| gate.try_slot()));
        assert_eq!(held.len(), gate.window());
    }
    let changes: Vec<_> = grown
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.map(|w| (i + 1, w)))
        .collect();
    // 6 → 7 after 7 calls, 7 → 8 after 7 more (1/7.09 + ...); then the ceiling holds.
    assert_eq!(changes, [(7, 7), (14, 8)]);
    assert_eq!(gate.window(), 8);
}

#[tokio::test(start_paused = true)]
async fn slots_in_use_when_the_window_shrinks_are_forgotten_as_their_calls_end() {
    let gate = CallGate::adaptive(1, 4, TARGET);
    let mut held: Vec<_> = Vec::new();
    for _ in 0..4 {
        held.push(gate.slot().await);
    }
    // All four in use: the cut of one is owed, and paid by the slot that shrank it.
    assert_eq!(held.pop().unwrap().finish(true), Some(3));
    assert_eq!(gate.debt.load(Ordering::Acquire), 0);
    assert!(
        gate.try_slot().is_none(),
        "three calls in flight fill a window of three"
    );
    // Shrink again while all three are held: owed, then paid as the next call ends.
    let fresh = {
        drop(held.pop());
        gate.try_slot().expect("one freed")
    };
    assert_eq!(fresh.finish(true), Some(2));
    assert_eq!(gate.in_flight(), 2);
    assert!(gate.try_slot().is_none());
    drop(held.pop());
    assert_eq!(gate.slots.available_permits(), 1);
    assert_eq!(gate.debt.load(Ordering::Acquire), 0);
}

#[tokio::test(start_paused = true)]
async fn growing_while_slots_are_owed_forgives_the_debt_first() {
    let gate = CallGate::adaptive(1, 8, TARGET);
    let held: Vec<_> = (0..8).map(|_| gate.try_slot().unwrap()).collect();
    gate.resize(8, 6);
    assert_eq!(gate.debt.load(Ordering::Acquire), 2);
    gate.resize(6, 7);
    assert_eq!(gate.debt.load(Ordering::Acquire), 1);
    assert_eq!(gate.slots.available_permits(), 0);
    gate.resize(7, 8);
    assert_eq!(gate.debt.load(Ordering::Acquire), 0);
    drop(held);
    assert_eq!(gate.slots.available_permits(), 8);
}

/// A shard whose answer takes 10 ms per call it holds, called by 200 sessions at once: a
/// fixed bound of 64 makes every call take 640 ms; the window settles where calls take about
/// the target (10 calls), and the rest wait at the gate. The same number of calls is answered
/// either way: the shard's throughput does not depend on its queue.
#[tokio::test(start_paused = true)]
async fn the_window_settles_where_calls_take_about_the_target() {
    let gate = Arc::new(CallGate::adaptive(2, 64, TARGET));
    let at_shard = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(60);
    let mut sessions = Vec::new();
    for _ in 0..200 {
        let (gate, at_shard, latencies) = (gate.clone(), at_shard.clone(), latencies.clone());
        sessions.push(tokio::spawn(async move {
            while Instant::now() < end {
                let slot = gate.slot().await;
                let held = at_shard.fetch_add(1, Ordering::SeqCst) + 1;
                let latency = Duration::from_millis(10) * held as u32;
                tokio::time::sleep(latency).await;
                at_shard.fetch_sub(1, Ordering::SeqCst);
                latencies.lock().unwrap().push((Instant::now(), latency));
                let _ = slot.finish(false);
            }
        }));
    }
    let mut windows = Vec::new();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if Instant::now() > end - Duration::from_secs(30) {
            windows.push(gate.window());
        }
    }
    for session in sessions {
        session.await.unwrap();
    }
    let settled = end - Duration::from_secs(30);
    let latencies = latencies.lock().unwrap();
    let late: Vec<_> = latencies.iter().filter(|(at, _)| *at > settled).collect();
    let max = late.iter().map(|(_, l)| *l).max().unwrap();
    // 7 to 12 calls in flight and at most 120 ms on this runtime; a little room around them.
    assert!(max <= Duration::from_millis(130), "{max:?}");
    assert!(late.len() > 2_000, "{} calls in 30 s", late.len());
    assert!(
        windows.iter().all(|w| (6..=13).contains(w)),
        "windows {windows:?}"
    );
}
