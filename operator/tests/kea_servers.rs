//! The HA server set's routing, retry and breaker logic with operations that never touch the network,
//! under paused tokio time: backoff schedule, breaker open / fail-fast / half-open / recovery,
//! immediate read failover, write fan-out.

mod kea_support;

use std::sync::Arc;
use std::time::Duration;

use kea_operator::config::{HaWriteMode, KeaConfig};
use kea_operator::kea::{
    BreakerState, KeaClient, KeaError, KeaServers, OperationTarget, ServerEvent, ServerId, TargetSetting,
};
use kea_operator::metrics::Metrics;
use parking_lot::Mutex;
use tokio::time::Instant;

/// A pair whose URLs are never contacted (the operations below are fakes).
fn pair(mode: HaWriteMode) -> (KeaServers, Arc<Metrics>) {
    let mut config = KeaConfig::new("http://127.0.0.1:9".parse().expect("URL"))
        .with_secondary("http://127.0.0.1:10".parse().expect("URL"));
    config.operation_target = TargetSetting::Fixed(OperationTarget::Memory);
    config.ha_write_mode = mode;
    let metrics = Arc::new(Metrics::new());
    (
        KeaServers::new(&config, metrics.clone()).expect("server set"),
        metrics,
    )
}

fn network() -> KeaError {
    KeaError::Network {
        reason: "connection refused".into(),
        connect: true,
    }
}

/// Records which server each attempt went to, and when.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(ServerId, Instant)>>>);

impl Log {
    fn note(&self, server: ServerId) {
        self.0.lock().push((server, Instant::now()));
    }
    fn servers(&self) -> Vec<ServerId> {
        self.0.lock().iter().map(|(s, _)| *s).collect()
    }
    fn gaps(&self) -> Vec<Duration> {
        let log = self.0.lock();
        log.windows(2).map(|w| w[1].1 - w[0].1).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_on_the_backoff_schedule_and_count_once() {
    let (servers, metrics) = pair(HaWriteMode::AllServers);
    let log = Log::default();
    let op = |client: KeaClient, _target: OperationTarget| {
        let log = log.clone();
        async move {
            log.note(client.server());
            Err::<(), _>(network())
        }
    };
    let e = servers.on(ServerId::Primary, op).await.unwrap_err();
    assert_eq!(e.category(), "network");
    assert_eq!(log.servers().len(), 5, "KEA_RETRY_ATTEMPTS=5 attempts in all");
    // Delays with equal jitter: [d/2, d] for d = 100, 200, 400, 800 ms.
    for (gap, ceiling) in log.gaps().iter().zip([100u64, 200, 400, 800]) {
        let ceiling = Duration::from_millis(ceiling);
        assert!(
            *gap >= ceiling / 2 && *gap <= ceiling,
            "{gap:?} outside [{:?}, {ceiling:?}]",
            ceiling / 2
        );
    }
    // The call and its retries counted once against the breaker.
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Closed
    );
    assert!(
        metrics
            .render()
            .contains("kea_operator_kea_retries_total{server=\"primary\"} 4")
    );
}

#[tokio::test(start_paused = true)]
async fn non_transient_failures_are_not_retried() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let log = Log::default();
    for error in [
        KeaError::Forbidden,
        KeaError::NotFound {
            command: "reservation-get".into(),
            text: "Host not found.".into(),
        },
        KeaError::Conflict {
            command: "reservation-add".into(),
            kind: kea_operator::kea::ConflictKind::AddressReserved,
            text: "taken".into(),
        },
    ] {
        let before = log.servers().len();
        let op = |client: KeaClient, _| {
            let log = log.clone();
            let error = error.clone();
            async move {
                log.note(client.server());
                Err::<(), _>(error)
            }
        };
        servers.on(ServerId::Primary, op).await.unwrap_err();
        assert_eq!(log.servers().len() - before, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_fails_fast_then_half_opens_and_recovers() {
    let (servers, metrics) = pair(HaWriteMode::AllServers);
    let mut events = servers.subscribe();
    let calls = Log::default();
    let fail = |client: KeaClient, _| {
        let calls = calls.clone();
        async move {
            calls.note(client.server());
            // 403 is a server failure that is not retried: one attempt per call.
            Err::<(), _>(KeaError::Forbidden)
        }
    };
    for _ in 0..5 {
        servers.on(ServerId::Primary, fail).await.unwrap_err();
    }
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Open
    );
    assert!(
        metrics
            .render()
            .contains("kea_operator_circuit_breaker_state{server=\"primary\"} 2")
    );

    // Fail fast: nothing is sent while open.
    let e = servers.on(ServerId::Primary, fail).await.unwrap_err();
    assert!(
        matches!(e, KeaError::CircuitOpen { retry_in } if retry_in == Duration::from_secs(60)),
        "{e:?}"
    );
    assert_eq!(calls.servers().len(), 5);
    assert!(!e.is_retryable());
    assert_eq!(e.requeue_class(), kea_operator::kea::RequeueClass::Network);
    // The other server is not affected.
    servers
        .on(ServerId::Secondary, |_, _| async { Ok(()) })
        .await
        .unwrap();

    // After the reset period: half-open, three trials; a failed trial re-opens for a full period.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::HalfOpen
    );
    servers.on(ServerId::Primary, fail).await.unwrap_err();
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Open
    );
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(matches!(
        servers.on(ServerId::Primary, fail).await,
        Err(KeaError::CircuitOpen { .. })
    ));
    tokio::time::advance(Duration::from_secs(1)).await;

