//! The Prometheus metrics every role reports, in one registry per process.
//!
//! One struct holds every family so that the names, help texts, label sets and buckets are
//! decided once: dashboards and alerts can rely on them whichever role exports them. A role
//! uses the families that apply to it (a connection manager has client sessions, a shard has
//! shard sessions); the others stay at zero. Names follow the Prometheus conventions: all start
//! with `starling_`, counters end in `_total` (added by the encoder), durations are in seconds.
//!
//! The registry is explicit rather than global so that tests, and `starling dev` running several
//! roles in one process, each get their own. Accessors take `&'static str` label values: a
//! family lookup then needs no allocation, which keeps them cheap on the stanza path.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s output, for the `/metrics` response.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Stanza kinds used as the `kind` label: RFC 6120's three stanza types.
pub const STANZA_KINDS: [&str; 3] = ["message", "presence", "iq"];

/// Dependencies used as the `dependency` label of `starling_dependency_errors_total`.
pub const DEPENDENCIES: [&str; 3] = ["redis", "postgres", "grpc"];

/// Latency buckets in seconds: 50 µs doubling up to 6.55 s (18 buckets, plus `+Inf`).
///
/// In-process calls and local writes take tens of microseconds, a cross-pod gRPC call about a
/// millisecond, and a call stuck behind a 5 s timeout must still land in a finite bucket.
/// Doubling a power-of-two multiple keeps every bound exact, so the `le` labels stay readable.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

/// Wait buckets in seconds: 100 µs doubling up to 52.4 s (20 buckets, plus `+Inf`).
///
/// A call that finds a free slot waits nothing (the first bucket); under a login storm calls
/// wait for seconds (tens of seconds when 100,000 sessions log in on one machine), and those
/// must land in finite buckets to be told apart.
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 20))
}

/// The `kind` label of the stanza counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The `method` label of the gRPC duration histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// The `dependency` label of the dependency error counter.
/// The `shard` label of the per-shard call window.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every role's metrics. Cloning is cheap (one `Arc`); clones update the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    sessions: Gauge,
    stanzas_in: Family<KindLabels, Counter>,
    stanzas_out: Family<KindLabels, Counter>,
    /// The series of [`STANZA_KINDS`], in that order, resolved once: every stanza written
    /// counts one, and the family's lookup (a lock and a hash of the labels) was a visible
    /// part of a delivery's cost.
    stanzas_in_by_kind: [Counter; STANZA_KINDS.len()],
    stanzas_out_by_kind: [Counter; STANZA_KINDS.len()],
    grpc_client_duration: HistogramFamily<MethodLabels>,
    grpc_server_duration: HistogramFamily<MethodLabels>,
    fanout_deliveries: Counter,
    fanout_dropped: Counter,
    fanout_latency: Histogram,
    dependency_errors: Family<DependencyLabels, Counter>,
    shard_sessions: Gauge,
    shard_calls_waiting: Gauge,
    shard_call_wait: Histogram,
    shard_call_window: Family<ShardLabels, Gauge>,
}

