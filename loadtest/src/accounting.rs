//! The delivery ledger: every expected delivery is registered before its stanza is written,
//! every receipt is matched against it, and what never arrived is counted at the end.
//!
//! Registration happens before the write, and receipts reach the ledger only after the server
//! has answered, so a receipt never finds its expectation missing because of a race; one that
//! does is genuinely unexpected (a misdelivery) and counted as such.
//!
//! Two kinds of expectation exist. A *measured* stanza (a presence change, a chat message)
//! is expected exactly once at each listed recipient: a second copy is a duplicate, none by the
//! deadline is missing. The *initial presence mesh* is different: RFC 6121 lets a contact
//! learn of a user's availability either from the broadcast (§4.2.2) or from the answer to its
//! own probe (§4.3.2), and both may happen when two contacts come online together, so there
//! each ordered pair (sender, recipient) must be seen at least once and repeats are only
//! reported.
//!
//! Users are identified by their global index (user `i` is `user{i}`); a receipt from a user
//! the run did not expect anything from (one outside its partition, say) is unexpected.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::stamp::Stamp;

/// Which part of a run an expectation belongs to; each is reported on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Initial presence: the mesh of who has seen whom.
    Initial,
    /// Presence changes after the mesh is complete.
    Presence,
    /// One-to-one chat messages.
    Message,
}

impl Phase {
    /// Every phase, in the order of a run.
    pub const ALL: [Phase; 3] = [Phase::Initial, Phase::Presence, Phase::Message];

    fn index(self) -> usize {
        self as usize
    }
}

/// One stanza as a session's reader saw it.
#[derive(Clone, Copy, Debug)]
pub struct Receipt {
    /// The session (user index) that received it.
    pub recipient: u32,
    /// The user index in its `from` address, if it is one of ours.
    pub sender: Option<u32>,
    /// Its stamp, if it carries one.
    pub stamp: Option<Stamp>,
    /// When the reader had it, microseconds since the Unix epoch.
    pub recv_us: u64,
}

/// How many unexpected receipts a ledger describes; the rest are only counted.
pub const UNEXPECTED_EXAMPLES: usize = 10;

/// Latency histograms record microseconds up to this bound; larger values are clamped.
const MAX_LATENCY_US: u64 = 600_000_000;

/// The most measured stanzas [`Ledger::reserve`] makes room for at once: 8 Mi buckets of
/// 65 bytes, about half a GB of address space, whose pages are touched only as expectations
/// fill them. A run planning more grows the map past it as it goes.
const MAX_RESERVED: u64 = 4 << 20;

/// An empty latency histogram.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// A histogram as `result.json` carries it: every non-empty bucket with its count, so that the
/// histograms of several runs can be added up and their percentiles read as if one process
/// had recorded every value.
///
/// Re-recording a bucket's highest equivalent value puts its count back into the same bucket,
/// so [`Recorded::histogram`] gives back a histogram with the same counts, minimum, maximum
/// and percentiles as the one it was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The lowest discernible value.
    pub lowest: u64,
    /// The highest trackable value.
    pub highest: u64,
    /// Significant decimal digits.
    pub sigfig: u8,
    /// The non-empty buckets as `VALUE:COUNT`, separated by spaces, VALUE being the highest
    /// value the bucket holds.
    pub counts: String,
}

impl Recorded {
    /// The buckets of `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut counts = String::new();
        for v in h.iter_recorded() {
            if !counts.is_empty() {
                counts.push(' ');
            }
            let _ = write!(counts, "{}:{}", v.value_iterated_to(), v.count_at_value());
        }
        Self {
            lowest: h.low(),
            highest: h.high(),
            sigfig: h.sigfig(),
            counts,
        }
    }

    /// The histogram these buckets came from.
    pub fn histogram(&self) -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::new_with_bounds(self.lowest, self.highest, self.sigfig)
            .with_context(|| format!("histogram bounds {self:?}"))?;
        for bucket in self.counts.split_ascii_whitespace() {
            let parsed = bucket
                .split_once(':')
                .and_then(|(v, c)| Some((v.parse::<u64>().ok()?, c.parse::<u64>().ok()?)));
            let Some((value, count)) = parsed else {
                bail!("histogram bucket {bucket:?} is not VALUE:COUNT");
            };
            h.record_n(value, count)
                .with_context(|| format!("histogram bucket {bucket:?}"))?;
        }
        Ok(h)
    }
}

/// Counters and latencies of one phase.
#[derive(Debug)]
pub struct PhaseStats {
    /// Deliveries (or, for the mesh, ordered pairs) expected.
    pub expected: u64,
    /// Matched first receipts.
    pub delivered: u64,
    /// Receipts beyond the first (failures for measured stanzas, repeats for the mesh).
    pub duplicates: u64,
    /// Expected but not received; set by [`Ledger::finish`].
    pub missing: u64,
    /// Latency of each matched delivery, in microseconds.
    pub latency: Histogram<u64>,
    /// Per second since the ledger started: deliveries and their latencies.
    pub series: Vec<Histogram<u64>>,
}

