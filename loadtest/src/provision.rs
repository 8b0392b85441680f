//! Creating the users and their rosters before a run: directly in Starling's store, or through
//! shell commands for any other server (`ejabberdctl`, `prosodyctl`, …): one command per user
//! and roster item, or one command for a file that lists them all ([`batch_file`]).
//!
//! Writing Starling's store directly takes seconds where registering thousands of users over
//! XMPP would take minutes, and it needs no in-band registration on the server under test.
//! Provisioning is idempotent, so a run can be repeated on the same data.

use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
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
/// With a `batch` template the per-item ones are not used.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    /// Creates one user.
    pub user: Option<String>,
    /// Adds `{contact}` to `{user}`'s roster with subscription `both`; run once per direction.
    pub contact: Option<String>,
    /// Creates every user and roster item listed in `{file}` ([`batch_file`]); run once.
    pub batch: Option<String>,
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
                Some(t) if t.batch.is_some() || t.user.is_some() => Ok(Self::Command(t)),
                _ => bail!("--provision command needs --provision-batch or --provision-user"),
            };
        }
        bail!("--provision: expected none, starling-sqlite:PATH, starling-postgres:URL or command")
    }
}

/// The localpart of user `i`.
pub fn username(i: u32) -> String {
    format!("user{i}")
}

/// Creates the ring's users (user{O} … user{O+N-1}) with `password` and the ring's mutual
/// contacts, `parallel` at a time.
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
        Provisioner::Command(Templates {
            batch: Some(batch), ..
        }) => by_batch(batch, ring, domain, password).await,
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
    stream::iter(ring.users())
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
    if let Some(u) = &t.user {
        for i in ring.users() {
            commands.push(expand(u, &username(i), domain, password, ""));
        }
    }
    if let Some(c) = &t.contact {
        for i in ring.users() {
            for j in ring.contacts(i) {
                commands.push(expand(c, &username(i), domain, password, &username(j)));
            }
        }
    }
    stream::iter(commands)
        .map(|cmd| async move {
            let run = cmd.clone();
            let out =
                tokio::task::spawn_blocking(move || Command::new("sh").arg("-c").arg(run).output())
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

/// Writes the batch file: one record per line, fields separated by a tab, every user first,
/// then every roster item (both directions of each mutual contact, as separate lines):
///
/// ```text
/// user<TAB>NAME<TAB>DOMAIN<TAB>PASSWORD
/// contact<TAB>NAME<TAB>DOMAIN<TAB>CONTACTNAME
/// ```
///
/// A `contact` line puts CONTACTNAME@DOMAIN into NAME@DOMAIN's roster with subscription `both`.
/// No field holds a tab or a line break.
pub fn batch_file(
    out: &mut impl Write,
    ring: Ring,
    domain: &str,
    password: &str,
) -> std::io::Result<()> {
    for i in ring.users() {
        writeln!(out, "user\t{}\t{domain}\t{password}", username(i))?;
    }
    for i in ring.users() {
        let name = username(i);
        for j in ring.contacts(i) {
            writeln!(out, "contact\t{name}\t{domain}\t{}", username(j))?;
        }
    }
    Ok(())
}

/// A private directory for the batch file, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("starling-loadtest-{tag}"));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `s` passes through `sh` unquoted as one word.
fn shell_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
}

async fn by_batch(template: &str, ring: Ring, domain: &str, password: &str) -> anyhow::Result<()> {
    for (what, value) in [("--domain", domain), ("--password", password)] {
        if value.is_empty() || value.contains(['\t', '\n', '\r']) {
            bail!("{what} must be non-empty and hold no tab or line break for --provision-batch");
        }
    }
    let dir = TempDir::new()?;
    let path = dir.0.join("provision.tsv");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    batch_file(&mut out, ring, domain, password)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(out);
    let shown = path.display().to_string();
    if !shell_safe(&shown) {
        bail!("the batch file's path {shown} is not shell-safe; set TMPDIR to a plain path");
    }
    let cmd = template.replace("{file}", &shown);
    let started = std::time::Instant::now();
    let run = cmd.clone();
    tokio::task::spawn_blocking(move || run_forwarding_stderr(&run))
        .await?
        .with_context(|| format!("`{cmd}`"))?;
    eprintln!(
        "provisioned {} users and {} roster items in {:.1} s",
        ring.n,
        u64::from(ring.n) * u64::from(ring.k),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `cmd` with `sh -c`, passing its stderr through as it comes; fails with that stderr (or
/// its stdout, if stderr is empty) unless it exits with 0.
fn run_forwarding_stderr(cmd: &str) -> anyhow::Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run sh")?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let collect = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let mut errors = String::new();
    for line in BufReader::new(child.stderr.take().context("no stderr")?).split(b'\n') {
        let line = line.context("reading the command's stderr")?;
        let line = String::from_utf8_lossy(&line);
        eprintln!("{line}");
        errors.push_str(&line);
        errors.push('\n');
    }
    let status = child.wait().context("waiting for the command")?;
    let stdout = collect.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let said = match errors.trim() {
        "" => String::from_utf8_lossy(&stdout).trim().to_owned(),
        e => e.to_owned(),
    };
    bail!("failed ({status}): {said}")
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

    #[test]
    fn the_batch_file_lists_every_user_then_every_roster_item() {
        let mut out = Vec::new();
        batch_file(&mut out, Ring::new(6, 2).unwrap(), "localhost", "pw").unwrap();
        let expected = "\
user\tuser0\tlocalhost\tpw
user\tuser1\tlocalhost\tpw
user\tuser2\tlocalhost\tpw
user\tuser3\tlocalhost\tpw
user\tuser4\tlocalhost\tpw
user\tuser5\tlocalhost\tpw
contact\tuser0\tlocalhost\tuser1
contact\tuser0\tlocalhost\tuser5
contact\tuser1\tlocalhost\tuser2
contact\tuser1\tlocalhost\tuser0
contact\tuser2\tlocalhost\tuser3
contact\tuser2\tlocalhost\tuser1
contact\tuser3\tlocalhost\tuser4
contact\tuser3\tlocalhost\tuser2
contact\tuser4\tlocalhost\tuser5
contact\tuser4\tlocalhost\tuser3
contact\tuser5\tlocalhost\tuser0
contact\tuser5\tlocalhost\tuser4
";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[tokio::test]
    async fn the_batch_command_gets_the_file_and_its_failure_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.tsv");
        let t = Templates {
            batch: Some(format!("cp {{file}} {}", copy.display())),
            ..Templates::default()
        };
        let ring = Ring::new(3, 2).unwrap();
        provision(&Provisioner::Command(t), ring, "localhost", "pw", 4096, 1)
            .await
            .unwrap();
        let text = std::fs::read_to_string(&copy).unwrap();
        assert_eq!(text.lines().count(), 3 + 6);
        assert!(text.starts_with("user\tuser0\tlocalhost\tpw\n"));

        let t = Templates {
            batch: Some("echo 'no such roster' >&2; exit 3".into()),
            ..Templates::default()
        };
        let e = provision(&Provisioner::Command(t), ring, "localhost", "pw", 4096, 1)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("no such roster"), "{e:#}");
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
