//! What every Starling role shares: configuration loading and validation, logging and trace
//! export, trace-context propagation, metrics, the health/readiness/metrics HTTP endpoint, and
//! the shutdown signal.
//!
//! API boundary: this crate knows no service and no protocol. Each role brings its own config
//! type; service-kit only decides where values come from and in which order. The metric
//! families are shared so that every role reports under the same names (see [`metrics`]).
//!
//! - [`config`]: defaults → TOML file → `STARLING_*` environment → flags.
//! - [`telemetry`]: logs to stderr, optionally spans over OTLP/gRPC ([`telemetry::init_tracing`]).
//! - [`propagation`]: W3C trace context in bus messages and gRPC metadata.
//! - [`metrics`]: the `starling_*` Prometheus families.
//! - [`health`] and [`http`]: `/healthz`, `/readyz`, `/metrics` on the role's operations port.
//! - [`shutdown`]: one cancellation token per role, cancelled on SIGINT/SIGTERM.

pub mod config;
pub mod health;
pub mod http;
pub mod metrics;
pub mod propagation;
pub mod shutdown;
pub mod telemetry;

pub use config::{ConfigError, ConfigSources, load_config};
pub use health::Readiness;
pub use metrics::Metrics;
pub use shutdown::{Shutdown, wait_for_signal};
