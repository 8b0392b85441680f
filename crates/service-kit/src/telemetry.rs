//! Structured logging with `tracing`.
//!
//! The filter comes from `STARLING_LOG` (falling back to `RUST_LOG`, then `info`), the format
//! from `STARLING_LOG_FORMAT` (`text` for people, `json` for log pipelines). Logs go to stderr
//! so that stdout stays free for command output such as `starling user list`.

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Reads `STARLING_LOG_FORMAT`; anything but `json` is text.
    pub fn from_env() -> Self {
        match std::env::var("STARLING_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when no variable sets one.
/// Calling it twice is harmless (the second call does nothing), which keeps tests simple.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = std::env::var("STARLING_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
