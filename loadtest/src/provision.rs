//! Creating the users and their rosters before a run: directly in Starling's store, or through
//! shell commands for any other server (`ejabberdctl`, `prosodyctl`, …).
//!
//! Writing Starling's store directly takes seconds where registering thousands of users over
//! XMPP would take minutes, and it needs no in-band registration on the server under test.
//! Provisioning is idempotent, so a run can be repeated on the same data.

use std::sync::Arc;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use storage::{AccountName, AccountStore, PgPoolSettings, PgStore, RosterEntry, RosterStore};
use storage::{SqliteStore, StoreError};
use xmpp_core::sasl::{ScramCredentials, ScramHash, normalize_password};

use crate::topology::Ring;

/// Where users are created.
#[derive(Clone, Debug)]
pub enum Provisioner {
    /// Users already exist.
    None,
    /// `starling dev`'s SQLite file (`<data-dir>/starling.db`).
    StarlingSqlite(String),
    /// A Starling cluster's Postgres database (already migrated).
    StarlingPostgres(String),
    /// Shell command templates, run with `sh -c`; see [`Templates`].
    Command(Templates),
}

/// Command templates for servers other than Starling. `{user}`, `{domain}`, `{password}` and
/// (for contacts) `{contact}` are replaced verbatim, so the password must be shell-safe.
#[derive(Clone, Debug)]
pub struct Templates {
    /// Creates one user.
    pub user: String,
    /// Adds `{contact}` to `{user}`'s roster with subscription `both`; run once per direction.
    pub contact: Option<String>,
}

impl Provisioner {
    /// Parses `none`, `starling-sqlite:PATH`, `starling-postgres:URL` or `command`.
    pub fn parse(s: &str, templates: Option<Templates>) -> anyhow::Result<Self> {
        if s == "none" {
            return Ok(Self::None);
        }
        if let Some(path) = s.strip_prefix("starling-sqlite:") {
            return Ok(Self::StarlingSqlite(path.to_owned()));
        }
        if let Some(url) = s.strip_prefix("starling-postgres:") {
            return Ok(Self::StarlingPostgres(url.to_owned()));
        }
        if s == "command" {
            return match templates {
                Some(t) => Ok(Self::Command(t)),
                None => bail!("--provision command needs --provision-user"),
            };
        }
        bail!("--provision: expected none, starling-sqlite:PATH, starling-postgres:URL or command")
    }
}

/// The localpart of user `i`.
pub fn username(i: u32) -> String {
    format!("user{i}")
}

/// Creates users 0..N with `password` and the ring's mutual contacts, `parallel` at a time.
pub async fn provision(
    p: &Provisioner,
    ring: Ring,
    domain: &str,
    password: &str,
    iterations: u32,
    parallel: usize,
) -> anyhow::Result<()> {
    match p {
        Provisioner::None => Ok(()),
        Provisioner::StarlingSqlite(path) => {
            let store = SqliteStore::open(path.as_ref())
                .await
                .with_context(|| format!("cannot open {path}"))?;
            into_store(
                Arc::new(store),
                ring,
                domain,
                password,
                iterations,
                parallel,
            )
            .await
        }
        Provisioner::StarlingPostgres(url) => {
            let settings = PgPoolSettings {
                max_connections: parallel.max(1) as u32,
                ..PgPoolSettings::default()
            };
            let store = PgStore::connect(url, &settings)?;
            into_store(
                Arc::new(store),
                ring,
                domain,
                password,
                iterations,
                parallel,
            )
            .await
        }
        Provisioner::Command(t) => by_command(t, ring, domain, password, parallel).await,
    }
}

