use super::*;

fn args() -> DevArgs {
    DevArgs {
        config: None,
        data_dir: None,
        domain: None,
        listen: None,
        listen_tls: None,
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let (config, c2s) = DevConfig::load(&args(), vec![]).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("./starling-data"));
    assert_eq!(c2s.domain, "localhost");
    assert_eq!(c2s.listen.to_string(), "127.0.0.1:5222");
    assert_eq!(c2s.listen_tls.unwrap().to_string(), "127.0.0.1:5223");
    assert!(c2s.tls.required);
}

#[test]
fn file_env_and_flags_layer_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("starling.toml");
    std::fs::write(
        &file,
        "domain = 'file.example'\nlisten = '127.0.0.1:6222'\n[limits]\nmax_connections = 50\n",
    )
    .unwrap();
    let mut a = args();
    a.config = Some(file);
    a.listen = Some("127.0.0.1:7222".parse().unwrap());
    let env = vec![
        ("STARLING_DOMAIN".to_owned(), "Env.Example".to_owned()),
        ("STARLING_LIMITS__STANZA_RATE".to_owned(), "7".to_owned()),
    ];
    let (_, c2s) = DevConfig::load(&a, env).unwrap();
    assert_eq!(c2s.domain, "env.example", "normalized, env over file");
    assert_eq!(c2s.listen.to_string(), "127.0.0.1:7222", "flag over file");
    assert_eq!(c2s.limits.max_connections, 50);
    assert_eq!(c2s.limits.stanza_rate, 7);
}

/// `tls.session_cache` (nested under `[tls]`) is reachable from the environment, so that an
/// operator can turn resumption off (0) without a config file.
#[test]
fn the_tls_session_cache_is_set_from_the_environment() {
    let (_, c2s) = DevConfig::load(&args(), vec![]).unwrap();
    assert_eq!(c2s.tls.session_cache, 256);
    for value in ["0", "4096"] {
        let env = vec![("STARLING_TLS__SESSION_CACHE".to_owned(), value.to_owned())];
        let (_, c2s) = DevConfig::load(&args(), env).unwrap();
        assert_eq!(c2s.tls.session_cache.to_string(), value);
    }
    let env = vec![("STARLING_TLS__SESSION_CACHE".to_owned(), "many".to_owned())];
    let err = DevConfig::load(&args(), env).unwrap_err();
    assert!(err.contains("session_cache"), "{err}");
}

/// The listen backlog: 4096 by default (README), settable, zero refused.
#[test]
fn the_listen_backlog_is_settable_and_not_zero() {
    let (_, c2s) = DevConfig::load(&args(), vec![]).unwrap();
    assert_eq!(c2s.limits.listen_backlog, 4096);
    let env = |v: &str| vec![("STARLING_LIMITS__LISTEN_BACKLOG".to_owned(), v.to_owned())];
    let (_, c2s) = DevConfig::load(&args(), env("512")).unwrap();
    assert_eq!(c2s.limits.listen_backlog, 512);
    let err = DevConfig::load(&args(), env("0")).unwrap_err();
    assert!(err.contains("listen_backlog"), "{err}");
}

/// The bus inbox: 65,536 deliveries by default (README, "Where the time went"), settable,
/// zero refused.
#[test]
fn the_inbox_capacity_is_settable_and_not_zero() {
    let (config, _) = DevConfig::load(&args(), vec![]).unwrap();
    assert_eq!(config.inbox_capacity, 65_536);
    let env = |v: &str| vec![("STARLING_INBOX_CAPACITY".to_owned(), v.to_owned())];
    let (config, _) = DevConfig::load(&args(), env("4096")).unwrap();
    assert_eq!(config.inbox_capacity, 4096);
    let err = DevConfig::load(&args(), env("0")).unwrap_err();
    assert!(err.contains("inbox_capacity"), "{err}");
}

#[test]
fn bad_values_are_one_line_errors() {
    let env = vec![("STARLING_LISTEN".to_owned(), "not an address".to_owned())];
    let err = DevConfig::load(&args(), env).unwrap_err();
    assert!(err.contains("listen"), "{err}");
    assert!(!err.contains('\n'));

    let env = vec![(
        "STARLING_LIMITS__MAX_STANZA_BYTES".to_owned(),
        "10".to_owned(),
    )];
    let err = DevConfig::load(&args(), env).unwrap_err();
    assert!(err.contains("max_stanza_bytes"), "{err}");

    let env = vec![("STARLING_DOMAIN".to_owned(), "bad domain".to_owned())];
    assert!(DevConfig::load(&args(), env).is_err());
}