/// Counts one stanza of `kind`: through its resolved series when it is one of
/// [`STANZA_KINDS`], else through the family.
fn count_kind(
    family: &Family<KindLabels, Counter>,
    by_kind: &[Counter; STANZA_KINDS.len()],
    kind: &'static str,
) {
    match STANZA_KINDS.iter().position(|known| *known == kind) {
        Some(i) => by_kind[i].inc(),
        None => family.get_or_create(&KindLabels { kind }).inc(),
    };
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered. The known label values (stanza kinds,
    /// dependencies) are created at zero so that `rate()` and alerts see a series from the
    /// first scrape rather than only after the first event.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("starling");
        let sessions = Gauge::default();
        registry.register(
            "sessions",
            "Client sessions currently open on this node",
            sessions.clone(),
        );
        let stanzas_in = Family::<KindLabels, Counter>::default();
        registry.register(
            "stanzas_in",
            "Stanzas received from clients, by kind (message, presence, iq)",
            stanzas_in.clone(),
        );
        let stanzas_out = Family::<KindLabels, Counter>::default();
        registry.register(
            "stanzas_out",
            "Stanzas written to clients, by kind (message, presence, iq)",
            stanzas_out.clone(),
        );
        let grpc_client_duration: HistogramFamily<MethodLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "grpc_client_duration",
            "Duration of outgoing gRPC calls, by method, until the response or error",
            Unit::Seconds,
            grpc_client_duration.clone(),
        );
        let grpc_server_duration: HistogramFamily<MethodLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "grpc_server_duration",
            "Duration of served gRPC calls, by method",
            Unit::Seconds,
            grpc_server_duration.clone(),
        );
        let fanout_deliveries = Counter::default();
        registry.register(
            "fanout_deliveries",
            "Deliveries received from the bus and written to local sessions",
            fanout_deliveries.clone(),
        );
        let fanout_dropped = Counter::default();
        registry.register(
            "fanout_dropped",
            "Deliveries dropped because an inbox stayed full past the publish timeout",
            fanout_dropped.clone(),
        );
        let fanout_latency = latency_histogram();
        registry.register_with_unit(
            "fanout_latency",
            "Time from publishing a delivery on the bus to writing it to a local session",
            Unit::Seconds,
            fanout_latency.clone(),
        );
        let dependency_errors = Family::<DependencyLabels, Counter>::default();
        registry.register(
            "dependency_errors",
            "Failed calls to a dependency, by dependency (redis, postgres, grpc)",
            dependency_errors.clone(),
        );
        let shard_sessions = Gauge::default();
        registry.register(
            "shard_sessions",
            "Client sessions known to this roster-presence shard",
            shard_sessions.clone(),
        );
        let shard_calls_waiting = Gauge::default();
        registry.register(
            "shard_calls_waiting",
            "Calls to roster-presence shards waiting at this connection manager for one of its \
             limits.max_shard_calls slots",
            shard_calls_waiting.clone(),
        );
        let shard_call_window = Family::<ShardLabels, Gauge>::default();
        registry.register(
            "shard_call_window",
            "Calls to a roster-presence shard this connection manager lets be in flight now: \
             limits.max_shard_calls, shrunk while that shard's calls take longer than \
             limits.shard_call_target_ms",
            shard_call_window.clone(),
        );
        let shard_call_wait = wait_histogram();
        registry.register_with_unit(
            "shard_call_wait",
            "Time calls to roster-presence shards waited at this connection manager for a \
             limits.max_shard_calls slot (0 when one was free; abandoned waits are left out)",
            Unit::Seconds,
            shard_call_wait.clone(),
        );
        let by_kind = |family: &Family<KindLabels, Counter>| {
            STANZA_KINDS.map(|kind| family.get_or_create(&KindLabels { kind }).clone())
        };
        let stanzas_in_by_kind = by_kind(&stanzas_in);
        let stanzas_out_by_kind = by_kind(&stanzas_out);
        for dependency in DEPENDENCIES {
            let _ = dependency_errors.get_or_create(&DependencyLabels { dependency });
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                sessions,
                stanzas_in,
                stanzas_out,
                stanzas_in_by_kind,
                stanzas_out_by_kind,
                grpc_client_duration,
                grpc_server_duration,
                fanout_deliveries,
                fanout_dropped,
                fanout_latency,
                dependency_errors,
                shard_sessions,
                shard_calls_waiting,
                shard_call_wait,
                shard_call_window,
            }),
        }
    }

    /// A call to a shard began waiting for a slot (`starling_shard_calls_waiting` + 1).
    pub fn shard_call_wait_began(&self) {
        self.inner.shard_calls_waiting.inc();
    }

    /// A call to a shard stopped waiting for a slot: it got one or was abandoned
    /// (`starling_shard_calls_waiting` − 1).
    pub fn shard_call_wait_ended(&self) {
        self.inner.shard_calls_waiting.dec();
    }

    /// A call to a shard got its slot after waiting `waited` (zero when one was free).
    pub fn shard_call_waited(&self, waited: Duration) {
        self.inner.shard_call_wait.observe(waited.as_secs_f64());
    }

    /// The calls to shard `shard` this node lets be in flight now
    /// (`starling_shard_call_window{shard}`).
    pub fn shard_call_window(&self, shard: u32, window: usize) {
        self.inner
            .shard_call_window
            .get_or_create(&ShardLabels { shard })
            .set(i64::try_from(window).unwrap_or(i64::MAX));
    }

    /// A client session opened on this node (`starling_sessions` + 1).
    pub fn session_opened(&self) {
        self.inner.sessions.inc();
    }

    /// A client session on this node closed (`starling_sessions` − 1).
    pub fn session_closed(&self) {
        self.inner.sessions.dec();
    }

    /// A stanza received from a client; `kind` is `message`, `presence` or `iq`.
    pub fn stanza_in(&self, kind: &'static str) {
        let inner = &*self.inner;
        count_kind(&inner.stanzas_in, &inner.stanzas_in_by_kind, kind);
    }

    /// A stanza written to a client; `kind` is `message`, `presence` or `iq`.
    pub fn stanza_out(&self, kind: &'static str) {
        let inner = &*self.inner;
        count_kind(&inner.stanzas_out, &inner.stanzas_out_by_kind, kind);
    }

    /// An outgoing gRPC call to `method` (e.g. `StanzaIn`) took `elapsed`.
    pub fn grpc_client_observe(&self, method: &'static str, elapsed: Duration) {
        self.inner
            .grpc_client_duration
            .get_or_create(&MethodLabels { method })
            .observe(elapsed.as_secs_f64());
    }

    /// A served gRPC call to `method` took `elapsed`.
    pub fn grpc_server_observe(&self, method: &'static str, elapsed: Duration) {
        self.inner
            .grpc_server_duration
            .get_or_create(&MethodLabels { method })
            .observe(elapsed.as_secs_f64());
    }

    /// A delivery from the bus was written to local sessions.
    pub fn fanout_delivered(&self) {
        self.inner.fanout_deliveries.inc();
    }

    /// A delivery was dropped because its inbox stayed full.
    pub fn fanout_dropped(&self) {
        self.inner.fanout_dropped.inc();
    }

    /// A delivery took `elapsed` from its publication to its local write.
    pub fn fanout_latency_observe(&self, elapsed: Duration) {
        self.inner.fanout_latency.observe(elapsed.as_secs_f64());
    }

    /// A call to `dependency` (`redis`, `postgres` or `grpc`) failed.
    pub fn dependency_error(&self, dependency: &'static str) {
        self.inner
            .dependency_errors
            .get_or_create(&DependencyLabels { dependency })
            .inc();
    }

    /// A shard took charge of a session (`starling_shard_sessions` + 1).
    pub fn shard_session_added(&self) {
        self.inner.shard_sessions.inc();
    }

    /// A shard forgot a session (`starling_shard_sessions` − 1).
    pub fn shard_session_removed(&self) {
        self.inner.shard_sessions.dec();
    }

    /// Sets `starling_shard_sessions`, for a shard that recounts its sessions (e.g. after
    /// rebuilding them from the connection managers).
    pub fn set_shard_sessions(&self, sessions: i64) {
        self.inner.shard_sessions.set(sessions);
    }

    /// The registry in the OpenMetrics text format (ending in `# EOF`), served as
    /// [`OPENMETRICS_CONTENT_TYPE`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("encoding counters, gauges and classic histograms into a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests;