impl PhaseStats {
    /// Nothing expected, nothing received.
    pub fn new() -> Self {
        Self {
            expected: 0,
            delivered: 0,
            duplicates: 0,
            missing: 0,
            latency: histogram(),
            series: Vec::new(),
        }
    }

    fn record(&mut self, latency_us: u64, second: usize) {
        self.delivered += 1;
        let v = latency_us.clamp(1, MAX_LATENCY_US);
        self.latency.saturating_record(v);
        if self.series.len() <= second {
            self.series.resize_with(second + 1, histogram);
        }
        self.series[second].saturating_record(v);
    }
}

impl Default for PhaseStats {
    fn default() -> Self {
        Self::new()
    }
}

/// A measured stanza's sender and recipients: those still awaited and those already reached.
#[derive(Debug)]
struct Expected {
    phase: Phase,
    sender: u32,
    waiting: Vec<u32>,
    reached: Vec<u32>,
}

/// All expectations and what came of them.
#[derive(Debug)]
pub struct Ledger {
    start_us: u64,
    measured: HashMap<u64, Expected>,
    /// (sender, recipient) → receipts so far, for the initial presence mesh.
    mesh: HashMap<(u32, u32), u32>,
    mesh_waiting: u64,
    mesh_complete_us: Option<u64>,
    last_mesh_receipt_us: u64,
    outstanding: u64,
    stats: [PhaseStats; 3],
    /// Receipts that matched no expectation at all.
    pub unexpected: u64,
    /// The first [`UNEXPECTED_EXAMPLES`] of them, described, so that a misdelivery can be
    /// told from a stray duplicate.
    pub unexpected_examples: Vec<String>,
}

impl Ledger {
    /// An empty ledger; the whole second of `start_us` is time zero of the per-second series,
    /// so that the series of generator processes started at different times line up.
    pub fn new(start_us: u64) -> Self {
        Self {
            start_us: start_us - start_us % 1_000_000,
            measured: HashMap::new(),
            mesh: HashMap::new(),
            mesh_waiting: 0,
            mesh_complete_us: None,
            last_mesh_receipt_us: 0,
            outstanding: 0,
            stats: [PhaseStats::new(), PhaseStats::new(), PhaseStats::new()],
            unexpected: 0,
            unexpected_examples: Vec::new(),
        }
    }

    /// Time zero of the per-second series, microseconds since the Unix epoch (a whole second).
    pub fn start_us(&self) -> u64 {
        self.start_us
    }

    /// Expects the stanza stamped `seq`, sent by `sender`, exactly once at each of
    /// `recipients`.
    pub fn expect(&mut self, phase: Phase, seq: u64, sender: u32, recipients: Vec<u32>) {
        let n = recipients.len() as u64;
        self.stats[phase.index()].expected += n;
        self.outstanding += n;
        self.measured.insert(
            seq,
            Expected {
                phase,
                sender,
                waiting: recipients,
                reached: Vec::new(),
            },
        );
    }

    /// Takes back the expectations of the measured stanza `seq`, which was never sent.
    pub fn withdraw(&mut self, seq: u64) {
        if let Some(e) = self.measured.remove(&seq) {
            let n = e.waiting.len() as u64;
            self.stats[e.phase.index()].expected -= n;
            self.outstanding -= n;
        }
    }

    /// Takes back the mesh pairs of `sender`'s initial presence to `recipients`, which was
    /// never sent; pairs already seen (through probes) stay.
    pub fn withdraw_mesh(&mut self, sender: u32, recipients: &[u32]) {
        for &r in recipients {
            if let Entry::Occupied(pair) = self.mesh.entry((sender, r))
                && *pair.get() == 0
            {
                pair.remove();
                self.mesh_waiting -= 1;
                self.stats[Phase::Initial.index()].expected -= 1;
            }
        }
    }

    /// Makes room for `stanzas` more measured stanzas (at most [`MAX_RESERVED`]), before the
    /// measured phase. The expectations stay in one map to the run's end (a late second copy
    /// is still a duplicate), and a map that grows while stanzas are sent rehashes everything
    /// it holds at each doubling, on the thread that also sends and reads: about 9, 18 and
    /// 35 ms at 114,688, 229,376 and 458,752 stanzas on this project's machine, inside the
    /// first 13 s of one-to-one messages at 35,000/s, each a pause of the whole generator
    /// (`loadtest/results/messages-n10000-k20/ledger-reserve/`).
    pub fn reserve(&mut self, stanzas: u64) {
        // At most MAX_RESERVED, so the cast cannot truncate.
        self.measured.reserve(stanzas.min(MAX_RESERVED) as usize);
    }

