//! One operator in process: `run_with` on the test's client, namespace, shutdown token and an
//! ephemeral HTTP listener, with every timing short (SPEC §5: every timing is a variable).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use kea_operator::config::Config;
use kea_operator::controller::{RunError, RunOptions, run_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{INSTANCE, World};

/// The flags every test operator starts with; a test's own flags replace these by name.
fn default_flags(world: &World) -> BTreeMap<String, String> {
    [
        ("--kea-url", world.primary().url()),
        ("--kea-secondary-url", world.secondary().url()),
        ("--kea-operator-instance", INSTANCE.into()),
        ("--leader-elect", "false".into()),
        ("--pod-namespace", world.ns.clone()),
        ("--kea-health-interval-seconds", "0.5".into()),
        // The sweep runs at start; tests that need it again set a short interval.
        ("--resync-interval-seconds", "600".into()),
        ("--requeue-resource-seconds", "1".into()),
        ("--requeue-network-seconds", "1".into()),
        ("--requeue-auth-seconds", "1".into()),
        ("--requeue-permission-seconds", "1".into()),
        ("--kea-retry-initial-ms", "10".into()),
        ("--kea-retry-max-seconds", "0.2".into()),
        ("--kea-retry-attempts", "2".into()),
        ("--kea-timeout-seconds", "2".into()),
        ("--kea-breaker-reset-seconds", "1".into()),
        ("--kea-cleanup-timeout-seconds", "600".into()),
        ("--health-stall-seconds", "30".into()),
        ("--lease-duration-seconds", "3".into()),
        ("--lease-renew-seconds", "1".into()),
        ("--log-format", "text".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A running operator; stopped (gracefully) by [`Operator::stop`] or, at the latest, on drop.
pub struct Operator {
    token: CancellationToken,
    task: Option<JoinHandle<Result<(), RunError>>>,
    http: SocketAddr,
}

impl Operator {
    pub async fn start(world: &World, flags: &[(&str, &str)]) -> Operator {
        let mut all = default_flags(world);
        for (name, value) in flags {
            all.insert((*name).to_string(), (*value).to_string());
        }
        let args = std::iter::once("kea-operator".to_string())
            .chain(all.into_iter().map(|(k, v)| format!("{k}={v}")));
        let config = Config::parse_from(args).unwrap_or_else(|e| panic!("test operator configuration: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the operator's HTTP listener");
        let http = listener.local_addr().expect("listener address");
        let token = CancellationToken::new();
        let options = RunOptions {
            client: Some(world.client.clone()),
            namespace: Some(world.ns.clone()),
            shutdown: Some(token.clone()),
            http_listener: Some(listener),
        };
        let task = tokio::spawn(run_with(config, options));
        Operator {
            token,
            task: Some(task),
            http,
        }
    }

    /// Cancels the shutdown token and waits for `run_with` to return (it must, within 20 s).
    pub async fn stop(mut self) -> Result<(), RunError> {
        self.token.cancel();
        let task = self.task.take().expect("stopped once");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the operator stops within 20 s of its shutdown token")
            .expect("the operator task does not panic")
    }

    /// Whether `run_with` returned (fail-stop, or a start error).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// `GET path` on the operator's HTTP endpoint: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path).await
    }

    /// The value of one series of `/metrics`, e.g. `kea_operator_leader_status` or
    /// `kea_operator_sweeps_total{server="primary",result="success"}` (labels as rendered).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "/metrics: {body}");
        metric_value(&body, series)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// A minimal HTTP/1.1 GET (one request per connection): enough for the operator's three endpoints.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to the operator's HTTP endpoint {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, dechunk(&body))
}

/// The value of `series` in an OpenMetrics text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// Decodes a chunked body (axum streams /metrics); plain bodies pass through.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if size == 0 {
            return out;
        }
        if after.len() < size {
            return body.to_string();
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}
