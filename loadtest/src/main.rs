//! `starling-loadtest`: provisions users with mutual contacts, logs them in at a controlled
//! rate, applies a presence or message load, and checks that every delivery arrived exactly
//! once, measuring latency, throughput and the server's cost along the way.

mod accounting;
mod commands;
mod curve;
mod delay_proxy;
mod driver;
mod machine;
mod merge;
mod plot;
mod procstat;
mod provision;
mod receive;
mod report;
mod scenario;
mod session;
mod socket_floor;
mod stamp;
mod tls;
mod topology;
mod workers;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use xmpp_core::sasl::SaltedPasswordCache;

use crate::driver::Driver;
use crate::provision::{Provisioner, Templates};
use crate::scenario::{Scenario, Timing};
use crate::session::{LoginParams, login_options};
use crate::topology::Ring;
use crate::workers::Workers;

/// mimalloc instead of the system allocator, as in the server: every received stanza is
/// parsed into an element tree and dropped, and with glibc's allocator malloc and free took
/// about a tenth of the generator's CPU time under a presence load (perf, 40,000 deliveries/s);
/// the generator's CPU is taken from the server's machine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sessions one source address carries before the next one is used when spreading is
/// automatic: below the 28k ephemeral ports a single (source, destination) pair allows.
const PER_SOURCE: u32 = 20_000;
/// Descriptors kept free for everything besides the sessions (stores, files, the runtime).
const SPARE_FDS: u64 = 64;
/// Salted passwords the generator keeps (RFC 5802 §5.1). Users provisioned here share one
/// salt; other servers give each user a salt of its own, so against them a run of up to this
/// many users keeps one value per user (about 150 bytes each) and never derives one twice.
const SCRAM_CACHE_CAPACITY: usize = 200_000;

