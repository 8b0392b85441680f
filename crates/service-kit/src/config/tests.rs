use super::*;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Limits {
    max_connections: u64,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Cfg {
    domain: String,
    limits: Limits,
    tls: bool,
}

impl Default for Cfg {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            limits: Limits { max_connections: 5 },
            tls: true,
        }
    }
}

#[derive(Serialize, Default)]
struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("starling.toml");
    std::fs::write(
        &file,
        "domain = 'file.example'\n[limits]\nmax_connections = 7\n",
    )
    .unwrap();
    let sources = ConfigSources {
        file: Some(file.clone()),
        env: env(&[
            ("STARLING_TLS", "false"),
            ("OTHER", "x"),
            ("STARLING_LOG", "debug"),
            ("STARLING_CLUSTER_C2S", "8"),
            ("STARLING_CLUSTER_C2S_MAX_CONNECTIONS", "12600"),
        ]),
    };
    let cfg: Cfg = load_config(&sources, &Flags::default()).unwrap();
    assert_eq!(cfg.domain, "file.example");
    assert_eq!(cfg.limits.max_connections, 7);
    assert!(!cfg.tls);

    let sources = ConfigSources {
        file: Some(file),
        env: env(&[
            ("STARLING_LIMITS__MAX_CONNECTIONS", "9"),
            ("STARLING_DOMAIN", "env.example"),
        ]),
    };
    let flags = Flags {
        domain: Some("flag.example".into()),
    };
    let cfg: Cfg = load_config(&sources, &flags).unwrap();
    assert_eq!(cfg.domain, "flag.example");
    assert_eq!(cfg.limits.max_connections, 9);
}

#[test]
fn unknown_keys_and_bad_types_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "domian = 'typo'\n").unwrap();
    let sources = ConfigSources {
        file: Some(file),
        env: vec![],
    };
    let err = load_config::<Cfg, _>(&sources, &Flags::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("domian"), "{msg}");
    assert!(!msg.contains('\n'));

    let sources = ConfigSources {
        file: None,
        env: env(&[("STARLING_LIMITS__MAX_CONNECTIONS", "many")]),
    };
    let err = load_config::<Cfg, _>(&sources, &Flags::default()).unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}

#[test]
fn a_named_file_that_does_not_exist_is_an_error() {
    let sources = ConfigSources {
        file: Some("/nonexistent/starling.toml".into()),
        env: vec![],
    };
    assert!(matches!(
        load_config::<Cfg, _>(&sources, &Flags::default()),
        Err(ConfigError::MissingFile(_))
    ));
}
