//! The real binary: `starling user …` against the embedded store, and `starling dev` serving a
//! client that logs in over TLS with an account added while the server runs.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use xmpp_core::StreamErrorCondition;
use xmpp_stream::client::{ClientError, ClientStream};

const BIN: &str = env!("CARGO_BIN_EXE_starling");

fn starling(args: &[&str], data_dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("STARLING_DATA_DIR")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn user_add_list_passwd_del() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = starling(&["user", "add", "Juliet@Localhost", "--password", "pw1"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = starling(
        &["user", "add", "romeo@example.com", "--password", "pw2"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // RFC 7622 normalization: listed in canonical form, sorted.
    let o = starling(&["user", "list"], d);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        sorted(&["juliet@localhost", "romeo@example.com"])
    );
    let o = starling(&["user", "list", "--domain", "localhost"], d);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "juliet@localhost\n");

    // The same account in another spelling already exists.
    let o = starling(&["user", "add", "juliet@localhost", "--password", "x"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    let o = starling(
        &["user", "passwd", "juliet@localhost", "--password", "new"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = starling(&["user", "del", "juliet@localhost"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = starling(&["user", "del", "juliet@localhost"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
}

fn sorted(items: &[&str]) -> String {
    let mut v = items.to_vec();
    v.sort_unstable_by_key(|s| {
        // The store lists by localpart, then domain.
        let (l, d) = s.split_once('@').unwrap();
        (l.to_owned(), d.to_owned())
    });
    v.iter().map(|s| format!("{s}\n")).collect()
}

#[test]
fn bad_input_to_user_commands_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for jid in ["not a jid@@", "juliet@localhost/resource", "localhost"] {
        let o = starling(&["user", "add", jid, "--password", "pw"], dir.path());
        assert_eq!(o.status.code(), Some(2), "{jid}: {}", stderr(&o));
    }
    let o = starling(
        &[
            "user",
            "add",
            "a@localhost",
            "--password",
            "pw",
            "--iterations",
            "10",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn password_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["user", "add", "nurse@localhost", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let o = starling(&["user", "list"], dir.path());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "nurse@localhost\n");
}

#[test]
fn bad_configuration_exits_with_code_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // (arguments, environment, what the first line must name, whether it is one of our
    // configuration errors, which are one line; clap's usage errors add a hint line)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str, bool);
    let cases: Vec<Case> = vec![
        (
            vec!["dev", "--config", "/nonexistent/starling.toml"],
            vec![],
            "/nonexistent/starling.toml",
            true,
        ),
        (
            vec!["dev"],
            vec![("STARLING_LIMITS__MAX_CONNECTIONS", "many")],
            "max_connections",
            true,
        ),
        (vec!["dev"], vec![("STARLING_TYPO", "1")], "typo", true),
        (
            vec!["dev", "--domain", "not a domain"],
            vec![],
            "not a domain",
            true,
        ),
        (
            vec!["dev"],
            vec![("STARLING_TLS__VERSIONS", "1.1")],
            "versions",
            true,
        ),
        (vec!["dev", "--listen", "nowhere"], vec![], "nowhere", false),
    ];
    for (args, env, names, one_line) in cases {
        let o = Command::new(BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?} {env:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.lines().next().unwrap_or_default().contains(names),
            "{args:?}: {err}"
        );
        if one_line {
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        }
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Kills the server if the test fails before it stops it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn trust(cert: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_serves_an_account_added_while_running_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, tls_addr) = (free_port(), free_port());
    let child = Command::new(BIN)
        .args([
            "dev",
            "--listen",
            &addr.to_string(),
            "--listen-tls",
            &tls_addr.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("STARLING_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut server = Server(Some(child));
    let mut ready = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(tls_addr).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "starling dev did not start listening");

    // Added while the server runs: it can log in at once.
    let o = starling(
        &["user", "add", "romeo@localhost", "--password", "wherefore"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tls = trust(&dir.path().join("tls/self-signed-cert.pem"));
    let (mut stream, jid) = ClientStream::login(
        addr,
        "localhost",
        "romeo",
        "wherefore",
        Some("orchard"),
        Some(tls.clone()),
    )
    .await
    .unwrap();
    assert!(stream.is_tls());
    assert_eq!(jid.as_str(), "romeo@localhost/orchard");

    // Direct TLS with the same self-signed certificate.
    let mut direct = ClientStream::connect_direct_tls(tls_addr, "localhost", tls)
        .await
        .unwrap();
    assert!(direct.mechanisms().contains(&"PLAIN".to_owned()));
    direct.close().await.unwrap();

    // SIGTERM: the session is closed with system-shutdown and the process exits cleanly.
    let mut child = server.0.take().unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    match tokio::time::timeout(Duration::from_secs(10), stream.next_element())
        .await
        .unwrap()
    {
        Err(ClientError::Stream(e)) => {
            assert_eq!(e.condition, StreamErrorCondition::SystemShutdown)
        }
        other => panic!("expected system-shutdown, got {other:?}"),
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
