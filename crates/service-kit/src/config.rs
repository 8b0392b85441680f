//! Layered configuration: built-in defaults, then a TOML file, then `STARLING_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Everything is parsed and validated before the runtime starts (a bad value is a one-line
//! error and exit code 2, never a half-started server). Config types use
//! `#[serde(deny_unknown_fields)]` so a misspelt key is an error, not a silently ignored line.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The environment variable prefix of every setting: `STARLING_DOMAIN`,
/// `STARLING_LIMITS__MAX_CONNECTIONS` (a double underscore descends into a table).
pub const ENV_PREFIX: &str = "STARLING_";

/// Where configuration comes from. Tests build one with a fixed environment so that they never
/// touch the process environment.
#[derive(Debug, Default)]
pub struct ConfigSources {
    /// A TOML file, if one was named.
    pub file: Option<PathBuf>,
    /// Environment variables as (name, value) pairs; [`ConfigSources::from_process_env`]
    /// fills it from the process.
    pub env: Vec<(String, String)>,
}

impl ConfigSources {
    /// Sources with the given file and the process environment.
    pub fn from_process_env(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named file does not exist (figment would silently skip it).
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value is of the wrong type, unknown, or missing.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads a `T` from its defaults, then `sources`, then `overrides` (the command-line flags that
/// were given; `None` fields in an override struct should be skipped with
/// `#[serde(skip_serializing_if = "Option::is_none")]`).
pub fn load_config<T, O>(sources: &ConfigSources, overrides: &O) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
    O: Serialize,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = &sources.file {
        if !Path::new(file).exists() {
            return Err(ConfigError::MissingFile(file.clone()));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    let env: Vec<(String, String)> = sources
        .env
        .iter()
        .filter(|(k, _)| {
            k.starts_with(ENV_PREFIX)
                && !k.starts_with(IGNORED_ENV_PREFIX)
                && !IGNORED_ENV.contains(&k.as_str())
        })
        .cloned()
        .collect();
    // figment's own Env provider reads the process environment; feeding the captured pairs in
    // keeps tests hermetic. `__` descends one table: STARLING_LIMITS__MAX_CONNECTIONS.
    for (key, value) in env {
        let path = key[ENV_PREFIX.len()..].to_lowercase().replace("__", ".");
        figment = figment.merge(Serialized::default(&path, parse_env_value(&value)));
    }
    figment = figment.merge(Serialized::defaults(overrides));
    figment
        .extract()
        .map_err(|e| ConfigError::Invalid(one_line(&e)))
}

/// Every variable of scripts/cluster (STARLING_CLUSTER_DIR, …_C2S, …): none is a setting.
const IGNORED_ENV_PREFIX: &str = "STARLING_CLUSTER_";

/// Variables with the prefix that are not settings: read by other parts of the program
/// (logging, the command line's `--config`) or by the scripts that start Postgres, Redis and
/// a local cluster (scripts/services, scripts/cluster), which pass their environment on.
const IGNORED_ENV: &[&str] = &[
    "STARLING_LOG",
    "STARLING_LOG_FORMAT",
    "STARLING_CONFIG",
    "STARLING_PG_PORT",
    "STARLING_REDIS_PORT",
    "STARLING_REDIS_CLUSTER_PORTS",
    "STARLING_SERVICES_DIR",
    "STARLING_BENCH_DIR",
    "STARLING_BLESS_CODEGEN",
];

/// Environment values are strings; let figment see numbers and booleans as such so that
/// `STARLING_LIMITS__MAX_CONNECTIONS=10` fills a number field.
fn parse_env_value(value: &str) -> figment::value::Value {
    use figment::value::{Num, Value};
    if let Ok(n) = value.parse::<u64>() {
        return Value::from(Num::U64(n));
    }
    if let Ok(n) = value.parse::<i64>() {
        return Value::from(Num::I64(n));
    }
    match value {
        "true" => Value::from(true),
        "false" => Value::from(false),
        _ => Value::from(value.to_owned()),
    }
}

/// figment errors can span several lines; the command line wants one.
fn one_line(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| e.to_string().replace('\n', " "))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