/// Load generator for XMPP servers: presence fan-out and messaging, exact delivery accounting.
#[derive(Debug, Parser)]
#[command(
    name = "starling-loadtest",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    /// The server's client (STARTTLS) port; must be on 127.0.0.0/8.
    #[arg(long, default_value = "127.0.0.1:5222")]
    server: SocketAddr,
    /// XMPP domain of the users.
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Users, one session each: user{O} … user{O+N-1}, O being --first-user.
    #[arg(long, default_value_t = 100)]
    users: u32,
    /// The first user, O. The users' contacts are all among these N users, so that several
    /// generator processes with disjoint partitions (--first-user 0, N, 2N, …, each
    /// provisioned with its own --first-user and --users) can run at once and be merged.
    #[arg(long, default_value_t = 0)]
    first_user: u32,
    /// Mutual contacts per user (even): a ring of ±K/2 neighbours.
    #[arg(long, default_value_t = 10)]
    contacts: u32,
    /// Everyone's password (shell-safe when provisioning by command).
    #[arg(long, default_value = "loadtest-password")]
    password: String,
    /// What to run.
    #[arg(long, value_enum, default_value = "presence")]
    scenario: Scenario,
    /// Measured stanzas per second, in total.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Most measured stanzas, whatever the duration.
    #[arg(long, default_value_t = 10_000_000)]
    max_stanzas: u64,
    /// Logins (and initial presences) per second.
    #[arg(long, default_value_t = 200.0)]
    login_rate: f64,
    /// Seconds the initial presence mesh may take.
    #[arg(long, default_value_t = 60.0)]
    settle: f64,
    /// Seconds deliveries may still arrive after the last send.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// Seconds the whole run may take before it is abandoned (a failure).
    #[arg(long, default_value_t = 900.0)]
    max_run: f64,
    /// Threads the sessions run on, each with a single-threaded runtime of its own. One
    /// measured cheapest beside a server on a 2-core machine (see `workers.rs`); give more
    /// to a generator with cores of its own.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// Unix time (seconds) at which the measured phase starts (the logins, for --scenario
    /// login), so that generator processes run at once measure the same window. Choose it far
    /// enough ahead for provisioning, the logins (--users / --login-rate seconds) and the
    /// initial presence mesh; a run not ready by then fails. --max-run includes the wait.
    #[arg(long, value_name = "UNIX_SECONDS")]
    start_at: Option<u64>,
    /// none | starling-sqlite:PATH | starling-postgres:URL | command.
    #[arg(long, default_value = "none")]
    provision: String,
    /// With --provision command: creates one user, e.g. 'ejabberdctl register {user} {domain} {password}'.
    #[arg(long)]
    provision_user: Option<String>,
    /// With --provision command: adds {contact} to {user}'s roster with subscription both.
    #[arg(long)]
    provision_contact: Option<String>,
    /// With --provision command: one command for everything, e.g.
    /// 'loadtest/servers/prosody provision-batch {file}', preferred over --provision-user
    /// and --provision-contact.
    ///
    /// {file} is the path of a temporary text file (removed afterwards) with one record per
    /// line, fields separated by a tab: first every user,
    /// `user<TAB>NAME<TAB>DOMAIN<TAB>PASSWORD`, then every roster item,
    /// `contact<TAB>NAME<TAB>DOMAIN<TAB>CONTACTNAME` (CONTACTNAME@DOMAIN in NAME@DOMAIN's
    /// roster with subscription both; one line per direction, so two per mutual contact).
    /// The command runs once with `sh -c`; its stderr is passed through, and it must exit
    /// with 0.
    #[arg(long)]
    provision_batch: Option<String>,
    /// SCRAM iterations of provisioned users (Starling stores only); each login costs the
    /// client this many PBKDF2 rounds. RFC 7677 asks for at least 4096.
    #[arg(long, default_value_t = 4096)]
    scram_iterations: u32,
    /// Derive the SCRAM salted password at every login, instead of reusing it when the
    /// server offers a salt and iteration count seen before (RFC 5802 §5.1 lets clients
    /// cache it; users provisioned by this generator in Starling's store share one salt, so
    /// with the cache a login costs the generator one PBKDF2 run in all, not one each).
    #[arg(long)]
    no_scram_cache: bool,
    /// Log in with RFC 6120 SASL, a stream restart and a bind request even where the server
    /// offers SASL2 with Bind 2 (XEP-0388, XEP-0386), which does it in two round trips fewer.
    #[arg(long)]
    no_sasl2: bool,
    /// Provisioning operations in parallel.
    #[arg(long, default_value_t = 8)]
    provision_parallel: usize,
    /// Provision, then exit.
    #[arg(long)]
    provision_only: bool,
    /// PEM file of the certificates to trust (for `starling dev`: its self-signed certificate).
    #[arg(long, conflicts_with = "insecure")]
    ca: Option<PathBuf>,
    /// Accept any server certificate.
    #[arg(long)]
    insecure: bool,
    /// Plain TCP, no STARTTLS (only if the server allows it).
    #[arg(long, conflicts_with_all = ["ca", "insecure"])]
    plain: bool,
    /// TLS from the first byte (XEP-0368, ALPN `xmpp-client`): --server is the server's
    /// direct TLS port, and each login saves STARTTLS's two round trips (the first stream
    /// header and features, `<starttls/>` and `<proceed/>`). Needs --ca or --insecure.
    #[arg(long, conflicts_with = "plain")]
    direct_tls: bool,
    /// Source addresses on 127.0.0.0/8 (repeatable); by default 127.0.0.2, .3, … are used
    /// when there are more than 20 000 users, the kernel's choice otherwise.
    #[arg(long)]
    source: Vec<IpAddr>,
    /// PID of the server, to report its CPU time and memory per session.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Directory for result.json, summary.md and latency.svg.
    #[arg(long, default_value = "loadtest-out")]
    out: PathBuf,
}

