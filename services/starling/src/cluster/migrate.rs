//! `starling migrate`: brings a Postgres database's schema up to date (migrations/postgres,
//! embedded in the binary) and exits. Run once per release, before the new pods start
//! (a Kubernetes Job or Helm hook); the roles never migrate by themselves, so that two pods
//! starting at once cannot race on a schema change.

use std::process::ExitCode;

use storage::{PgPoolSettings, PgStore};

/// Entry point: exit code 1 when the database cannot be reached or a migration fails.
pub fn main(database_url: String) -> ExitCode {
    service_kit::telemetry::init_logging(service_kit::telemetry::LogFormat::from_env(), "info");
    let Some(runtime) = crate::runtime(false) else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        let settings = PgPoolSettings {
            max_connections: 1,
            ..PgPoolSettings::default()
        };
        let store = PgStore::connect(&database_url, &settings)?;
        store.migrate().await
    });
    match result {
        Ok(()) => {
            eprintln!("starling: the database schema is up to date");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("starling: migrating the database failed: {e}");
            ExitCode::FAILURE
        }
    }
}
