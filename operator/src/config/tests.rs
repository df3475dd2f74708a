//! Rules between settings. Flags stand in for the environment (same parser); the binary test
//! `kea_config_cli.rs` covers the environment path and the one-line output.

use std::io::Write;

use super::*;

fn parse(extra: &[&str]) -> Result<Config, ParseError> {
    let mut argv = vec!["kea-operator"];
    argv.extend_from_slice(extra);
    Config::parse_from(argv)
}

fn config_err(extra: &[&str]) -> ConfigError {
    match parse(extra) {
        Err(ParseError::Config(e)) => e,
        Err(ParseError::Clap(e)) => panic!("expected a configuration error, got clap's: {e}"),
        Ok(_) => panic!("expected {extra:?} to be refused"),
    }
}

fn temp_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_match_the_spec() {
    let c = parse(&["--kea-url", "http://kea:8000"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "http://kea:8000/");
    assert_eq!(c.kea.timeout, Duration::from_secs(10));
    assert!(c.kea.keepalive);
    assert_eq!(c.kea.operation_target, TargetSetting::Auto);
    assert_eq!(c.kea.ha_write_mode, HaWriteMode::AllServers);
    assert_eq!(c.kea.health_interval, Duration::from_secs(30));
    assert_eq!(c.kea.health_failure_threshold, 2);
    assert_eq!(c.kea.max_in_flight, 8);
    assert_eq!(c.kea.retry, RetryConfig::default());
    assert_eq!(c.kea.breaker, BreakerConfig::default());
    assert_eq!(c.requeue, RequeueConfig::default());
    assert_eq!(c.controller.cleanup_timeout, Duration::from_secs(600));
    assert_eq!(c.controller.resync_interval, Duration::from_secs(300));
    assert!(!c.controller.dry_run);
    assert!(c.leader.elect);
    assert_eq!(c.leader.lease_duration, Duration::from_secs(15));
    assert_eq!(c.http_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(c.log.format, LogFormat::Json);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // KeaConfig::new carries the same defaults as the flags.
    let fresh = KeaConfig::new(c.kea.primary.clone());
    assert_eq!(
        (fresh.timeout, fresh.retry, fresh.breaker, fresh.max_in_flight),
        (c.kea.timeout, c.kea.retry, c.kea.breaker, c.kea.max_in_flight)
    );
    assert_eq!(
        (fresh.health_interval, fresh.health_failure_threshold),
        (c.kea.health_interval, c.kea.health_failure_threshold)
    );
}

#[test]
fn health_failure_threshold_is_a_count_of_at_least_one() {
    for (value, threshold) in [("1", 1), ("3", 3), (" 5 ", 5)] {
        let arg = format!("--kea-health-failure-threshold={value}");
        let c = parse(&["--kea-url", "http://k", &arg]).unwrap();
        assert_eq!(c.kea.health_failure_threshold, threshold, "{value:?}");
    }
    for bad in ["0", "-1", "two", "1.5"] {
        let arg = format!("--kea-health-failure-threshold={bad}");
        let e = config_err(&["--kea-url", "http://k", &arg]);
        assert_eq!(e.variable, "KEA_HEALTH_FAILURE_THRESHOLD", "{bad:?}");
        let line = e.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("KEA_HEALTH_FAILURE_THRESHOLD: expected a whole number of 1 or more")
                && line.contains("e.g. 2"),
            "the variable and the fix: {line}"
        );
    }
}

#[test]
fn url_precedence_url_then_base_url_then_host() {
    let c = parse(&[
        "--kea-url",
        "http://a:1",
        "--kea-base-url",
        "http://b",
        "--kea-host",
        "c",
    ])
    .unwrap();
    assert_eq!(c.kea.primary.as_str(), "http://a:1/");
    assert!(c.warnings.iter().any(|w| w.contains("KEA_URL takes precedence")));

    let c = parse(&["--kea-base-url", "http://b", "--kea-host", "c"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "http://b:8000/");
    let c = parse(&["--kea-base-url", "https://b", "--kea-port", "8443"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "https://b:8443/");
    let c = parse(&["--kea-base-url", "http://b:9000"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "http://b:9000/");
    assert_eq!(
        config_err(&["--kea-base-url", "http://b:9000", "--kea-port", "1"]).variable,
        "KEA_PORT"
    );

    let c = parse(&["--kea-host", "kea.example"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "http://kea.example:8000/");
    let c = parse(&["--kea-host", "::1", "--kea-port", "9", "--kea-tls-enabled"]).unwrap();
    assert_eq!(c.kea.primary.as_str(), "https://[::1]:9/");
    assert_eq!(config_err(&["--kea-host", "kea:8000"]).variable, "KEA_HOST");
    assert_eq!(config_err(&[]).variable, "KEA_URL");
}

#[test]
fn urls_are_refused_with_the_variable_and_never_echo_credentials() {
    for (bad, variable) in [
        ("ftp://kea", "KEA_URL"),
        ("not a url", "KEA_URL"),
        ("http://user:s3cret@kea:8000", "KEA_URL"),
        ("http://kea:8000/?x=1", "KEA_URL"),
    ] {
        let e = config_err(&["--kea-url", bad]);
        assert_eq!(e.variable, variable, "{bad}");
        assert!(!e.to_string().contains("s3cret"));
    }
    let e = config_err(&[
        "--kea-url",
        "http://kea:8000",
        "--kea-secondary-url",
        "http://KEA:8000/x",
    ]);
    assert_eq!(e.variable, "KEA_SECONDARY_URL");
    assert!(e.message.contains("same server"));
}

#[test]
fn basic_auth_rules() {
    let pw = temp_file("hunter2\n");
    let c = parse(&[
        "--kea-url",
        "https://kea",
        "--kea-basic-auth-username",
        "op",
        "--kea-basic-auth-password-file",
        pw.path().to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        c.kea.auth,
        AuthConfig::Basic {
            username: "op".into(),
            password: PasswordSource::File(pw.path().to_path_buf())
        }
    );
    assert!(!format!("{c:?}").contains("hunter2"));

    let c = parse(&[
        "--kea-url",
        "http://kea",
        "--kea-basic-auth-username",
        "op",
        "--kea-basic-auth-password",
        "pw",
    ])
    .unwrap();
    assert!(c.warnings.iter().any(|w| w.contains("clear text")));
    assert!(!format!("{c:?}").contains("\"pw\""));

    let e = config_err(&["--kea-url", "http://kea", "--kea-basic-auth-username", "op"]);
    assert_eq!(e.variable, "KEA_BASIC_AUTH_PASSWORD_FILE");
    let e = config_err(&["--kea-url", "http://kea", "--kea-basic-auth-password", "x"]);
    assert_eq!(e.variable, "KEA_BASIC_AUTH_USERNAME");
    let e = config_err(&[
        "--kea-url",
        "http://kea",
        "--kea-basic-auth-username",
        "op",
        "--kea-basic-auth-password",
        "x",
        "--kea-basic-auth-password-file",
        pw.path().to_str().unwrap(),
    ]);
    assert_eq!(e.variable, "KEA_BASIC_AUTH_PASSWORD");
    let e = config_err(&[
        "--kea-url",
        "http://kea",
        "--kea-basic-auth-username",
        "op",
        "--kea-basic-auth-password-file",
        "/nonexistent/pw",
    ]);
    assert_eq!(e.variable, "KEA_BASIC_AUTH_PASSWORD_FILE");
    assert!(e.message.contains("no such file"));
}

#[test]
fn basic_auth_and_client_certificates_are_exclusive() {
    let cert = temp_file("cert");
    let key = temp_file("key");
    let e = config_err(&[
        "--kea-url",
        "https://kea",
        "--kea-basic-auth-username",
        "op",
        "--kea-basic-auth-password",
        "pw",
        "--kea-tls-cert-file",
        cert.path().to_str().unwrap(),
        "--kea-tls-key-file",
        key.path().to_str().unwrap(),
    ]);
    assert_eq!(e.variable, "KEA_TLS_CERT_FILE");
    assert!(e.message.contains("mutually exclusive"));
    let e = config_err(&[
        "--kea-url",
        "https://kea",
        "--kea-tls-cert-file",
        cert.path().to_str().unwrap(),
    ]);
    assert_eq!(e.variable, "KEA_TLS_KEY_FILE");
}

#[test]
fn tls_options_need_an_https_url() {
    let ca = temp_file("ca");
    let e = config_err(&[
        "--kea-url",
        "http://kea",
        "--kea-tls-ca-file",
        ca.path().to_str().unwrap(),
    ]);
    assert_eq!(e.variable, "KEA_TLS_CA_FILE");
    let e = config_err(&["--kea-url", "http://kea", "--kea-tls-insecure"]);
    assert_eq!(e.variable, "KEA_TLS_INSECURE");
    let e = config_err(&["--kea-url", "http://kea", "--kea-tls-enabled=true"]);
    assert_eq!(e.variable, "KEA_URL");
    let e = config_err(&[
        "--kea-url",
        "https://kea",
        "--kea-secondary-url",
        "http://kea2",
        "--kea-tls-enabled",
    ]);
    assert_eq!(e.variable, "KEA_SECONDARY_URL");
    let c = parse(&["--kea-url", "https://kea", "--kea-tls-insecure=yes"]).unwrap();
    assert!(c.kea.tls.insecure);
    assert!(c.warnings.iter().any(|w| w.contains("NOT verified")));
    let e = config_err(&["--kea-url", "https://kea", "--kea-tls-server-name", "bad name!"]);
    assert_eq!(e.variable, "KEA_TLS_SERVER_NAME");
}

#[test]
fn enumerations_and_bounds() {
    let c = parse(&[
        "--kea-url",
        "http://kea",
        "--kea-operation-target",
        "Database",
        "--kea-ha-write-mode",
        "active-server",
        "--log-format",
        "text",
        "--kea-timeout-seconds",
        "0.5",
        "--dry-run",
    ])
    .unwrap();
    assert_eq!(
        c.kea.operation_target,
        TargetSetting::Fixed(crate::kea::OperationTarget::Database)
    );
    assert_eq!(c.kea.ha_write_mode, HaWriteMode::ActiveServer);
    assert!(c.warnings.iter().any(|w| w.contains("KEA_HA_WRITE_MODE")));
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.kea.timeout, Duration::from_millis(500));
    assert!(c.controller.dry_run);

    assert_eq!(
        config_err(&["--kea-url", "http://k", "--kea-operation-target", "disk"]).variable,
        "KEA_OPERATION_TARGET"
    );
    assert_eq!(
        config_err(&["--kea-url", "http://k", "--kea-ha-write-mode", "both"]).variable,
        "KEA_HA_WRITE_MODE"
    );
    assert_eq!(
        config_err(&["--kea-url", "http://k", "--log-format", "xml"]).variable,
        "LOG_FORMAT"
    );
    assert_eq!(
        config_err(&["--kea-url", "http://k", "--rust-log", "info,[[["]).variable,
        "RUST_LOG"
    );
    assert_eq!(
        config_err(&["--kea-url", "http://k", "--lease-renew-seconds", "20"]).variable,
        "LEASE_RENEW_SECONDS"
    );
    assert_eq!(
        config_err(&[
            "--kea-url",
            "http://k",
            "--kea-retry-initial-ms",
            "5000",
            "--kea-retry-max-seconds",
            "1"
        ])
        .variable,
        "KEA_RETRY_MAX_SECONDS"
    );
    assert_eq!(
        config_err(&["--kea-url", "http://k", "--kea-operator-instance", " x"]).variable,
        "KEA_OPERATOR_INSTANCE"
    );
}

#[test]
fn bad_values_become_one_line_naming_the_variable() {
    for (flag, value, variable) in [
        ("--kea-timeout-seconds", "abc", "KEA_TIMEOUT_SECONDS"),
        ("--kea-port", "0", "KEA_PORT"),
        ("--kea-max-in-flight", "0", "KEA_MAX_IN_FLIGHT"),
        ("--kea-retry-factor", "0.1", "KEA_RETRY_FACTOR"),
        ("--http-addr", "localhost", "HTTP_ADDR"),
        ("--kea-basic-auth-username", " padded", "KEA_BASIC_AUTH_USERNAME"),
    ] {
        let arg = format!("{flag}={value}");
        let e = config_err(&["--kea-url", "http://k", &arg]);
        assert_eq!(e.variable, variable);
        let line = e.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("expected"), "the fix is part of the line: {line}");
    }
    let e = config_err(&["--kea-url", "http://k", "--dry-run=perhaps"]);
    assert_eq!(e.variable, "DRY_RUN");
}

#[test]
fn every_variable_is_a_flag_with_that_environment_name() {
    let command = ConfigArgs::augment_args(clap::Command::new("t"));
    let mut envs: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    envs.sort();
    let mut expected: Vec<String> = ALL_VARIABLES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(envs, expected);
}

#[test]
fn leader_namespace_comes_from_pod_namespace() {
    let c = parse(&["--kea-url", "http://k", "--pod-namespace", "ops"]).unwrap();
    assert_eq!(c.leader.namespace().unwrap(), "ops");
}