    // Three successful trials close it.
    let ok = |_: KeaClient, _| async { Ok::<_, KeaError>(7) };
    for _ in 0..2 {
        assert_eq!(servers.on(ServerId::Primary, ok).await.unwrap(), 7);
        assert_eq!(
            servers.health(ServerId::Primary).unwrap().breaker,
            BreakerState::HalfOpen
        );
    }
    servers.on(ServerId::Primary, ok).await.unwrap();
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Closed
    );
    assert!(
        metrics
            .render()
            .contains("kea_operator_circuit_breaker_state{server=\"primary\"} 0")
    );
    // The server took nothing while open: closing asks for its re-sync, once.
    let published: Vec<ServerEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert_eq!(published, vec![ServerEvent::Recovered(ServerId::Primary)]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_waiting_while_other_calls_open_the_breaker_sends_nothing_more() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let retried = Log::default();
    let slow = |client: KeaClient, _| {
        let retried = retried.clone();
        async move {
            retried.note(client.server());
            Err::<(), _>(network())
        }
    };
    let forbidden = |_client: KeaClient, _| async { Err::<(), _>(KeaError::Forbidden) };
    let open_it = async {
        // The first call failed and sleeps before its retry; meanwhile five others open the breaker.
        tokio::time::sleep(Duration::from_millis(10)).await;
        for _ in 0..5 {
            servers.on(ServerId::Primary, forbidden).await.unwrap_err();
        }
        assert_eq!(
            servers.health(ServerId::Primary).unwrap().breaker,
            BreakerState::Open
        );
    };
    let (result, ()) = tokio::join!(servers.on(ServerId::Primary, slow), open_it);
    result.unwrap_err();
    assert_eq!(
        retried.servers().len(),
        1,
        "the retry after the breaker opened must not be sent"
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_only_three_concurrent_trials() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    for _ in 0..5 {
        servers
            .on(ServerId::Primary, |_, _| async {
                Err::<(), _>(KeaError::Forbidden)
            })
            .await
            .unwrap_err();
    }
    tokio::time::advance(Duration::from_secs(60)).await;
    let slow = |_: KeaClient, _| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, KeaError>(())
    };
    let results = futures::future::join_all((0..5).map(|_| servers.on(ServerId::Primary, slow))).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(KeaError::CircuitOpen { .. })))
        .count();
    assert_eq!((admitted, refused), (3, 2));
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_fails_over_at_once_and_says_which_server_answered() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let log = Log::default();
    let started = Instant::now();
    let answered = servers
        .read(|client: KeaClient, _| {
            let log = log.clone();
            async move {
                log.note(client.server());
                match client.server() {
                    ServerId::Primary => Err(network()),
                    ServerId::Secondary => Ok("from secondary"),
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(answered.server, ServerId::Secondary);
    assert_eq!(answered.value, "from secondary");
    assert_eq!(log.servers(), vec![ServerId::Primary, ServerId::Secondary]);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no backoff before failing over"
    );
}

#[tokio::test(start_paused = true)]
async fn reads_fail_over_on_5xx_401_timeouts_and_missing_hooks_but_not_on_kea_answers() {
    for (error, fails_over) in [
        (KeaError::ServerError { status: 503 }, true),
        (KeaError::Unauthorized, true),
        (
            KeaError::Timeout {
                after: Duration::from_secs(10),
            },
            true,
        ),
        (
            KeaError::Unsupported {
                command: "lease4-get-by-hw-address".into(),
                text: "not supported".into(),
            },
            true,
        ),
        (
            KeaError::NotFound {
                command: "reservation-get".into(),
                text: "Host not found.".into(),
            },
            false,
        ),
        (
            KeaError::Kea {
                command: "x".into(),
                kind: kea_operator::kea::KeaFailure::Other,
                text: "no".into(),
            },
            false,
        ),
    ] {
        let (servers, _) = pair(HaWriteMode::AllServers);
        let result = servers
            .read(|client: KeaClient, _| {
                let error = error.clone();
                async move {
                    match client.server() {
                        ServerId::Primary => Err(error),
                        ServerId::Secondary => Ok(()),
                    }
                }
            })
            .await;
        assert_eq!(result.is_ok(), fails_over, "{error:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_read_backs_off_only_when_no_server_answers() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let log = Log::default();
    let started = Instant::now();
    let answered = servers
        .read(|client: KeaClient, _| {
            let log = log.clone();
            async move {
                log.note(client.server());
                // Both down for two rounds, then the primary answers.
                if log.servers().len() <= 4 {
                    Err(network())
                } else {
                    Ok(client.server())
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(answered.server, ServerId::Primary);
    assert_eq!(
        log.servers(),
        vec![
            ServerId::Primary,
            ServerId::Secondary,
            ServerId::Primary,
            ServerId::Secondary,
            ServerId::Primary
        ]
    );
    let gaps = log.gaps();
    assert_eq!(gaps[0], Duration::ZERO, "failover within a round is immediate");
    assert!(
        gaps[1] >= Duration::from_millis(50) && gaps[1] <= Duration::from_millis(100),
        "{:?}",
        gaps[1]
    );
    assert!(
        gaps[3] >= Duration::from_millis(100) && gaps[3] <= Duration::from_millis(200),
        "{:?}",
        gaps[3]
    );
    assert!(started.elapsed() <= Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_read_that_no_server_answers_reports_every_server() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let e = servers
        .read(|client: KeaClient, _| async move {
            match client.server() {
                ServerId::Primary => Err::<(), _>(network()),
                ServerId::Secondary => Err(KeaError::Unauthorized),
            }
        })
        .await
        .unwrap_err();
    let KeaError::NoServerAnswered { errors } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        errors.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![ServerId::Primary, ServerId::Secondary]
    );
    assert_eq!(e.category(), "network");
    assert!(
        e.to_string().contains("primary: cannot reach Kea")
            && e.to_string().contains("secondary: Kea refused")
    );
    // The read and its five rounds counted once per server.
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().breaker,
        BreakerState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn reads_skip_an_open_breaker_without_sending() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    for _ in 0..5 {
        servers
            .on(ServerId::Primary, |_, _| async {
                Err::<(), _>(KeaError::Forbidden)
            })
            .await
            .unwrap_err();
    }
    let log = Log::default();
    let answered = servers
        .read(|client: KeaClient, _| {
            let log = log.clone();
            async move {
                log.note(client.server());
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!(answered.server, ServerId::Secondary);
    assert_eq!(log.servers(), vec![ServerId::Secondary]);
}

#[tokio::test(start_paused = true)]
async fn writes_go_to_every_server_and_report_each() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let outcome = servers
        .write(|client: KeaClient, target| async move {
            assert_eq!(target, OperationTarget::Memory);
            match client.server() {
                ServerId::Primary => Ok("added"),
                ServerId::Secondary => Err(KeaError::Forbidden),
            }
        })
        .await;
    assert!(!outcome.all_succeeded());
    assert!(matches!(outcome.get(ServerId::Primary), Some(Ok("added"))));
    assert!(matches!(
        outcome.get(ServerId::Secondary),
        Some(Err(KeaError::Forbidden))
    ));
    let errors: Vec<_> = outcome.errors().map(|(s, _)| s).collect();
    assert_eq!(errors, vec![ServerId::Secondary]);
}

#[tokio::test(start_paused = true)]
async fn writes_run_concurrently_so_a_slow_server_does_not_delay_the_other() {
    let (servers, _) = pair(HaWriteMode::AllServers);
    let finished = Log::default();
    servers
        .write(|client: KeaClient, _| {
            let finished = finished.clone();
            async move {
                if client.server() == ServerId::Secondary {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                finished.note(client.server());
                Ok::<_, KeaError>(())
            }
        })
        .await;
    let log = finished.0.lock().clone();
    assert_eq!(log[0].0, ServerId::Primary);
    assert_eq!(log[1].1 - log[0].1, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn active_server_mode_writes_only_to_the_active_server() {
    let (servers, _) = pair(HaWriteMode::ActiveServer);
    let outcome = servers
        .write(|client: KeaClient, _| async move { Ok::<_, KeaError>(client.server()) })
        .await;
    let results = outcome.into_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].server, ServerId::Primary);
}

#[tokio::test(start_paused = true)]
async fn a_single_server_set_has_no_secondary() {
    let mut config = KeaConfig::new("http://127.0.0.1:9".parse().unwrap());
    config.operation_target = TargetSetting::Fixed(OperationTarget::Database);
    let servers = KeaServers::new(&config, Arc::new(Metrics::new())).unwrap();
    assert_eq!(servers.ids(), vec![ServerId::Primary]);
    let e = servers
        .on(ServerId::Secondary, |_, _| async { Ok::<_, KeaError>(()) })
        .await
        .unwrap_err();
    assert_eq!(e.category(), "config");
    let outcome = servers
        .write(|_, target| async move { Ok::<_, KeaError>(target) })
        .await;
    assert!(matches!(
        outcome.get(ServerId::Primary),
        Some(Ok(OperationTarget::Database))
    ));
}
