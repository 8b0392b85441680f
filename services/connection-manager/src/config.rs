//! Settings of the connection manager. Every limit is explicit, has a default, and is
//! documented with what happens when it is reached.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Connection-manager settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct C2sConfig {
    /// The XMPP domain served (RFC 7622 domainpart); clients address their stream header to it.
    pub domain: String,
    /// Address of the STARTTLS listener (RFC 6120 §5), conventionally port 5222.
    pub listen: SocketAddr,
    /// Address of the direct TLS listener (XEP-0368), conventionally port 5223; `None` disables it.
    pub listen_tls: Option<SocketAddr>,
    /// Certificates and TLS policy.
    pub tls: TlsSettings,
    /// Resource limits.
    pub limits: Limits,
    /// What to do when a client binds a resource that is already bound (RFC 6120 §7.7.2.2).
    pub resource_conflict: ResourceConflict,
    /// SASL mechanisms that may be offered, by IANA name. Each is still offered only where it
    /// is safe: PLAIN only under TLS, the -PLUS variants only with TLS 1.3 channel binding.
    pub sasl_mechanisms: Vec<String>,
}

impl Default for C2sConfig {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            listen: ([127, 0, 0, 1], 5222).into(),
            listen_tls: Some(([127, 0, 0, 1], 5223).into()),
            tls: TlsSettings::default(),
            limits: Limits::default(),
            resource_conflict: ResourceConflict::default(),
            sasl_mechanisms: ALL_MECHANISMS.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// Every SASL mechanism the server implements, strongest first.
pub const ALL_MECHANISMS: &[&str] = &[
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
];

/// TLS settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain. When unset, `starling dev` generates a self-signed certificate
    /// in its data directory on first start and keeps it there.
    pub cert_file: Option<PathBuf>,
    /// PEM private key matching `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Require STARTTLS before authentication on the plain listener (RFC 6120 §5.3.1,
    /// "mandatory-to-negotiate"). Without TLS, PLAIN is never offered.
    pub required: bool,
    /// TLS protocol versions accepted: any of `"1.2"` and `"1.3"`.
    pub versions: Vec<String>,
    /// Sessions kept for resumption (RFC 8446 §2.2, RFC 5077's session IDs on TLS 1.2), the
    /// oldest forgotten first. A resumed handshake sends no certificate and signs nothing;
    /// each entry costs a few hundred bytes, and each TLS 1.3 login is sent two tickets
    /// (rustls's default) to fill it. 0 turns resumption off: no ticket is sent.
    pub session_cache: usize,
    /// Once a handshake is done, protect records with the negotiated keys directly and drop
    /// rustls's per-connection state (its 4 KiB receive buffer among it): about 6 KB less
    /// per idle TLS session. TLS 1.3 keys change as with rustls (a client's KeyUpdate is
    /// followed and answered; ours change before the suite's record limit, RFC 8446 §5.5).
    /// On TLS 1.2, as with rustls, a renegotiation attempt is refused with a
    /// no_renegotiation warning, a second ends the connection, and reaching the suite's
    /// record limit (2^24 AES-GCM records) ends it with a close_notify. `false` keeps
    /// rustls's record layer.
    pub compact_sessions: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            required: true,
            versions: vec!["1.2".into(), "1.3".into()],
            session_cache: 256,
            compact_sessions: true,
        }
    }
}

