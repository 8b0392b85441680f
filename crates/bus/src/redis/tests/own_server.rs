//! `redis-server` processes of a test's own, on loopback ports of their own, so that killing
//! them disturbs nothing else; killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::time::Instant;

use super::*;

/// One `redis-server` child process.
pub(super) struct OwnServer {
    pub(super) port: u16,
    /// For a cluster node: where it keeps its cluster configuration across restarts.
    cluster_dir: Option<PathBuf>,
    /// The one ACL user a server started with [`OwnServer::standalone_for`] lets in.
    user: Option<(&'static str, &'static str)>,
    /// The TLS of a server started with [`OwnServer::standalone_tls`] (or
    /// [`OwnServer::standalone_mtls`]), which accepts TLS connections only.
    tls: Option<ServerTls>,
    child: Option<Child>,
}

/// A self-signed certificate for 127.0.0.1, with its key, in files of their own.
pub(super) struct TestCertificate {
    dir: tempfile::TempDir,
    pem: String,
    key_pem: String,
}

/// What a TLS server of a test's own presents and asks for.
#[derive(Clone)]
pub(super) struct ServerTls {
    certificate: Arc<TestCertificate>,
    /// Set: the server requires a client certificate (`tls-auth-clients yes`) and trusts
    /// this one (and its own, which cluster nodes present to each other).
    client: Option<Arc<TestCertificate>>,
}

impl ServerTls {
    fn new(certificate: TestCertificate, client: Option<Arc<TestCertificate>>) -> Self {
        Self {
            certificate: Arc::new(certificate),
            client,
        }
    }
}

impl TestCertificate {
    /// A certificate whose name (subject and issuer) no other of this process has: a server
    /// trusting two certificates looks a client's issuer up by name, and two of the same
    /// name leave it checking one's signature with the other's key.
    pub(super) fn new() -> Self {
        static ISSUED: AtomicU32 = AtomicU32::new(0);
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("parameters for 127.0.0.1");
        let serial = ISSUED.fetch_add(1, Ordering::Relaxed);
        let name = format!("bus test {} {serial}", std::process::id());
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("a key pair");
        let certificate = params.self_signed(&key).expect("a self-signed certificate");
        let dir = tempfile::tempdir().expect("a directory for the certificate");
        let pem = certificate.pem();
        std::fs::write(dir.path().join("cert.pem"), &pem).expect("writing the certificate");
        let key_pem = key.serialize_pem();
        std::fs::write(dir.path().join("key.pem"), &key_pem).expect("writing the key");
        Self { dir, pem, key_pem }
    }

    /// The certificate's PEM file: the CA file that trusts it.
    pub(super) fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The key's PEM file.
    pub(super) fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// A PEM file holding this certificate and `other`'s: what trusts both.
    fn trusting_also(&self, other: &TestCertificate) -> PathBuf {
        let path = self.dir.path().join("trusted.pem");
        std::fs::write(&path, format!("{}{}", self.pem, other.pem)).expect("writing the bundle");
        path
    }
}

impl OwnServer {
    /// A standalone server on a free port.
    pub(super) async fn standalone() -> Self {
        Self::start(|| (free_port(|_| true), None), None).await
    }

    /// A standalone server on a free port that lets in no one but `user` with `password`
    /// (the `default` user is off); its [`OwnServer::url`] carries the two.
    pub(super) async fn standalone_for(user: &'static str, password: &'static str) -> Self {
        Self::start(|| (free_port(|_| true), None), Some((user, password))).await
    }

    /// A standalone server on a free port that speaks TLS only, with a self-signed
    /// certificate for 127.0.0.1 ([`OwnServer::certificate`]); its [`OwnServer::url`] is a
    /// `rediss://` one.
    pub(super) async fn standalone_tls() -> Self {
        let tls = ServerTls::new(TestCertificate::new(), None);
        Self::start_with(|| (free_port(|_| true), None), None, Some(tls)).await
    }

    /// [`OwnServer::standalone_tls`] that also refuses clients without a certificate, and
    /// trusts `client`'s only.
    pub(super) async fn standalone_mtls(client: Arc<TestCertificate>) -> Self {
        let tls = ServerTls::new(TestCertificate::new(), Some(client));
        Self::start_with(|| (free_port(|_| true), None), None, Some(tls)).await
    }

    /// The certificate of a server started with [`OwnServer::standalone_tls`].
    pub(super) fn certificate(&self) -> &TestCertificate {
        &self.tls.as_ref().expect("a TLS server").certificate
    }

    /// A cluster-enabled server (with no slots yet) keeping its configuration in `dir`,
    /// speaking TLS only (clients and cluster bus alike) if given a certificate. Redis refuses
    /// cluster ports above 55535 (the cluster bus listens on port + 10000).
    async fn cluster_node(dir: &Path, tls: Option<ServerTls>) -> Self {
        Self::start_with(
            || {
                let fits = |port| (1024..=55_535).contains(&port) && bindable(port + 10_000);
                let port = free_port(fits);
                let node_dir = dir.join(port.to_string());
                std::fs::create_dir_all(&node_dir).expect("a directory for the node");
                (port, Some(node_dir))
            },
            None,
            tls,
        )
        .await
    }

