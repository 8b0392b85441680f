//! What `starling dev` and `starling connection-manager` share about the client-facing side:
//! turning their flat settings into a validated [`C2sConfig`], and the TLS certificate and
//! SCRAM decoy secret kept in the data directory unless configured.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use connection_manager::{C2sConfig, Limits, ResourceConflict, TlsSettings};

/// The client-facing settings as both roles name them (flat keys, see `DevConfig`).
#[derive(Debug)]
pub struct C2sSettings<'a> {
    pub domain: &'a str,
    pub listen: SocketAddr,
    pub listen_tls: Option<SocketAddr>,
    pub tls: &'a TlsSettings,
    pub limits: &'a Limits,
    pub resource_conflict: ResourceConflict,
    pub sasl_mechanisms: &'a [String],
}

/// The [`C2sSettings`] of a role configuration that has the client-facing keys as fields
/// (`DevConfig`, `ConnectionManagerConfig`): the two keep flat keys, so the fields are
/// repeated there and borrowed here in one place.
macro_rules! c2s_settings {
    ($config:expr) => {
        $crate::c2s::C2sSettings {
            domain: &$config.domain,
            listen: $config.listen,
            listen_tls: $config.listen_tls,
            tls: &$config.tls,
            limits: &$config.limits,
            resource_conflict: $config.resource_conflict,
            sasl_mechanisms: &$config.sasl_mechanisms,
        }
    };
}
pub(crate) use c2s_settings;

/// Deliveries a connection manager's bus inbox holds by default, in `starling dev` and in a
/// cluster's connection manager alike; a full one holds that many stanzas with their
/// envelopes, some tens of MB (tokio's channel allocates its slots as they fill).
///
/// In one process, a publish to a full inbox waits: one task empties the inbox, and with
/// every session busy tokio's run queue can keep it waiting tens of milliseconds, thousands
/// of deliveries at these rates; a shard call whose publish waits keeps its call slot, and
/// once 64 do, every session waits at the gate between parsing a stanza and handling it,
/// which made each stanza half as dear again, more than the load left room for. With 4,096,
/// one-to-one messages at 45,000–55,000/s and presence at 100,000 deliveries/s fell into
/// that state and stayed there (README, "Where the time went").
///
/// With Redis, which cannot push back, what arrives at a full inbox is dropped. On the local
/// cluster at 80,000 presence deliveries/s, a little more than the machine could write as it
/// came, two runs each, alternating: 4,096 dropped 69,097 and 31,955 deliveries, 65,536
/// none, holding the backlog until it was written
/// (`loadtest/results/presence-n10000-k20/cluster-2026-11-26/`).
pub const DEFAULT_INBOX_CAPACITY: usize = 65_536;

/// Refuses an inbox that could hold nothing.
pub fn check_inbox_capacity(capacity: usize) -> Result<(), String> {
    if capacity == 0 {
        return Err("inbox_capacity must be at least 1".into());
    }
    Ok(())
}

impl C2sSettings<'_> {
    /// The validated configuration, with the domain normalized (RFC 7622 §3.2).
    pub fn validate(&self) -> Result<C2sConfig, String> {
        let domain = xmpp_core::jid::normalize_domainpart(self.domain)
            .map_err(|e| format!("domain {:?} is not a valid domain: {e}", self.domain))?;
        let c2s = C2sConfig {
            domain,
            listen: self.listen,
            listen_tls: self.listen_tls,
            tls: self.tls.clone(),
            limits: self.limits.clone(),
            resource_conflict: self.resource_conflict,
            sasl_mechanisms: self.sasl_mechanisms.to_vec(),
        };
        c2s.validate()?;
        Ok(c2s)
    }
}

/// The TLS server configuration (the configured certificate, or a self-signed one kept in
/// `data_dir/tls`) and the SCRAM decoy secret (kept in `data_dir`; every connection manager
/// of a deployment must share it, see `C2sServer`).
pub fn tls_and_decoy(
    data_dir: &Path,
    c2s: &C2sConfig,
) -> Result<(Arc<rustls::ServerConfig>, [u8; 32]), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;
    let (cert, key) = match (&c2s.tls.cert_file, &c2s.tls.key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => connection_manager::tls::ensure_self_signed(&data_dir.join("tls"), &c2s.domain)
            .map_err(|e| e.to_string())?,
    };
    let tls =
        connection_manager::tls::server_config(&cert, &key, &c2s.tls).map_err(|e| e.to_string())?;
    let decoy_path = data_dir.join("scram-decoy.key");
    let decoy = connection_manager::secrets::ensure_secret(&decoy_path)
        .map_err(|e| format!("cannot read or create {}: {e}", decoy_path.display()))?;
    Ok((tls, decoy))
}