/// Resource limits of the connection manager.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open client connections. A permit is taken before `accept`, so at the limit new
    /// connections wait in the kernel backlog instead of being accepted and dropped.
    pub max_connections: usize,
    /// Connections the kernel holds for each listener until they are accepted (the `listen`
    /// backlog; Linux caps it at `net.core.somaxconn`). Past it the kernel drops new SYNs or
    /// answers them with SYN cookies, and a dropped client retries after a second: a login
    /// storm of 512 connects at once overflowed the 128 that tokio's `bind` asks for, and
    /// up to one login in twenty waited that second (ARCHITECTURE.md, "Login cost"). The
    /// default is Linux's default `somaxconn`, and the backlog the reference servers get in
    /// `loadtest/`.
    pub listen_backlog: u32,
    /// Largest top-level element (stanza or nonza) in bytes; past it the stream is closed with
    /// `<policy-violation/>` (RFC 6120 §4.9.3.14, §13.12).
    pub max_stanza_bytes: usize,
    /// Deepest element nesting; past it, `<policy-violation/>`.
    pub max_depth: usize,
    /// Most attributes on one element; past it, `<policy-violation/>`.
    pub max_attributes: usize,
    /// Seconds from TCP accept until a resource must be bound; past it the stream is closed
    /// with `<connection-timeout/>`.
    pub handshake_timeout_secs: u64,
    /// Seconds without any inbound byte (whitespace keepalives count) before the stream is
    /// closed with `<connection-timeout/>` (RFC 6120 §4.6.1). 0 disables the check.
    pub idle_timeout_secs: u64,
    /// Seconds of outbound silence after which the server sends a whitespace keepalive
    /// (RFC 6120 §4.6.1) so that NATs and proxies keep the connection. 0 disables it.
    pub keepalive_secs: u64,
    /// Stanzas per second a session may send, sustained. Past it the server stops reading
    /// from that connection until tokens refill (traffic shaping: TCP pushes back on the
    /// client; nothing is dropped). 0 disables the limit.
    pub stanza_rate: u32,
    /// Stanzas a session may send in a burst above `stanza_rate`.
    pub stanza_burst: u32,
    /// Failed SASL attempts allowed on one stream before it is closed with
    /// `<policy-violation/>` (RFC 6120 §6.4.5 asks for 2 to 5).
    pub max_auth_attempts: u32,
    /// Failed resource-binding attempts allowed before `<policy-violation/>` (RFC 6120 §7.7.3
    /// asks for 5 to 10).
    pub max_bind_attempts: u32,
    /// Stanzas queued for one session's socket. When a slow client lets the queue fill, the
    /// session is closed with `<resource-constraint/>` rather than let one reader hold
    /// server memory or slow its senders (senders never wait on a slow reader).
    pub outbound_queue: usize,
    /// Calls to each roster-presence shard in flight from this connection manager, at most
    /// (the window adapts below it: `shard_call_target_ms`). Past it a call waits for one to finish, first come first served, and its session reads nothing
    /// meanwhile (TCP pushes back on the client; a login waits within its handshake
    /// deadline), so that shards that fall behind finish the calls they took within the call
    /// deadline instead of failing all of them (`call_gate.rs`).
    pub max_shard_calls: usize,
    /// The fewest calls to a shard the window of calls in flight shrinks to
    /// (`call_gate.rs`); above `max_shard_calls` it is taken as `max_shard_calls`.
    pub min_shard_calls: usize,
    /// Milliseconds a call to a shard may take before that shard's window of calls in flight
    /// shrinks (to three quarters; it grows back by one per window of calls within the
    /// target), so the bound follows how fast the shard answers, whatever the number of
    /// connection managers. 0 keeps it fixed at `max_shard_calls`.
    pub shard_call_target_ms: u64,
    /// Seconds a shutting-down server waits for streams to close before it exits anyway.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            listen_backlog: 4096,
            max_stanza_bytes: 256 * 1024,
            max_depth: 64,
            max_attributes: 64,
            handshake_timeout_secs: 30,
            idle_timeout_secs: 600,
            keepalive_secs: 60,
            stanza_rate: 200,
            stanza_burst: 400,
            max_auth_attempts: 3,
            max_bind_attempts: 5,
            outbound_queue: 1024,
            max_shard_calls: 64,
            min_shard_calls: 4,
            shard_call_target_ms: 500,
            shutdown_grace_secs: 5,
        }
    }
}

impl Limits {
    /// [`Limits::handshake_timeout_secs`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration, `None` when disabled.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }

    /// [`Limits::keepalive_secs`] as a duration, `None` when disabled.
    pub fn keepalive(&self) -> Option<Duration> {
        (self.keepalive_secs > 0).then(|| Duration::from_secs(self.keepalive_secs))
    }

    /// [`Limits::shard_call_target_ms`] as a duration (zero: the bound is fixed).
    pub fn shard_call_target(&self) -> Duration {
        Duration::from_millis(self.shard_call_target_ms)
    }

    /// Checks values that would make the server unusable.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_connections", self.max_connections),
            ("listen_backlog", self.listen_backlog as usize),
            ("max_stanza_bytes", self.max_stanza_bytes),
            ("max_depth", self.max_depth),
            ("outbound_queue", self.outbound_queue),
            ("max_shard_calls", self.max_shard_calls),
            ("min_shard_calls", self.min_shard_calls),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("limits.{name} must be greater than 0"));
            }
        }
        if self.max_stanza_bytes < 4096 {
            return Err("limits.max_stanza_bytes must be at least 4096 (RFC 6120 §13.12)".into());
        }
        if self.max_auth_attempts == 0 || self.max_bind_attempts == 0 {
            return Err("limits.max_auth_attempts and max_bind_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// RFC 6120 §7.7.2.2: the three permitted answers to a resource conflict.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResourceConflict {
    /// Behaviour #1, the one the RFC encourages: the new session gets the requested resource
    /// with a server-generated suffix; both sessions stay.
    #[default]
    Override,
    /// Behaviour #2: the new binding attempt fails with a `<conflict/>` stanza error.
    Refuse,
    /// Behaviour #3: the old session is closed with a `<conflict/>` stream error and the new
    /// one takes the resource.
    KickOld,
}

impl C2sConfig {
    /// Validates what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        xmpp_core::jid::normalize_domainpart(&self.domain)
            .map_err(|e| format!("domain {:?} is not a valid domain: {e}", self.domain))?;
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err("tls.cert_file and tls.key_file must be given together".into());
        }
        let known_version = |v: &String| matches!(v.as_str(), "1.2" | "1.3");
        if self.tls.versions.is_empty() || !self.tls.versions.iter().all(known_version) {
            return Err(format!(
                "tls.versions must list \"1.2\" and/or \"1.3\", not {:?}",
                self.tls.versions
            ));
        }
        if self.sasl_mechanisms.is_empty() {
            return Err("sasl_mechanisms must name at least one mechanism".into());
        }
        if let Some(m) = self
            .sasl_mechanisms
            .iter()
            .find(|m| !ALL_MECHANISMS.contains(&m.as_str()))
        {
            return Err(format!(
                "unknown SASL mechanism {m:?} (known: {})",
                ALL_MECHANISMS.join(", ")
            ));
        }
        self.limits.validate()
    }
}
