//! The operator's HTTP endpoints (SPEC §6): `/healthz`, `/readyz` and `/metrics` on `HTTP_ADDR`.
//!
//! Semantics follow linkerd/kubert rather than an always-200 probe:
//! - `/healthz` is 503 when the reconcile loop has not ticked for the stall threshold *while work is
//!   queued* — a silently stalled watch or worker gets the pod restarted; an idle operator stays healthy.
//! - `/readyz` is 200 only after every watch delivered its first event and at least one Kea server is
//!   usable. Followers of leader election are ready too (they keep their watches warm).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// Shared liveness/readiness state, written by the controller and the Kea health task.
pub struct Health {
    watches_expected: usize,
    watches_synced: AtomicUsize,
    kea_usable: AtomicBool,
    queued: AtomicUsize,
    /// Milliseconds since the Unix epoch of the last reconcile-loop tick.
    last_tick_ms: AtomicI64,
    stall: Duration,
    clock: fn() -> i64,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Health {
    /// `watches` is how many watches must report their first event before the operator is ready.
    pub fn new(watches: usize, stall: Duration) -> Self {
        Self::with_clock(watches, stall, now_ms)
    }

    fn with_clock(watches: usize, stall: Duration, clock: fn() -> i64) -> Self {
        Health {
            watches_expected: watches,
            watches_synced: AtomicUsize::new(0),
            kea_usable: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            last_tick_ms: AtomicI64::new(clock()),
            stall,
            clock,
        }
    }

    /// Called once per watch when it delivers its first event (or initial list completes).
    pub fn watch_synced(&self) {
        self.watches_synced.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_kea_usable(&self, usable: bool) {
        self.kea_usable.store(usable, Ordering::Relaxed);
    }

    /// Called by the reconcile loop whenever it makes progress.
    pub fn tick(&self) {
        self.last_tick_ms.store((self.clock)(), Ordering::Relaxed);
    }

    pub fn set_queued(&self, queued: usize) {
        self.queued.store(queued, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> Result<(), &'static str> {
        if self.watches_synced.load(Ordering::Relaxed) < self.watches_expected {
            return Err("watches have not delivered their first event yet");
        }
        if !self.kea_usable.load(Ordering::Relaxed) {
            return Err("no Kea server is usable");
        }
        Ok(())
    }

    pub fn is_live(&self) -> Result<(), String> {
        let idle_ms = (self.clock)() - self.last_tick_ms.load(Ordering::Relaxed);
        let queued = self.queued.load(Ordering::Relaxed);
        let stall_ms = i64::try_from(self.stall.as_millis()).unwrap_or(i64::MAX);
        if queued > 0 && idle_ms > stall_ms {
            return Err(format!(
                "reconcile loop stalled: no progress for {}s with {queued} object(s) queued",
                idle_ms / 1000
            ));
        }
        Ok(())
    }
}

/// Renders the metrics registry in the OpenMetrics text format.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: MetricsRenderer,
}

pub fn router(health: Arc<Health>, metrics: MetricsRenderer) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics })
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.health.is_live() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.health.is_ready() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let body = (state.metrics)();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves the endpoints until `shutdown`. Binding errors are returned so `run` can report the
/// variable (`HTTP_ADDR`) that caused them.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    metrics: MetricsRenderer,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, health, metrics, shutdown).await
}

/// As [`serve`], on a listener bound by the caller (so a bind error stops the process at start).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: MetricsRenderer,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    }
    axum::serve(listener, router(health, metrics))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use std::sync::atomic::AtomicI64;
    use tower::ServiceExt;

    static FAKE_NOW: AtomicI64 = AtomicI64::new(1_000_000);
    fn fake_clock() -> i64 {
        FAKE_NOW.load(Ordering::SeqCst)
    }

    async fn status(router: &Router, path: &str) -> StatusCode {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.status()
    }

    #[tokio::test]
    async fn ready_only_after_watches_and_a_usable_kea() {
        let health = Arc::new(Health::new(2, Duration::from_secs(60)));
        let router = router(health.clone(), Arc::new(String::new));
        assert_eq!(status(&router, "/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
        health.watch_synced();
        health.set_kea_usable(true);
        assert_eq!(status(&router, "/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
        health.watch_synced();
        assert_eq!(status(&router, "/readyz").await, StatusCode::OK);
        health.set_kea_usable(false);
        assert_eq!(status(&router, "/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn healthz_fails_only_when_stalled_with_work_queued() {
        let health = Arc::new(Health::with_clock(0, Duration::from_secs(60), fake_clock));
        let router = router(health.clone(), Arc::new(String::new));
        FAKE_NOW.fetch_add(120_000, Ordering::SeqCst);
        // Idle for two minutes but nothing queued: healthy.
        assert_eq!(status(&router, "/healthz").await, StatusCode::OK);
        health.set_queued(3);
        assert_eq!(status(&router, "/healthz").await, StatusCode::SERVICE_UNAVAILABLE);
        health.tick();
        assert_eq!(status(&router, "/healthz").await, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_text() {
        let health = Arc::new(Health::new(0, Duration::from_secs(60)));
        let router = router(health, Arc::new(|| "# EOF\n".to_string()));
        let response = router
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with("application/openmetrics-text"));
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"# EOF\n");
    }
}