    /// Expects `sender`'s availability to be seen by each of `recipients` at least once; a
    /// pair already expected stays as it is.
    pub fn expect_mesh(&mut self, sender: u32, recipients: &[u32]) {
        for &r in recipients {
            if let Entry::Vacant(pair) = self.mesh.entry((sender, r)) {
                pair.insert(0);
                self.mesh_waiting += 1;
                self.stats[Phase::Initial.index()].expected += 1;
            }
        }
    }

    /// Counts `r` as unexpected and describes it if it is among the first few.
    fn count_unexpected(&mut self, r: &Receipt, why: &str) {
        self.unexpected += 1;
        if self.unexpected_examples.len() < UNEXPECTED_EXAMPLES {
            self.unexpected_examples
                .push(describe(r, why, self.start_us));
        }
    }

    /// Matches one receipt. A stamped one matches a measured stanza only if it comes from
    /// that stanza's sender: sequence numbers are unique within one generator process, not
    /// across processes.
    pub fn receive(&mut self, r: Receipt) {
        let latency = r.stamp.map(|s| r.recv_us.saturating_sub(s.sent_us));
        let second = (r.recv_us.saturating_sub(self.start_us) / 1_000_000) as usize;
        if let Some(stamp) = r.stamp
            && let Some(e) = self.measured.get_mut(&stamp.seq)
        {
            let stats = &mut self.stats[e.phase.index()];
            if r.sender != Some(e.sender) {
                let why = format!("stamp of a stanza sent by user{}", e.sender);
                self.count_unexpected(&r, &why);
            } else if let Some(i) = e.waiting.iter().position(|&w| w == r.recipient) {
                e.waiting.swap_remove(i);
                e.reached.push(r.recipient);
                self.outstanding -= 1;
                stats.record(latency.unwrap_or(0), second);
            } else if e.reached.contains(&r.recipient) {
                stats.duplicates += 1;
            } else {
                self.count_unexpected(&r, "not among the stanza's recipients");
            }
            return;
        }
        let pair = r.sender.and_then(|s| self.mesh.get_mut(&(s, r.recipient)));
        let Some(count) = pair else {
            self.count_unexpected(&r, "not a contact of the sender");
            return;
        };
        *count += 1;
        self.last_mesh_receipt_us = self.last_mesh_receipt_us.max(r.recv_us);
        let stats = &mut self.stats[Phase::Initial.index()];
        if *count > 1 {
            stats.duplicates += 1;
            return;
        }
        self.mesh_waiting -= 1;
        if self.mesh_waiting == 0 {
            self.mesh_complete_us = Some(r.recv_us);
        }
        match latency {
            Some(l) => stats.record(l, second),
            None => stats.delivered += 1,
        }
    }

    /// Measured deliveries still awaited.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Mesh pairs still awaited.
    pub fn mesh_waiting(&self) -> u64 {
        self.mesh_waiting
    }

    /// When the last mesh pair was seen, if it has been.
    pub fn mesh_complete_us(&self) -> Option<u64> {
        self.mesh_complete_us
    }

    /// When the last receipt for the initial mesh arrived (0 if none has). Probe answers
    /// can still be on their way after every pair has been seen; a probe answered after a
    /// presence change carries that change, which would then count as a duplicate, so
    /// scenarios start changing presence only once the mesh has been quiet for a while.
    pub fn last_mesh_receipt_us(&self) -> u64 {
        self.last_mesh_receipt_us
    }

    /// Counts everything still awaited as missing; call once the deadline has passed.
    pub fn finish(&mut self) {
        for p in Phase::ALL {
            self.stats[p.index()].missing = 0;
        }
        for e in self.measured.values() {
            self.stats[e.phase.index()].missing += e.waiting.len() as u64;
        }
        self.stats[Phase::Initial.index()].missing = self.mesh_waiting;
    }

    /// The statistics of one phase.
    pub fn stats(&self, phase: Phase) -> &PhaseStats {
        &self.stats[phase.index()]
    }
}

/// One line on an unexpected receipt: who got what from whom, when, and why it matched
/// nothing.
fn describe(r: &Receipt, why: &str, start_us: u64) -> String {
    let from = r
        .sender
        .map_or("someone outside the run".to_owned(), |s| format!("user{s}"));
    let at = r.recv_us.saturating_sub(start_us) as f64 / 1e6;
    let stamp = r.stamp.map_or(String::new(), |s| {
        format!(
            ", stamp {} sent at {:.3} s",
            s.seq,
            s.sent_us.saturating_sub(start_us) as f64 / 1e6
        )
    });
    format!(
        "user{} received from {from} at {at:.3} s{stamp}: {why}",
        r.recipient
    )
}

#[cfg(test)]
mod tests;
