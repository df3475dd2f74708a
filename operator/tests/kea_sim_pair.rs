//! The HA server set against an in-process kea-sim pair: failover when the primary is down, hangs,
//! answers 5xx or 401; fail-fast while the breaker is open, the half-open trial and recovery; return
//! to the primary; write fan-out with one server failing; restart detection; and
//! `kea-operator check` against a pair whose secondary speaks HTTPS with basic auth.

mod kea_support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kea_operator::config::KeaConfig;
use kea_operator::core::{Host, Mac, SubnetId};
use kea_operator::kea::{BreakerState, KeaClient, KeaError, KeaServers, ServerEvent, ServerId, WriteOutcome};
use kea_operator::metrics::Metrics;
use kea_sim::{Fault, Hooks, KeaSim, KeaSimPair};
use kea_support::crypto;
use kea_support::tls_server::Ca;
use serde_json::{Value, json};
use tokio::sync::broadcast;

fn each(b: kea_sim::KeaSimBuilder) -> kea_sim::KeaSimBuilder {
    b.subnet(1, "10.100.0.0/16").pool(1, "10.100.1.10 - 10.100.1.200")
}

async fn pair() -> KeaSimPair {
    KeaSimPair::builder()
        .primary(each(KeaSim::builder()))
        .secondary(each(KeaSim::builder()))
        .start()
        .await
}

fn fast(pair: &KeaSimPair) -> KeaConfig {
    let mut c = KeaConfig::new(pair.primary().url().parse().expect("URL"))
        .with_secondary(pair.secondary().url().parse().expect("URL"));
    c.timeout = Duration::from_millis(300);
    c.retry.initial = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(40);
    c.breaker.reset = Duration::from_millis(500);
    c.health_interval = Duration::from_millis(100);
    c
}

fn servers(config: &KeaConfig) -> KeaServers {
    KeaServers::new(config, Arc::new(Metrics::new())).expect("server set")
}

fn mac() -> Mac {
    Mac::parse("aa:bb:cc:00:00:01").expect("MAC")
}

async fn read(servers: &KeaServers) -> Result<ServerId, KeaError> {
    servers
        .read(|c: KeaClient, _| async move { c.leases_by_hw_address(mac()).await })
        .await
        .map(|a| a.server)
}

async fn add(servers: &KeaServers) -> WriteOutcome<()> {
    servers
        .write(|c: KeaClient, target| async move {
            let host = Host {
                subnet_id: SubnetId(1),
                hw_address: mac(),
                ip_address: Ipv4Addr::new(10, 100, 1, 50),
                hostname: None,
                user_context: None,
                source: None,
            };
            c.reservation_add(&host, target).await
        })
        .await
}

fn count(sim: &KeaSim, command: &str) -> usize {
    sim.received_commands()
        .iter()
        .filter(|c| c.command.as_deref() == Some(command))
        .count()
}

#[tokio::test]
async fn failover_when_the_primary_is_down_hangs_or_answers_5xx_or_401() {
    for fault in [
        Fault::refuse(None),
        Fault::hang(),
        Fault::http_status(503),
        Fault::http_status(401),
    ] {
        let sims = pair().await;
        let set = servers(&fast(&sims));
        assert_eq!(read(&set).await.unwrap(), ServerId::Primary);
        sims.primary().inject(fault.clone());
        let started = Instant::now();
        assert_eq!(read(&set).await.unwrap(), ServerId::Secondary, "{fault:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{fault:?}: {:?}",
            started.elapsed()
        );
    }
    // Down as in "process gone": the listener is closed.
    let sims = pair().await;
    let set = servers(&fast(&sims));
    sims.primary().set_down(true).await;
    let started = Instant::now();
    assert_eq!(read(&set).await.unwrap(), ServerId::Secondary);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn fail_fast_while_open_then_half_open_trial_and_recovery() {
    let sims = pair().await;
    let set = servers(&fast(&sims));
    sims.primary().inject(Fault::http_status(500));
    for _ in 0..5 {
        assert_eq!(read(&set).await.unwrap(), ServerId::Secondary);
    }
    assert_eq!(set.health(ServerId::Primary).unwrap().breaker, BreakerState::Open);

    // While open, nothing reaches the primary.
    let before = count(sims.primary(), "lease4-get-by-hw-address");
    for _ in 0..10 {
        assert_eq!(read(&set).await.unwrap(), ServerId::Secondary);
    }
    assert_eq!(count(sims.primary(), "lease4-get-by-hw-address"), before);
    let e = set
        .on(ServerId::Primary, |c: KeaClient, _| async move {
            c.status_get().await
        })
        .await
        .unwrap_err();
    assert!(matches!(e, KeaError::CircuitOpen { .. }), "{e:?}");

    // Healed; after the reset period the trial requests go through and close the breaker.
    sims.primary().clear_faults();
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(
        set.health(ServerId::Primary).unwrap().breaker,
        BreakerState::HalfOpen
    );
    for _ in 0..3 {
        assert_eq!(read(&set).await.unwrap(), ServerId::Primary);
    }
    assert_eq!(
        set.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Closed
    );
    assert_eq!(count(sims.primary(), "lease4-get-by-hw-address"), before + 3);
}

async fn next_event(rx: &mut broadcast::Receiver<ServerEvent>) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event within 5 s")
        .expect("open")
}