/// SCRAM keys for `password`, derived once and shared by every user: the run only needs
/// users who can log in, and deriving the PBKDF2 rounds per user would dominate the time.
/// `iterations` is also what every login costs the client; RFC 7677 asks for at least 4096,
/// fewer only make sense for runs that test delivery rather than login cost.
fn credentials(password: &str, iterations: u32) -> anyhow::Result<Vec<ScramCredentials>> {
    let normalized =
        normalize_password(password).map_err(|_| anyhow::anyhow!("unusable password"))?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(ScramHash::ALL
        .into_iter()
        .map(|h| ScramCredentials::derive(h, normalized.as_bytes(), &salt, iterations.max(1)))
        .collect())
}

async fn into_store<S: AccountStore + RosterStore>(
    store: Arc<S>,
    ring: Ring,
    domain: &str,
    password: &str,
    iterations: u32,
    parallel: usize,
) -> anyhow::Result<()> {
    let creds = Arc::new(credentials(password, iterations)?);
    stream::iter(0..ring.n)
        .map(|i| {
            let (store, creds) = (store.clone(), creds.clone());
            async move {
                let name = AccountName::new(username(i), domain);
                match store.create_account(&name, &creds).await {
                    Err(StoreError::AlreadyExists(_)) => store.set_credentials(&name, &creds).await,
                    other => other,
                }
                .with_context(|| format!("creating {name}"))?;
                for j in ring.contacts(i) {
                    let entry = RosterEntry {
                        groups: vec!["Contacts".into()],
                        to: true,
                        from: true,
                        ..RosterEntry::new(format!("{}@{domain}", username(j)))
                    };
                    store
                        .put_entry(&name, &entry)
                        .await
                        .with_context(|| format!("roster of {name}"))?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(parallel.max(1))
        .try_collect::<()>()
        .await
}

/// Fills in a template.
pub fn expand(template: &str, user: &str, domain: &str, password: &str, contact: &str) -> String {
    template
        .replace("{user}", user)
        .replace("{domain}", domain)
        .replace("{password}", password)
        .replace("{contact}", contact)
}

async fn by_command(
    t: &Templates,
    ring: Ring,
    domain: &str,
    password: &str,
    parallel: usize,
) -> anyhow::Result<()> {
    let mut commands = Vec::new();
    for i in 0..ring.n {
        commands.push(expand(&t.user, &username(i), domain, password, ""));
    }
    if let Some(c) = &t.contact {
        for i in 0..ring.n {
            for j in ring.contacts(i) {
                commands.push(expand(c, &username(i), domain, password, &username(j)));
            }
        }
    }
    stream::iter(commands)
        .map(|cmd| async move {
            let run = cmd.clone();
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new("sh").arg("-c").arg(run).output()
            })
            .await??;
            if !out.status.success() {
                bail!(
                    "`{cmd}` failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        })
        .buffer_unordered(parallel.max(1))
        .try_collect::<()>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_in() {
        let t = "ejabberdctl add_rosteritem {user} {domain} {contact} {domain} {contact} C both";
        assert_eq!(
            expand(t, "user1", "localhost", "pw", "user2"),
            "ejabberdctl add_rosteritem user1 localhost user2 localhost user2 C both"
        );
    }

    #[tokio::test]
    async fn the_store_gets_accounts_and_mutual_both_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let p = Provisioner::parse(&format!("starling-sqlite:{}", path.display()), None).unwrap();
        let ring = Ring::new(5, 2).unwrap();
        provision(&p, ring, "localhost", "secret", 4096, 4)
            .await
            .unwrap();
        // Idempotent: a second run changes nothing that matters.
        provision(&p, ring, "localhost", "secret", 4096, 4)
            .await
            .unwrap();
        let store = SqliteStore::open(&path).await.unwrap();
        let (_, items) = store
            .roster(&AccountName::new("user0", "localhost"))
            .await
            .unwrap();
        let contacts: Vec<_> = items.iter().map(|e| e.contact.as_str()).collect();
        assert_eq!(contacts, ["user1@localhost", "user4@localhost"]);
        assert!(items.iter().all(|e| e.to && e.from && !e.pending_out));
    }
}
