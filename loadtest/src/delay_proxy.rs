//! `delay-proxy`: a TCP proxy on loopback that holds what crosses it for a set time in each
//! direction, so that a run on one machine can put a service (the cluster's Redis, say) a
//! network's round trip away from the processes that use it. (Where the kernel has the
//! netem queueing discipline, `tc` does this without a process in between; this machine's
//! kernel has no queueing disciplines to add.)
//!
//! Each direction of each connection is read as it arrives and written once its delay has
//! passed, in order; at most [`CHUNKS_IN_FLIGHT`] reads wait per direction, beyond which the
//! proxy stops reading that direction (TCP's own flow control then holds the sender).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Reads of one direction waiting for their time.
const CHUNKS_IN_FLIGHT: usize = 1024;

#[derive(Debug, clap::Args)]
pub struct DelayProxyArgs {
    /// Where to listen (a loopback address).
    #[arg(long)]
    listen: SocketAddr,
    /// Where to forward each connection (a loopback address).
    #[arg(long)]
    upstream: SocketAddr,
    /// The delay of each direction, in milliseconds: a round trip through the proxy takes
    /// twice this (plus up to a millisecond of timer granularity each way).
    #[arg(long, default_value_t = 1.0)]
    delay_ms: f64,
    /// Seconds after which the proxy stops by itself, closing every connection.
    #[arg(long, default_value_t = 3600.0)]
    max_run: f64,
}

/// Forwards connections until `--max-run` has passed.
pub async fn execute(args: &DelayProxyArgs) -> anyhow::Result<bool> {
    if !args.listen.ip().is_loopback() || !args.upstream.ip().is_loopback() {
        bail!("delay-proxy listens and forwards on loopback addresses only");
    }
    if !(args.delay_ms.is_finite() && args.delay_ms >= 0.0) {
        bail!(
            "--delay-ms must be a number of milliseconds, not {}",
            args.delay_ms
        );
    }
    let delay = Duration::from_secs_f64(args.delay_ms / 1000.0);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "delay-proxy: {} -> {}, {} ms each way, for {} s",
        args.listen, args.upstream, args.delay_ms, args.max_run
    );
    let until = Duration::from_secs_f64(args.max_run.max(0.0));
    match tokio::time::timeout(until, serve(listener, args.upstream, delay)).await {
        Ok(Err(error)) => Err(error).context("accepting"),
        _ => Ok(true),
    }
}

/// Forwards each connection `listener` accepts to `upstream`, `delay` each way.
async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
) -> std::io::Result<()> {
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(error) = proxy(client, upstream, delay).await {
                eprintln!("delay-proxy: a connection ended: {error:#}");
            }
        });
    }
}

async fn proxy(client: TcpStream, upstream: SocketAddr, delay: Duration) -> anyhow::Result<()> {
    let server = TcpStream::connect(upstream)
        .await
        .with_context(|| format!("connecting to {upstream}"))?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (up, down) = tokio::join!(
        forward(client_read, server_write, delay),
        forward(server_read, client_write, delay)
    );
    up.and(down)
}

/// Copies `from` to `to`, each read written `delay` after it arrived; shuts `to` down after
/// the end of `from`.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
) -> anyhow::Result<()> {
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let reading = async move {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = from.read(&mut buffer).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            let due = Instant::now() + delay;
            if sender.send((due, buffer[..n].to_vec())).await.is_err() {
                return Ok(());
            }
        }
    };
    let writing = async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    };
    let (read, written) = tokio::join!(reading, writing);
    read?;
    written?;
    Ok(())
}

#[cfg(test)]
mod tests;