#[tokio::test]
async fn return_to_the_primary_after_it_recovers_and_is_resynced() {
    let sims = pair().await;
    let set = servers(&fast(&sims));
    let mut events = set.subscribe();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = set.spawn_health_task(cancel.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(set.is_any_usable());

    sims.primary().set_down(true).await;
    assert!(matches!(
        next_event(&mut events).await,
        ServerEvent::Unhealthy(ServerId::Primary, _)
    ));
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Failover {
            from: ServerId::Primary,
            to: ServerId::Secondary
        }
    );
    assert_eq!(read(&set).await.unwrap(), ServerId::Secondary);

    // Back up (the listener reopens; the process kept its state): recovered, not restarted.
    sims.primary().set_down(false).await;
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Recovered(ServerId::Primary)
    );
    assert_eq!(
        set.active(),
        ServerId::Secondary,
        "not before the controller re-synced it"
    );
    set.mark_resynced(ServerId::Primary);
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Failover {
            from: ServerId::Secondary,
            to: ServerId::Primary
        }
    );
    assert_eq!(read(&set).await.unwrap(), ServerId::Primary);
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn writes_go_to_both_servers_and_a_failing_one_is_reported() {
    let sims = pair().await;
    let set = servers(&fast(&sims));
    sims.secondary()
        .inject(Fault::http_status(500).on_command("reservation-add"));
    let outcome = add(&set).await;
    assert!(matches!(outcome.get(ServerId::Primary), Some(Ok(()))));
    assert!(matches!(
        outcome.get(ServerId::Secondary),
        Some(Err(KeaError::ServerError { status: 500 }))
    ));
    assert_eq!(sims.primary().hosts().len(), 1);
    assert!(
        sims.secondary().hosts().is_empty(),
        "HA does not replicate reservations; the write failed there"
    );
    assert_eq!(
        count(sims.secondary(), "reservation-add"),
        5,
        "retried on the failing server"
    );

    sims.secondary().clear_faults();
    let outcome = add(&set).await;
    assert!(
        matches!(
            outcome.get(ServerId::Primary),
            Some(Err(KeaError::Conflict { .. }))
        ),
        "already there"
    );
    assert!(matches!(outcome.get(ServerId::Secondary), Some(Ok(()))));
    assert_eq!(sims.secondary().hosts().len(), 1);
}

#[tokio::test]
async fn a_partner_restart_is_detected() {
    let sims = pair().await;
    let set = servers(&fast(&sims));
    let mut events = set.subscribe();
    set.check_health().await;
    sims.secondary().restart().await.unwrap();
    set.check_health().await;
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Restarted(ServerId::Secondary)
    );
    assert!(set.health(ServerId::Secondary).unwrap().needs_resync);
    assert!(!set.health(ServerId::Primary).unwrap().needs_resync);
}

async fn check(env: &[(&str, &str)], json_output: bool) -> (Option<i32>, String) {
    let mut args = vec!["check"];
    if json_output {
        args.extend(["--output", "json"]);
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kea-operator"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_against_a_sim_pair_with_https_and_basic_auth() {
    crypto();
    let ca = Ca::new("sim ca");
    let identity = ca.server(&["127.0.0.1", "localhost"]);
    let secure = |b: kea_sim::KeaSimBuilder| {
        each(b).basic_auth("operator", "pw").tls(
            identity.cert.as_bytes(),
            identity.key.as_bytes(),
            ca.pem().as_bytes(),
            false,
        )
    };
    let sims = KeaSimPair::builder()
        .primary(secure(KeaSim::builder()))
        .secondary(secure(KeaSim::builder()))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "pw\n").unwrap();
    let primary = sims.primary().url();
    let secondary = sims.secondary().url();
    let base = [
        ("KEA_URL", primary.as_str()),
        ("KEA_SECONDARY_URL", secondary.as_str()),
        ("KEA_TLS_CA_FILE", ca_file.to_str().unwrap()),
        ("KEA_BASIC_AUTH_USERNAME", "operator"),
        ("KEA_BASIC_AUTH_PASSWORD_FILE", password.to_str().unwrap()),
    ];
    let (code, text) = check(&base, false).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("primary https://") && text.contains("secondary https://"),
        "{text}"
    );
    assert!(
        text.contains("10.100.0.0/16") && text.contains("result: OK"),
        "{text}"
    );

    let (code, json) = check(&base, true).await;
    assert_eq!(code, Some(0));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["configuration"]["authentication"], json!("basic"));

    // Wrong password.
    std::fs::write(&password, "nope\n").unwrap();
    let (code, text) = check(&base, false).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("HTTP 401") && !text.contains("nope"), "{text}");
    std::fs::write(&password, "pw\n").unwrap();

    // A server down.
    sims.secondary().set_down(true).await;
    let (code, text) = check(&base, false).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("connection refused"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_when_host_cmds_is_missing() {
    let sim = each(KeaSim::builder())
        .hooks(Hooks {
            lease_cmds: true,
            subnet_cmds: true,
            ..Hooks::default()
        })
        .start()
        .await;
    let url = sim.url();
    let (code, text) = check(&[("KEA_URL", url.as_str())], false).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("hook library host_cmds is not loaded"), "{text}");
}