    /// A server on the port `choose` picks, picking again if another process took the port
    /// between the choice and the server's start.
    async fn start(
        choose: impl Fn() -> (u16, Option<PathBuf>),
        user: Option<(&'static str, &'static str)>,
    ) -> Self {
        Self::start_with(choose, user, None).await
    }

    async fn start_with(
        choose: impl Fn() -> (u16, Option<PathBuf>),
        user: Option<(&'static str, &'static str)>,
        tls: Option<ServerTls>,
    ) -> Self {
        for _ in 0..10 {
            let (port, cluster_dir) = choose();
            let mut server = Self {
                port,
                cluster_dir,
                user,
                tls: tls.clone(),
                child: None,
            };
            if server.try_start().await {
                return server;
            }
        }
        panic!("could not start redis-server on a free port");
    }

    /// Starts the server on its port again and waits until it answers.
    pub(super) async fn restart(&mut self) {
        assert!(self.try_start().await, "redis-server did not start again");
    }

    pub(super) fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match self.user {
            Some((user, password)) => {
                format!("{scheme}://{user}:{password}@127.0.0.1:{}", self.port)
            }
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// A client of the redis crate for this server, trusting its certificate if it has one
    /// and presenting the client certificate it requires, if it does.
    fn client(&self) -> RedisResult<::redis::Client> {
        match &self.tls {
            Some(tls) => {
                let certificates = ::redis::TlsCertificates {
                    client_tls: tls.client.as_ref().map(|client| ::redis::ClientTlsConfig {
                        client_cert: client.pem.clone().into_bytes(),
                        client_key: client.key_pem.clone().into_bytes(),
                    }),
                    root_cert: Some(tls.certificate.pem.clone().into_bytes()),
                };
                ::redis::Client::build_with_tls(self.url(), certificates)
            }
            None => ::redis::Client::open(self.url()),
        }
    }

    /// Starts the server and waits until it answers; false if the server that answers on
    /// the port is not this one (the port was taken).
    async fn try_start(&mut self) -> bool {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1"]);
        match &self.tls {
            Some(tls) => {
                let certificate = &tls.certificate;
                let (cert, key) = (certificate.cert_file(), certificate.key_file());
                command.args(["--port", "0", "--tls-port", &port]);
                command.arg("--tls-cert-file").arg(&cert);
                command.arg("--tls-key-file").arg(&key);
                match &tls.client {
                    Some(client) => {
                        let trusted = certificate.trusting_also(client);
                        command.arg("--tls-ca-cert-file").arg(trusted);
                        command.args(["--tls-auth-clients", "yes"]);
                    }
                    None => {
                        command.arg("--tls-ca-cert-file").arg(&cert);
                        command.args(["--tls-auth-clients", "no"]);
                    }
                }
                if self.cluster_dir.is_some() {
                    command.args(["--tls-cluster", "yes"]);
                }
            }
            None => {
                command.args(["--port", &port]);
            }
        }
        command.args(["--save", "", "--appendonly", "no"]);
        if let Some((user, password)) = self.user {
            let password = format!(">{password}");
            command.args(["--user", user, "on", &password, "~*", "&*", "+@all"]);
            command.args(["--user", "default", "off"]);
        }
        match &self.cluster_dir {
            Some(dir) => command
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
                .current_dir(dir),
            None => command.current_dir(std::env::temp_dir()),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH (installed with Redis; see scripts/services)");
        let pid = child.id();
        self.child = Some(child);
        let client = self.client().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let info: RedisResult<String> = ::redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut conn)
                    .await;
                if let Ok(info) = info {
                    let ours = info.lines().any(|l| l == format!("process_id:{pid}"));
                    if !ours {
                        self.kill();
                    }
                    return ours;
                }
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited || Instant::now() >= deadline {
                self.kill();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server by its PID (SIGKILL: its clients only see their sockets close).
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("killing redis-server");
            child.wait().expect("reaping redis-server");
        }
    }

    pub(super) async fn command<T: ::redis::FromRedisValue>(&self, cmd: &::redis::Cmd) -> T {
        self.try_command(cmd).await.unwrap()
    }

    /// `CLUSTER NODES`: this node's view of the cluster, a line per node.
    pub(super) async fn cluster_nodes(&self) -> RedisResult<String> {
        self.try_command(::redis::cmd("CLUSTER").arg("NODES")).await
    }

    /// How `CLUSTER NODES` begins this node's address: `ip:port@`, the bus port after `@`.
    pub(super) fn cluster_address(&self) -> String {
        format!("127.0.0.1:{}@", self.port)
    }

    /// [`Self::command`] for reports made after a failure, which must not fail themselves.
    pub(super) async fn try_command<T: ::redis::FromRedisValue>(
        &self,
        cmd: &::redis::Cmd,
    ) -> RedisResult<T> {
        let mut conn = self.client()?.get_multiplexed_async_connection().await?;
        cmd.query_async(&mut conn).await
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The slots of each node of an [`OwnCluster`].
pub(super) const SLOT_RANGES: [(u16, u16); 3] = [(0, 5460), (5461, 10922), (10923, 16383)];

/// A three-node cluster without replicas, its nodes' configuration in a temporary directory.
pub(super) struct OwnCluster {
    pub(super) nodes: Vec<OwnServer>,
    _dir: tempfile::TempDir,
}

impl OwnCluster {
    /// Three nodes, each with a third of the slots and a configuration epoch of its own,
    /// every node knowing every other's epoch before this returns.
    ///
    /// Nodes introduced with `CLUSTER MEET` all start at epoch 0 and settle the collision by
    /// gossip over the cluster's first seconds, one node taking a new epoch at a time. A slot
    /// handed over meanwhile (`CLUSTER SETSLOT … NODE`: the importing node takes an epoch
    /// above the highest it knows of) can go to a node that has not yet heard of the old
    /// owner's new epoch; a claim the old owner sent before it let go then outranks the new
    /// owner, which gives the slot back, and the nodes disagree on its owner for good (2 runs
    /// of 107 of `a_channel_follows_its_slot_to_another_node`, each time with the old owner
    /// holding the highest epoch). Distinct epochs set before the nodes meet, as `redis-cli
    /// --cluster create` sets them, and known to every node before this returns, leave no
    /// collision to settle.
    pub(super) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// [`OwnCluster::start`] with nodes that speak TLS only, with one certificate for
    /// 127.0.0.1.
    pub(super) async fn start_tls() -> Self {
        Self::start_with(Some(ServerTls::new(TestCertificate::new(), None))).await
    }

    /// [`OwnCluster::start_tls`] with nodes that also refuse clients without a certificate,
    /// trusting `client`'s (and their own, on the cluster bus).
    pub(super) async fn start_mtls(client: Arc<TestCertificate>) -> Self {
        Self::start_with(Some(ServerTls::new(TestCertificate::new(), Some(client)))).await
    }

    async fn start_with(tls: Option<ServerTls>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(OwnServer::cluster_node(dir.path(), tls.clone()).await);
        }
        // The slots split in three and an epoch each, then every node introduced to the first.
        for ((node, slots), epoch) in nodes.iter().zip(SLOT_RANGES).zip(1..) {
            let mut set_epoch = ::redis::cmd("CLUSTER");
            set_epoch.arg("SET-CONFIG-EPOCH").arg(epoch);
            node.command::<()>(&set_epoch).await;
            let mut add = ::redis::cmd("CLUSTER");
            add.arg("ADDSLOTSRANGE").arg(slots.0).arg(slots.1);
            node.command::<()>(&add).await;
        }
        for node in &nodes[1..] {
            let mut meet = ::redis::cmd("CLUSTER");
            meet.arg("MEET").arg("127.0.0.1").arg(node.port);
            nodes[0].command::<()>(&meet).await;
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for node in &nodes {
            loop {
                let mut info = ::redis::cmd("CLUSTER");
                info.arg("INFO");
                let info: String = node.command(&info).await;
                let view = node.cluster_nodes().await.unwrap();
                if info.contains("cluster_state:ok") && knows_every_epoch(&view, &nodes) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not form: {info}\n{view}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Self { nodes, _dir: dir }
    }

    pub(super) fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(OwnServer::url).collect()
    }
}

/// Whether `CLUSTER NODES` output `view` lists exactly the nodes of `nodes`, each connected
/// and with the epoch [`OwnCluster::start`] gave it (the first node 1, and so on).
fn knows_every_epoch(view: &str, nodes: &[OwnServer]) -> bool {
    let lines: Vec<Vec<&str>> = view.lines().map(|line| line.split(' ').collect()).collect();
    lines.len() == nodes.len()
        && nodes.iter().zip(1_u64..).all(|(node, epoch)| {
            let address = node.cluster_address();
            lines.iter().any(|fields| {
                fields.len() > 7
                    && fields[1].starts_with(&address)
                    && fields[6].parse() == Ok(epoch)
                    && fields[7] == "connected"
            })
        })
}

/// A loopback port that is free now and satisfies `fits`.
fn free_port(fits: impl Fn(u16) -> bool) -> u16 {
    for candidate in 0..1000_u32 {
        // The system's choice first; then, for ranges it does not use, a spread of others.
        let port = if candidate < 50 {
            TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free loopback port")
                .port()
        } else {
            let spread = std::process::id()
                .wrapping_mul(7919)
                .wrapping_add(candidate * 104_729)
                % 30_000;
            u16::try_from(20_000 + spread).expect("below 50000")
        };
        if fits(port) && bindable(port) {
            return port;
        }
    }
    panic!("no free loopback port found");
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}
