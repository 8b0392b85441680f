use super::*;

/// The value of the sample `series` (name plus labels exactly as encoded), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

#[test]
fn every_family_is_exported_with_its_type() {
    let metrics = Metrics::new();
    // A family without series is left out; the method names and shards are not known in
    // advance.
    metrics.grpc_client_observe("StanzaIn", Duration::from_millis(1));
    metrics.grpc_server_observe("StanzaIn", Duration::from_millis(1));
    metrics.shard_call_window(2, 48);
    let text = metrics.encode();
    assert_eq!(
        sample(&text, "starling_shard_call_window{shard=\"2\"}"),
        Some(48.0)
    );
    for (name, kind) in [
        ("starling_sessions", "gauge"),
        ("starling_stanzas_in", "counter"),
        ("starling_stanzas_out", "counter"),
        ("starling_grpc_client_duration_seconds", "histogram"),
        ("starling_grpc_server_duration_seconds", "histogram"),
        ("starling_fanout_deliveries", "counter"),
        ("starling_fanout_dropped", "counter"),
        ("starling_fanout_latency_seconds", "histogram"),
        ("starling_dependency_errors", "counter"),
        ("starling_shard_sessions", "gauge"),
        ("starling_shard_calls_waiting", "gauge"),
        ("starling_shard_call_wait_seconds", "histogram"),
        ("starling_shard_call_window", "gauge"),
    ] {
        let line = format!("# TYPE {name} {kind}");
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn known_label_values_start_at_zero() {
    let text = Metrics::new().encode();
    for kind in STANZA_KINDS {
        let series = format!("starling_stanzas_in_total{{kind=\"{kind}\"}}");
        assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        let series = format!("starling_stanzas_out_total{{kind=\"{kind}\"}}");
        assert_eq!(sample(&text, &series), Some(0.0), "{series}");
    }
    for dependency in DEPENDENCIES {
        let series = format!("starling_dependency_errors_total{{dependency=\"{dependency}\"}}");
        assert_eq!(sample(&text, &series), Some(0.0), "{series}");
    }
}

#[test]
fn counters_and_gauges_follow_the_accessors() {
    let metrics = Metrics::new();
    let other = metrics.clone();
    metrics.session_opened();
    metrics.session_opened();
    other.session_closed();
    metrics.stanza_in("message");
    metrics.stanza_in("message");
    metrics.stanza_out("presence");
    metrics.fanout_delivered();
    metrics.fanout_dropped();
    metrics.dependency_error("redis");
    metrics.shard_session_added();
    metrics.shard_session_added();
    metrics.shard_session_removed();
    let text = other.encode();
    assert_eq!(sample(&text, "starling_sessions"), Some(1.0));
    assert_eq!(
        sample(&text, "starling_stanzas_in_total{kind=\"message\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "starling_stanzas_in_total{kind=\"iq\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "starling_stanzas_out_total{kind=\"presence\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "starling_fanout_deliveries_total"), Some(1.0));
    assert_eq!(sample(&text, "starling_fanout_dropped_total"), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "starling_dependency_errors_total{dependency=\"redis\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "starling_shard_sessions"), Some(1.0));
    metrics.set_shard_sessions(42);
    assert_eq!(
        sample(&metrics.encode(), "starling_shard_sessions"),
        Some(42.0)
    );
    metrics.shard_call_wait_began();
    metrics.shard_call_wait_began();
    metrics.shard_call_wait_ended();
    assert_eq!(
        sample(&metrics.encode(), "starling_shard_calls_waiting"),
        Some(1.0)
    );
}

#[test]
fn shard_call_waits_reach_tens_of_seconds() {
    let metrics = Metrics::new();
    metrics.shard_call_waited(Duration::ZERO);
    metrics.shard_call_waited(Duration::from_millis(3));
    metrics.shard_call_waited(Duration::from_secs(36));
    metrics.shard_call_waited(Duration::from_secs(60));
    let text = metrics.encode();
    let bucket = |le: &str| {
        sample(
            &text,
            &format!("starling_shard_call_wait_seconds_bucket{{le=\"{le}\"}}"),
        )
    };
    assert_eq!(bucket("0.0001"), Some(1.0), "{text}");
    assert_eq!(bucket("0.0016"), Some(1.0));
    assert_eq!(bucket("0.0032"), Some(2.0));
    assert_eq!(bucket("26.2144"), Some(2.0));
    assert_eq!(bucket("52.4288"), Some(3.0));
    assert_eq!(bucket("+Inf"), Some(4.0));
    assert_eq!(
        sample(&text, "starling_shard_call_wait_seconds_count"),
        Some(4.0)
    );
}

#[test]
fn histograms_have_latency_buckets_per_method() {
    let metrics = Metrics::new();
    metrics.grpc_client_observe("StanzaIn", Duration::from_micros(700));
    metrics.grpc_client_observe("StanzaIn", Duration::from_secs(10));
    metrics.grpc_server_observe("SessionBound", Duration::from_micros(30));
    metrics.fanout_latency_observe(Duration::from_millis(3));
    let text = metrics.encode();

    let client = "starling_grpc_client_duration_seconds";
    // `le` comes first, then the family's labels.
    let bucket = |name: &str, labels: &str, le: &str| {
        sample(&text, &format!("{name}_bucket{{le=\"{le}\"{labels}}}"))
    };
    let stanza_in = ",method=\"StanzaIn\"";
    assert_eq!(bucket(client, stanza_in, "0.00005"), Some(0.0), "{text}");
    assert_eq!(bucket(client, stanza_in, "0.0008"), Some(1.0));
    assert_eq!(bucket(client, stanza_in, "6.5536"), Some(1.0));
    assert_eq!(bucket(client, stanza_in, "+Inf"), Some(2.0));
    let count = format!("{client}_count{{method=\"StanzaIn\"}}");
    assert_eq!(sample(&text, &count), Some(2.0));
    let server = "starling_grpc_server_duration_seconds";
    assert_eq!(
        bucket(server, ",method=\"SessionBound\"", "0.00005"),
        Some(1.0)
    );
    let fanout = "starling_fanout_latency_seconds";
    assert_eq!(bucket(fanout, "", "0.0016"), Some(0.0));
    assert_eq!(bucket(fanout, "", "0.0032"), Some(1.0));
    // 18 finite bounds and +Inf for every histogram series.
    let stanza_in_buckets = text
        .lines()
        .filter(|l| l.starts_with(&format!("{client}_bucket{{")) && l.contains(stanza_in))
        .count();
    assert_eq!(stanza_in_buckets, 19, "{text}");
}
