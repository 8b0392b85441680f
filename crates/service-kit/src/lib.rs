//! What every Starling role shares: configuration loading and validation, logging, and the
//! shutdown signal.
//!
//! API boundary: this crate knows no service and no protocol. Each role brings its own config
//! type; service-kit only decides where values come from and in which order.

pub mod config;
pub mod shutdown;
pub mod telemetry;

pub use config::{ConfigError, ConfigSources, load_config};
pub use shutdown::{Shutdown, wait_for_signal};
