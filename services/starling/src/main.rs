//! `starling <role>`: the one binary. This file only parses the command line and hands over to
//! the role; roles are composed in their own modules.

use std::process::ExitCode;

use clap::Parser;

mod c2s;
mod cli;
mod cluster;
mod dev;
mod user;

/// mimalloc instead of the system allocator: on a presence broadcast under load, glibc's
/// malloc and free took about a fifth of the server's CPU time (ARCHITECTURE.md, "Presence
/// broadcast cost"). The `system-allocator` feature keeps the system allocator, for heap
/// profilers that hook malloc (heaptrack: ARCHITECTURE.md, "Memory per session").
///
/// Built with `no_thp`: mimalloc otherwise advises the kernel to back its arenas with 2 MiB
/// transparent huge pages, and on a kernel that honours the advice (THP `madvise` mode, as
/// Debian's) a server with thousands of idle sessions held a quarter more resident memory
/// per session for no measurable gain in CPU. On a host whose THP mode is `always`, set
/// `MIMALLOC_ALLOW_THP=0` as well.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Dev(args) => dev::main(args),
        cli::Command::ConnectionManager(args) => cluster::connection_manager::main(args),
        cli::Command::RosterPresence(args) => cluster::roster_presence::main(args),
        cli::Command::Migrate { database_url } => cluster::migrate::main(database_url),
        cli::Command::User { command } => user::main(command),
    }
}

/// Runs a server role: its configuration, validated before anything starts (a bad one is a
/// one-line error and exit code 2), then `run` on a multi-threaded runtime (a failure is
/// exit code 1).
///
/// `run` is a task on the runtime's workers rather than the future `block_on` polls on the
/// main thread: its accept loop then spawns each connection's task on the worker that
/// accepted it, instead of waking a worker from outside for every connection (and the main
/// thread for every accept).
fn serve<C, F>(config: Result<C, String>, run: impl FnOnce(C) -> F) -> ExitCode
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("starling: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime(true) else {
        return ExitCode::FAILURE;
    };
    let role = runtime.spawn(run(config));
    match runtime.block_on(role) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("starling: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("starling: the server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime of a command, started only after its configuration was validated. A
/// server role wants every core (`multi_thread`); an admin command one thread.
fn runtime(multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("starling: cannot start the runtime: {e}");
            None
        }
    }
}