/// The main thread's runtime runs the scenario (pacing, sends, waits) and provisioning; the
/// sessions run on [`Workers`].
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Some(command) => commands::run(command).await,
        None => run(args).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("starling-loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let ring = Ring::new(args.users, args.contacts)
        .and_then(|r| r.starting_at(args.first_user))
        .map_err(anyhow::Error::msg)?;
    if args.scenario == Scenario::Messages && ring.k == 0 {
        bail!("the messages scenario needs --contacts of at least 2");
    }
    if !args.server.ip().is_loopback() {
        bail!("--server must be on 127.0.0.0/8: load is only ever generated against this machine");
    }
    let templates =
        (args.provision_user.is_some() || args.provision_batch.is_some()).then(|| Templates {
            user: args.provision_user.clone(),
            contact: args.provision_contact.clone(),
            batch: args.provision_batch.clone(),
        });
    let provisioner = Provisioner::parse(&args.provision, templates)?;
    provision::provision(
        &provisioner,
        ring,
        &args.domain,
        &args.password,
        args.scram_iterations,
        args.provision_parallel,
    )
    .await
    .context("provisioning")?;
    if args.provision_only {
        eprintln!("provisioned {} users with {} contacts each", ring.n, ring.k);
        return Ok(true);
    }
    let tls = match (&args.ca, args.insecure, args.plain) {
        (_, _, true) => None,
        (Some(ca), _, _) => Some(tls::client_config(&tls::Trust::CaFile(ca.clone()))?),
        (None, true, _) => Some(tls::client_config(&tls::Trust::Insecure)?),
        (None, false, false) => bail!("give --ca FILE, --insecure or --plain"),
    };
    let tls = if args.direct_tls {
        tls.map(|config| tls::for_direct_tls(&config))
    } else {
        tls
    };
    let sources = sources(&args.source, ring.n)?;
    ensure_descriptors(
        ring.n,
        "sessions",
        "run several generator processes with fewer users each (--first-user, --start-at, \
         then `merge`), or raise the hard limit",
    )?;
    let params = LoginParams {
        server: args.server,
        domain: args.domain.clone(),
        password: args.password.clone(),
        sources,
        options: login_options(
            tls,
            (!args.no_scram_cache)
                .then(|| Arc::new(SaltedPasswordCache::new(SCRAM_CACHE_CAPACITY))),
            !args.no_sasl2,
            args.direct_tls,
        ),
    };
    let server_before = args
        .server_pid
        .map(|p| {
            procstat::sample(&p.to_string()).with_context(|| {
                format!("reading /proc/{p} (--server-pid): is the server running?")
            })
        })
        .transpose()?;
    let workers = Workers::start(usize::from(args.workers))?;
    let mut driver = Driver::new(params, ring, workers);
    driver.server_pid = args.server_pid;
    let start_us = driver.ledger().start_us();
    let sampler = machine::Sampler::start(start_us, args.server_pid);
    let timing = Timing {
        login_rate: args.login_rate,
        rate: args.rate,
        duration: Duration::from_secs_f64(args.duration),
        max_stanzas: args.max_stanzas,
        settle: Duration::from_secs_f64(args.settle),
        drain: Duration::from_secs_f64(args.drain),
        start_at_us: args.start_at.map(|s| s.saturating_mul(1_000_000)),
    };
    let limit = Duration::from_secs_f64(args.max_run);
    let mut outcome = tokio::time::timeout(limit, scenario::run(&driver, args.scenario, timing))
        .await
        .map_err(|_| anyhow::anyhow!("the run took longer than --max-run {} s", args.max_run))??;
    driver.progress.finish_and_clear();
    let counters = {
        use std::sync::atomic::Ordering::Relaxed;
        (
            driver.counters.disconnects.load(Relaxed),
            driver.counters.errors.load(Relaxed),
        )
    };
    let server = match (args.server_pid, server_before) {
        (Some(pid), Some(before)) => match procstat::sample(&pid.to_string()) {
            Ok(end) => Some((pid, before, outcome.login.server_bound.unwrap_or(end), end)),
            Err(_) => {
                let exited = format!(
                    "the server process (PID {pid}) had exited by the end of the run, so its \
                     CPU and memory are not reported"
                );
                outcome.ended_early = Some(match outcome.ended_early.take() {
                    Some(why) => format!("{why}; {exited}"),
                    None => exited,
                });
                None
            }
        },
        _ => None,
    };
    let sessions = std::mem::take(&mut outcome.sessions);
    let machine = sampler.finish();
    let mut report = {
        let mut ledger = driver.ledger();
        ledger.finish();
        report::Report::new(
            args.scenario,
            ring,
            outcome,
            &ledger,
            counters,
            server,
            procstat::sample("self")?,
        )
    };
    report.machine = machine;
    drop(sessions);
    report.write(&args.out)?;
    let _ = std::io::stdout().write_all(report.markdown().as_bytes());
    Ok(report.ok)
}

/// The source addresses to use: those given, or 127.0.0.2… when one address cannot carry all.
fn sources(given: &[IpAddr], n: u32) -> anyhow::Result<Vec<IpAddr>> {
    if let Some(bad) = given.iter().find(|a| !a.is_loopback()) {
        bail!("--source {bad} is not on 127.0.0.0/8");
    }
    if !given.is_empty() || n <= PER_SOURCE {
        return Ok(given.to_vec());
    }
    let count = n.div_ceil(PER_SOURCE);
    Ok((0..count)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
        .collect())
}

/// Raises the descriptor limit to the hard limit and checks that `n` of `what` fit (with
/// [`SPARE_FDS`] besides); otherwise says how many it may open and `advice`.
pub(crate) fn ensure_descriptors(n: u32, what: &str, advice: &str) -> anyhow::Result<()> {
    let need = u64::from(n) + SPARE_FDS;
    let have = rlimit::increase_nofile_limit(u64::MAX).context("cannot raise RLIMIT_NOFILE")?;
    if have < need {
        bail!(
            "{n} {what} need {need} file descriptors, but this process may open only {have} \
             (the hard limit of RLIMIT_NOFILE); {advice}"
        );
    }
    Ok(())
}
