//! The cluster roles' configuration: required settings, validation, and the layering of the
//! file, `STARLING_*` variables and flags.

use super::connection_manager::ConnectionManagerConfig;
use super::roster_presence::RosterPresenceConfig;
use crate::cli::{RoleArgs, ShardArgs};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const BACKENDS: &[(&str, &str)] = &[
    ("STARLING_DATABASE_URL", "postgres://starling@db/starling"),
    ("STARLING_REDIS_URL", "redis://redis:6379"),
];

fn role() -> RoleArgs {
    RoleArgs { config: None }
}

fn shard(shard: Option<u32>, shards: Option<u32>) -> ShardArgs {
    ShardArgs {
        config: None,
        shard,
        shards,
    }
}

#[test]
fn a_connection_manager_needs_its_database_and_redis() {
    let err = ConnectionManagerConfig::load(&role(), vec![]).unwrap_err();
    assert!(err.contains("database_url is required"), "{err}");
    let err = ConnectionManagerConfig::load(
        &role(),
        env(&[("STARLING_DATABASE_URL", "postgres://db/starling")]),
    )
    .unwrap_err();
    assert!(err.contains("redis_url is required"), "{err}");
}

#[test]
fn connection_manager_defaults_are_the_documented_ones() {
    let (config, c2s) = ConnectionManagerConfig::load(&role(), env(BACKENDS)).unwrap();
    assert_eq!(config.shards, 1);
    assert_eq!(
        config.shard_endpoint,
        "http://roster-presence-{shard}.roster-presence:50051"
    );
    assert_eq!(config.http_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(
        (config.heartbeat_interval_ms, config.node_ttl_ms),
        (3000, 10000)
    );
    assert_eq!(c2s.domain, "localhost");
    assert_eq!(config.inbox_capacity, 65_536);
}

/// The bus inbox (README, "Configuration"): settable, zero refused.
#[test]
fn a_connection_managers_inbox_capacity_is_settable_and_not_zero() {
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_INBOX_CAPACITY".into(), "4096".into()));
    let (config, _) = ConnectionManagerConfig::load(&role(), vars).unwrap();
    assert_eq!(config.inbox_capacity, 4096);
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_INBOX_CAPACITY".into(), "0".into()));
    let err = ConnectionManagerConfig::load(&role(), vars).unwrap_err();
    assert!(err.contains("inbox_capacity"), "{err}");
}

#[test]
fn a_liveness_ttl_must_cover_several_heartbeats() {
    let mut vars = env(BACKENDS);
    vars.extend(env(&[
        ("STARLING_HEARTBEAT_INTERVAL_MS", "5000"),
        ("STARLING_NODE_TTL_MS", "10000"),
    ]));
    let err = ConnectionManagerConfig::load(&role(), vars).unwrap_err();
    assert!(err.contains("node_ttl_ms"), "{err}");
}

#[test]
fn environment_sets_cluster_settings_and_zero_shards_is_refused() {
    let mut vars = env(BACKENDS);
    vars.extend(env(&[
        ("STARLING_SHARDS", "3"),
        ("STARLING_SHARD_ENDPOINT", "http://127.0.0.1:2110{shard}"),
        ("STARLING_REDIS_CLUSTER", "true"),
        ("STARLING_REDIS_TLS_CA_FILE", "/etc/starling/redis-ca.pem"),
        (
            "STARLING_REDIS_TLS_CERT_FILE",
            "/etc/starling/redis-client.pem",
        ),
        (
            "STARLING_REDIS_TLS_KEY_FILE",
            "/etc/starling/redis-client-key.pem",
        ),
    ]));
    let (config, _) = ConnectionManagerConfig::load(&role(), vars).unwrap();
    assert_eq!(config.shards, 3);
    assert!(config.redis_cluster);
    let path = |p: &'static str| Some(std::path::PathBuf::from(p));
    assert_eq!(config.redis_tls_ca_file, path("/etc/starling/redis-ca.pem"));
    assert_eq!(
        config.redis_tls_cert_file,
        path("/etc/starling/redis-client.pem")
    );
    assert_eq!(
        config.redis_tls_key_file,
        path("/etc/starling/redis-client-key.pem")
    );
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_SHARDS".into(), "0".into()));
    let err = ConnectionManagerConfig::load(&role(), vars).unwrap_err();
    assert!(err.contains("shards must be at least 1"), "{err}");
}

#[test]
fn the_scripts_variables_are_not_taken_for_settings() {
    let mut vars = env(BACKENDS);
    vars.extend(env(&[
        ("STARLING_PG_PORT", "15432"),
        ("STARLING_CLUSTER_DIR", "/tmp/starling-cluster"),
    ]));
    assert!(ConnectionManagerConfig::load(&role(), vars).is_ok());
}

#[test]
fn a_shard_index_comes_from_the_flags_and_must_exist() {
    let (config, ownership) =
        RosterPresenceConfig::load(&shard(Some(2), Some(3)), env(BACKENDS)).unwrap();
    assert_eq!((config.shard, config.shards), (2, 3));
    assert_eq!((ownership.index, ownership.count.get()), (2, 3));
    let err = RosterPresenceConfig::load(&shard(Some(3), Some(3)), env(BACKENDS)).unwrap_err();
    assert!(
        err.contains("shard 3 does not exist among 3 shards"),
        "{err}"
    );
}

#[test]
fn flags_override_the_environment_for_the_shard() {
    let mut vars = env(BACKENDS);
    vars.extend(env(&[("STARLING_SHARD", "1"), ("STARLING_SHARDS", "4")]));
    let (config, _) = RosterPresenceConfig::load(&shard(Some(3), None), vars).unwrap();
    assert_eq!((config.shard, config.shards), (3, 4));
}

#[test]
fn a_shard_needs_its_database_and_redis_and_a_valid_domain() {
    let err = RosterPresenceConfig::load(&shard(None, None), vec![]).unwrap_err();
    assert!(err.contains("database_url is required"), "{err}");
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_DOMAIN".into(), "not a domain!".into()));
    let err = RosterPresenceConfig::load(&shard(None, None), vars).unwrap_err();
    assert!(err.contains("not a valid domain"), "{err}");
}

/// A shard tolerates many calls cancelled before it accepted them (deadlines passing under
/// load) before closing the connection; the README documents the default; zero is refused.
#[test]
fn a_shard_takes_its_limit_of_cancelled_calls_and_refuses_zero() {
    let (config, _) = RosterPresenceConfig::load(&shard(Some(0), Some(1)), env(BACKENDS)).unwrap();
    assert_eq!(config.grpc_max_pending_resets, 4096);
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_GRPC_MAX_PENDING_RESETS".into(), "100".into()));
    let (config, _) = RosterPresenceConfig::load(&shard(Some(0), Some(1)), vars).unwrap();
    assert_eq!(config.grpc_max_pending_resets, 100);
    let mut vars = env(BACKENDS);
    vars.push(("STARLING_GRPC_MAX_PENDING_RESETS".into(), "0".into()));
    let err = RosterPresenceConfig::load(&shard(Some(0), Some(1)), vars).unwrap_err();
    assert!(
        err.contains("grpc_max_pending_resets must be at least 1"),
        "{err}"
    );
}

/// The routes one stanza sends at once: 16 by default (README), settable, zero refused.
#[test]
fn a_shard_takes_its_routes_in_flight_and_refuses_zero() {
    let (config, _) = RosterPresenceConfig::load(&shard(Some(0), Some(1)), env(BACKENDS)).unwrap();
    assert_eq!(config.max_routes_in_flight, 16);
    let with = |v: &str| {
        let mut vars = env(BACKENDS);
        vars.push(("STARLING_MAX_ROUTES_IN_FLIGHT".into(), v.into()));
        RosterPresenceConfig::load(&shard(Some(0), Some(1)), vars)
    };
    assert_eq!(with("4").unwrap().0.max_routes_in_flight, 4);
    let err = with("0").unwrap_err();
    assert!(
        err.contains("max_routes_in_flight must be at least 1"),
        "{err}"
    );
}

/// The gRPC connection window: 8 MiB by default (README), settable, and within HTTP/2's
/// bounds (RFC 9113 §6.9.1: at least the initial 65,535, at most 2^31 − 1).
#[test]
fn a_shard_takes_its_grpc_connection_window_within_http2_bounds() {
    let (config, _) = RosterPresenceConfig::load(&shard(Some(0), Some(1)), env(BACKENDS)).unwrap();
    assert_eq!(config.grpc_connection_window_bytes, 8 * 1024 * 1024);
    let with = |v: &str| {
        let mut vars = env(BACKENDS);
        vars.push(("STARLING_GRPC_CONNECTION_WINDOW_BYTES".into(), v.into()));
        RosterPresenceConfig::load(&shard(Some(0), Some(1)), vars)
    };
    assert_eq!(
        with("1048576").unwrap().0.grpc_connection_window_bytes,
        1 << 20
    );
    let err = with("65534").unwrap_err();
    assert!(
        err.contains("grpc_connection_window_bytes must be from 65535 to 2147483647"),
        "{err}"
    );
    assert!(with("2147483648").is_err());
}
