//! `starling user …`: account administration, on the embedded store or, with
//! `--database-url`, on a cluster's Postgres database.
//!
//! Either store is shared safely with running servers (SQLite WAL; Postgres), so an account
//! added here can log in at once, without a restart.

use std::io::BufRead;
use std::process::ExitCode;

use storage::{AccountName, AccountStore, PgPoolSettings, PgStore, SqliteStore, StoreError};
use xmpp_core::Jid;
use xmpp_core::sasl::{ScramCredentials, ScramHash, normalize_password};

use crate::cli::{StoreArgs, UserCommand};

/// Entry point of `starling user`: exit code 2 for bad input, 1 for store failures.
pub fn main(command: UserCommand) -> ExitCode {
    service_kit::telemetry::init_logging(service_kit::telemetry::LogFormat::from_env(), "warn");
    let Some(runtime) = crate::runtime(false) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("starling: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Store(e)) => {
            eprintln!("starling: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Store(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e.to_string())
    }
}

async fn run(command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add(args) => {
            let (name, creds) = (
                account_name(&args.jid)?,
                credentials(args.password, args.iterations)?,
            );
            open(&args.store)
                .await?
                .create_account(&name, &creds)
                .await?;
            eprintln!("created {name}");
        }
        UserCommand::Passwd(args) => {
            let (name, creds) = (
                account_name(&args.jid)?,
                credentials(args.password, args.iterations)?,
            );
            open(&args.store)
                .await?
                .set_credentials(&name, &creds)
                .await?;
            eprintln!("changed the password of {name}");
        }
        UserCommand::Del { jid, store } => {
            let name = account_name(&jid)?;
            open(&store).await?.delete_account(&name).await?;
            eprintln!("deleted {name}");
        }
        UserCommand::List { domain, store } => {
            let domain = match domain {
                Some(d) => Some(
                    xmpp_core::jid::normalize_domainpart(&d)
                        .map_err(|e| Failure::Usage(format!("invalid domain {d:?}: {e}")))?,
                ),
                None => None,
            };
            let mut out = String::new();
            for name in open(&store).await?.list_accounts(domain.as_deref()).await? {
                out.push_str(&format!("{name}\n"));
            }
            use std::io::Write;
            let _ = std::io::stdout().write_all(out.as_bytes());
        }
    }
    Ok(())
}

/// The store the flags name: Postgres when a database URL is given (its schema must be
/// migrated already, by `starling migrate`), the embedded SQLite file otherwise.
async fn open(store: &StoreArgs) -> Result<Box<dyn AccountStore>, Failure> {
    if let Some(url) = &store.database_url {
        let settings = PgPoolSettings {
            max_connections: 1,
            ..PgPoolSettings::default()
        };
        return Ok(Box::new(PgStore::connect(url, &settings)?));
    }
    std::fs::create_dir_all(&store.data_dir)
        .map_err(|e| Failure::Store(format!("cannot create {}: {e}", store.data_dir.display())))?;
    Ok(Box::new(
        SqliteStore::open(&store.data_dir.join("starling.db")).await?,
    ))
}

/// The account a bare JID names, normalized per RFC 7622 (so `Juliet@Example.COM` and
/// `juliet@example.com` are one account).
fn account_name(jid: &str) -> Result<AccountName, Failure> {
    let parsed = Jid::new(jid).map_err(|e| Failure::Usage(format!("invalid JID {jid:?}: {e}")))?;
    match (parsed.local(), parsed.resource()) {
        (Some(local), None) => Ok(AccountName {
            localpart: local.to_owned(),
            domain: parsed.domain().to_owned(),
        }),
        _ => Err(Failure::Usage(format!(
            "{jid:?} is not a bare JID of the form user@domain"
        ))),
    }
}

/// SCRAM-SHA-256 and SCRAM-SHA-1 keys for a password, each with its own random salt; the
/// password itself is never stored.
fn credentials(
    password: Option<String>,
    iterations: u32,
) -> Result<Vec<ScramCredentials>, Failure> {
    let password = match password {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::Usage(format!("cannot read the password: {e}")))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if iterations < 4096 {
        return Err(Failure::Usage(
            "--iterations must be at least 4096 (RFC 7677 §4)".into(),
        ));
    }
    let normalized = normalize_password(&password).map_err(|_| {
        Failure::Usage("the password is empty or has characters PRECIS forbids (RFC 8265)".into())
    })?;
    ScramHash::ALL
        .into_iter()
        .map(|hash| {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt)
                .map_err(|e| Failure::Store(format!("no random source: {e}")))?;
            Ok(ScramCredentials::derive(
                hash,
                normalized.as_bytes(),
                &salt,
                iterations,
            ))
        })
        .collect()
}
