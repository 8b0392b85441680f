//! The command line. Flags override `STARLING_*` environment variables, which override the
//! config file, which overrides the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

/// Starling, a clustered XMPP server.
#[derive(Debug, Parser)]
#[command(name = "starling", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles and admin commands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process on embedded storage (for trying Starling and for
    /// single-node installs).
    Dev(DevArgs),
    /// Run a connection manager of a cluster: client listeners, TLS, SASL, sessions; every
    /// stanza goes to the roster-presence shard that owns it.
    ConnectionManager(RoleArgs),
    /// Run one roster-presence shard of a cluster: rosters, subscriptions, presence and
    /// delivery for the users it owns.
    RosterPresence(ShardArgs),
    /// Apply the Postgres migrations (migrations/postgres) and exit.
    Migrate {
        /// The Postgres database, e.g. postgres://starling@db:5432/starling.
        #[arg(long, env = "STARLING_DATABASE_URL")]
        database_url: String,
    },
    /// Manage accounts (the embedded store, or Postgres with --database-url).
    User {
        /// The account operation.
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// Flags of `starling dev`. Each one is optional so that the file and environment can set it.
#[derive(Debug, Args, Serialize)]
pub struct DevArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "STARLING_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the database, the self-signed certificate and other state
    /// [default: ./starling-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// XMPP domain served [default: localhost].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// STARTTLS client listener [default: 127.0.0.1:5222].
    #[arg(long, value_name = "HOST:PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Direct TLS client listener, XEP-0368 [default: 127.0.0.1:5223].
    #[arg(long, value_name = "HOST:PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_tls: Option<SocketAddr>,
}

/// Flags of a cluster role: the configuration file; everything else comes from it and
/// from `STARLING_*` variables.
#[derive(Debug, Args, Serialize)]
pub struct RoleArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "STARLING_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

/// Flags of `starling roster-presence`.
#[derive(Debug, Args, Serialize)]
pub struct ShardArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "STARLING_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// This shard's index, from 0 (a StatefulSet pod's ordinal).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// The number of shards of the deployment.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

/// Where accounts are stored.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory of `starling dev`.
    #[arg(long, env = "STARLING_DATA_DIR", default_value = "./starling-data")]
    pub data_dir: PathBuf,
    /// A cluster's Postgres database instead of the embedded store, e.g.
    /// postgres://starling@db:5432/starling.
    #[arg(long, env = "STARLING_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Account operations.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add(PasswordArgs),
    /// Change an account's password.
    Passwd(PasswordArgs),
    /// Delete an account.
    Del {
        /// The account's bare JID.
        jid: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List accounts, one bare JID per line.
    List {
        /// Only accounts of this domain.
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// An account and the password to give it.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The account's bare JID, e.g. juliet@localhost.
    pub jid: String,
    /// The password; read from standard input when omitted.
    #[arg(long)]
    pub password: Option<String>,
    /// PBKDF2 iterations of the stored SCRAM keys (RFC 7677 asks for at least 4096).
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
    #[command(flatten)]
    pub store: StoreArgs,
}
