//! The threads the sessions run on: single-threaded runtimes, each on a thread of its own,
//! every session (its login, reader and writer) on the runtime its user index picks.
//!
//! Why not tokio's multi-threaded runtime: its workers steal each other's tasks, and a
//! worker that queues a task while another is parked wakes that one to steal it, so a
//! session's handshake steps, reads and writes hop between threads, each hop a futex wake
//! and a context switch. Runtimes that share nothing keep a session on the thread that saw
//! its socket become ready.
//!
//! One runtime is the default (`--workers`). Beside a server on this project's 2-core
//! machine it measured cheapest in both scenarios: 10,000 logins took 2.95–3.07 generator
//! CPU s on one runtime, 3.36–3.45 s on two (three alternating runs each) and 3.78–4.26 s
//! on two work-stealing workers (`loadtest/results/login-n10000/workers/`); at 57,000
//! presence deliveries/s the generator took 0.50–0.52 cores on one runtime, 0.68–0.70 on
//! two and 0.62–0.63 on two work-stealing workers
//! (`loadtest/results/presence-n10000-k20/workers/`). Two busy generator threads contend
//! for the ledger's lock and for the cores the server needs (the server's context switches
//! per 10 s went from 37,000 to 116,000 with two runtimes). A generator with cores of its
//! own can take one runtime per core.
//!
//! What crosses threads is the scenario's sends (a queue push into a session's writer, and a
//! wake-up of its runtime), the ledger's lock and each finished login: a few thousand per
//! second, against the tens of thousands of reads and writes that stay where they are.

use std::thread::JoinHandle;

use anyhow::Context as _;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Runtimes of the sessions, stopped when dropped (the sessions' tasks are cancelled and
/// their sockets closed, as when a process ends).
#[derive(Debug)]
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` (at least one) runtimes, each on a thread of its own.
    pub fn start(n: usize) -> anyhow::Result<Self> {
        let n = n.max(1);
        let mut workers = Workers {
            handles: Vec::with_capacity(n),
            stops: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a worker runtime")?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            let thread = std::thread::Builder::new()
                .name(format!("sessions-{i}"))
                .spawn(move || {
                    // Spawned tasks run while this thread is inside block_on.
                    runtime.block_on(async move {
                        let _ = stopped.await;
                    });
                })
                .context("cannot start a worker thread")?;
            workers.stops.push(stop);
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// The runtime user `index`'s session runs on.
    pub fn of_user(&self, index: u32) -> &Handle {
        &self.handles[index as usize % self.handles.len()]
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_spread_over_the_runtimes_and_stay_on_theirs() {
        let workers = Workers::start(3).unwrap();
        let thread_of = |index: u32| {
            let (tx, rx) = std::sync::mpsc::channel();
            workers.of_user(index).spawn(async move {
                tx.send(std::thread::current().name().map(str::to_owned))
                    .unwrap();
            });
            rx.recv().unwrap().unwrap()
        };
        assert_eq!(thread_of(0), "sessions-0");
        assert_eq!(thread_of(4), "sessions-1");
        assert_eq!(thread_of(5), "sessions-2");
        assert_eq!(thread_of(3), "sessions-0");
    }

    #[test]
    fn tasks_spawned_by_a_session_stay_on_its_runtime() {
        let workers = Workers::start(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        workers.of_user(1).spawn(async move {
            let inner = tokio::spawn(async { std::thread::current().id() });
            tx.send((std::thread::current().id(), inner.await.unwrap()))
                .unwrap();
        });
        let (outer, inner) = rx.recv().unwrap();
        assert_eq!(outer, inner);
    }

    #[test]
    fn zero_means_one_and_dropping_stops_them() {
        let workers = Workers::start(0).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<&str>();
        workers.of_user(7).spawn(async move {
            tx.send("started").unwrap();
            std::future::pending::<()>().await; // tx is dropped when the task is cancelled
        });
        assert_eq!(rx.recv(), Ok("started"));
        drop(workers);
        assert!(
            rx.recv().is_err(),
            "the pending task was cancelled and its sender dropped"
        );
    }
}
