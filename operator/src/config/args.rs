//! The raw settings as clap reads them from flags and the environment (SPEC §5).
//!
//! This struct only parses single values; everything that involves more than one setting (URL
//! precedence, mutually exclusive authentication, TLS options on a plain-HTTP URL, …) is checked in
//! [`super::Config::from_args`], so the rules live in one place and are unit-testable without clap.
//! Every argument is `global` so it may follow a subcommand (`kea-operator check --kea-url …`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use super::parse;

/// Every setting of the process. Flags and environment variables have the same names (`--kea-url`,
/// `KEA_URL`); a flag wins over the variable.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Configuration (each flag also reads the environment variable shown)")]
pub struct ConfigArgs {
    // --- Kea servers -------------------------------------------------------------------------
    /// Primary Kea control URL (preferred over KEA_BASE_URL and KEA_HOST).
    #[arg(long, env = "KEA_URL", global = true)]
    pub kea_url: Option<String>,
    /// Primary Kea base URL without port; KEA_PORT is appended.
    #[arg(long, env = "KEA_BASE_URL", global = true)]
    pub kea_base_url: Option<String>,
    /// Primary Kea host name or address; the URL is built with KEA_PORT and KEA_TLS_ENABLED.
    #[arg(long, env = "KEA_HOST", global = true)]
    pub kea_host: Option<String>,
    /// Port used with KEA_BASE_URL or KEA_HOST [default: 8000].
    #[arg(long, env = "KEA_PORT", global = true, value_parser = parse::port)]
    pub kea_port: Option<u16>,
    /// Secondary (HA partner) Kea control URL.
    #[arg(long, env = "KEA_SECONDARY_URL", global = true)]
    pub kea_secondary_url: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(long, env = "KEA_TIMEOUT_SECONDS", global = true, default_value = "10", value_parser = parse::positive_seconds)]
    pub kea_timeout_seconds: Duration,
    /// Open a new connection for every request.
    #[arg(long, env = "KEA_DISABLE_KEEPALIVES", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse::boolish)]
    pub kea_disable_keepalives: bool,

    // --- authentication ----------------------------------------------------------------------
    /// HTTP basic auth user name.
    #[arg(long, env = "KEA_BASIC_AUTH_USERNAME", global = true, value_parser = parse::plain_text)]
    pub kea_basic_auth_username: Option<String>,
    /// HTTP basic auth password (prefer KEA_BASIC_AUTH_PASSWORD_FILE).
    #[arg(long, env = "KEA_BASIC_AUTH_PASSWORD", global = true, hide_env_values = true)]
    pub kea_basic_auth_password: Option<String>,
    /// File holding the basic auth password; re-read when it changes, so a rotated Secret needs no restart.
    #[arg(long, env = "KEA_BASIC_AUTH_PASSWORD_FILE", global = true)]
    pub kea_basic_auth_password_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, env = "KEA_TLS_CERT_FILE", global = true)]
    pub kea_tls_cert_file: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(long, env = "KEA_TLS_KEY_FILE", global = true)]
    pub kea_tls_key_file: Option<PathBuf>,

    // --- TLS ---------------------------------------------------------------------------------
    /// CA bundle (PEM) trusted for Kea's server certificate [default: the Mozilla roots].
    #[arg(long, env = "KEA_TLS_CA_FILE", global = true)]
    pub kea_tls_ca_file: Option<PathBuf>,
    /// Use HTTPS for URLs built from KEA_HOST.
    #[arg(long, env = "KEA_TLS_ENABLED", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse::boolish)]
    pub kea_tls_enabled: bool,
    /// Accept any server certificate (testing only; logged as a warning).
    #[arg(long, env = "KEA_TLS_INSECURE", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse::boolish)]
    pub kea_tls_insecure: bool,
    /// Name the server certificate must carry, when it differs from the URL's host.
    #[arg(long, env = "KEA_TLS_SERVER_NAME", global = true, value_parser = parse::plain_text)]
    pub kea_tls_server_name: Option<String>,

    // --- Kea operations ----------------------------------------------------------------------
    /// Where reservations are written: auto, memory, database, all or default (Kea decides).
    #[arg(long, env = "KEA_OPERATION_TARGET", global = true, default_value = "auto")]
    pub kea_operation_target: String,
    /// Send config-write after changes so memory-only reservations survive a Kea restart.
    #[arg(long, env = "KEA_CONFIG_WRITE", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse::boolish)]
    pub kea_config_write: bool,
    /// Debounce of config-write per server, in milliseconds.
    #[arg(long, env = "KEA_CONFIG_WRITE_DEBOUNCE_MS", global = true, default_value = "1000", value_parser = parse::millis)]
    pub kea_config_write_debounce_ms: Duration,
    /// all-servers (every partner gets every reservation) or active-server (partners share one hosts database).
    #[arg(long, env = "KEA_HA_WRITE_MODE", global = true, default_value = "all-servers")]
    pub kea_ha_write_mode: String,
    /// Seconds between health checks of each Kea server.
    #[arg(long, env = "KEA_HEALTH_INTERVAL_SECONDS", global = true, default_value = "30", value_parser = parse::positive_seconds)]
    pub kea_health_interval_seconds: Duration,
    /// Consecutive failed health checks (5xx, timeout, malformed answer) before a server is marked
    /// unhealthy; a refused connection marks it at once. 1: the first failure.
    #[arg(long, env = "KEA_HEALTH_FAILURE_THRESHOLD", global = true, default_value = "2", value_parser = parse::failure_threshold)]
    pub kea_health_failure_threshold: u32,
    /// Requests in flight per Kea server (Kea shares its threads with DHCP service).
    #[arg(long, env = "KEA_MAX_IN_FLIGHT", global = true, default_value = "8", value_parser = parse::positive_count)]
    pub kea_max_in_flight: u32,
    /// First retry delay in milliseconds.
    #[arg(long, env = "KEA_RETRY_INITIAL_MS", global = true, default_value = "100", value_parser = parse::positive_millis)]
    pub kea_retry_initial_ms: Duration,
    /// Factor between consecutive retry delays.
    #[arg(long, env = "KEA_RETRY_FACTOR", global = true, default_value = "2.0", value_parser = parse::backoff_factor)]
    pub kea_retry_factor: f64,
    /// Upper bound of one retry delay, in seconds.
    #[arg(long, env = "KEA_RETRY_MAX_SECONDS", global = true, default_value = "30", value_parser = parse::positive_seconds)]
    pub kea_retry_max_seconds: Duration,
    /// Attempts per call, the first included.
    #[arg(long, env = "KEA_RETRY_ATTEMPTS", global = true, default_value = "5", value_parser = parse::positive_count)]
    pub kea_retry_attempts: u32,
    /// Consecutive failed calls that open a server's circuit breaker.
    #[arg(long, env = "KEA_BREAKER_FAILURES", global = true, default_value = "5", value_parser = parse::positive_count)]
    pub kea_breaker_failures: u32,
    /// Seconds an open breaker waits before admitting trial requests.
    #[arg(long, env = "KEA_BREAKER_RESET_SECONDS", global = true, default_value = "60", value_parser = parse::positive_seconds)]
    pub kea_breaker_reset_seconds: Duration,
    /// Trial requests admitted while half-open; that many successes close the breaker.
    #[arg(long, env = "KEA_BREAKER_HALF_OPEN_REQUESTS", global = true, default_value = "3", value_parser = parse::positive_count)]
    pub kea_breaker_half_open_requests: u32,

    // --- controller --------------------------------------------------------------------------
    /// How long deletion waits for an unreachable server before releasing the finalizer.
    #[arg(long, env = "KEA_CLEANUP_TIMEOUT_SECONDS", global = true, default_value = "600", value_parser = parse::positive_seconds)]
    pub kea_cleanup_timeout_seconds: Duration,
    /// Seconds between sweeps of every server's reservations.
    #[arg(long, env = "RESYNC_INTERVAL_SECONDS", global = true, default_value = "300", value_parser = parse::positive_seconds)]
    pub resync_interval_seconds: Duration,
    /// NetworkConfigurations reconciled at the same time.
    #[arg(long, env = "MAX_CONCURRENT_RECONCILES", global = true, default_value = "16", value_parser = parse::positive_count)]
    pub max_concurrent_reconciles: u32,
    /// Log and count intended writes, make none.
    #[arg(long, env = "DRY_RUN", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse::boolish)]
    pub dry_run: bool,
    /// This installation's name in the reservations' owner marker.
    #[arg(
        long,
        env = "KEA_OPERATOR_INSTANCE",
        global = true,
        default_value = "kea-operator"
    )]
    pub kea_operator_instance: String,
    /// Requeue after a network or timeout failure, seconds.
    #[arg(long, env = "REQUEUE_NETWORK_SECONDS", global = true, default_value = "30", value_parser = parse::positive_seconds)]
    pub requeue_network_seconds: Duration,
    /// Requeue after an authentication failure, seconds.
    #[arg(long, env = "REQUEUE_AUTH_SECONDS", global = true, default_value = "300", value_parser = parse::positive_seconds)]
    pub requeue_auth_seconds: Duration,
    /// Requeue after a permission failure, seconds.
    #[arg(long, env = "REQUEUE_PERMISSION_SECONDS", global = true, default_value = "600", value_parser = parse::positive_seconds)]
    pub requeue_permission_seconds: Duration,
    /// Requeue while a resource (namespace, prefix, subnet, lease) is missing, seconds.
    #[arg(long, env = "REQUEUE_RESOURCE_SECONDS", global = true, default_value = "60", value_parser = parse::positive_seconds)]
    pub requeue_resource_seconds: Duration,

    // --- leader election, HTTP, logging ------------------------------------------------------
    /// Elect a leader on a coordination.k8s.io Lease; only the leader writes.
    #[arg(long, env = "LEADER_ELECT", global = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse::boolish)]
    pub leader_elect: bool,
    /// Lease duration, seconds.
    #[arg(long, env = "LEASE_DURATION_SECONDS", global = true, default_value = "15", value_parser = parse::positive_seconds)]
    pub lease_duration_seconds: Duration,
    /// Lease renew interval, seconds (less than the duration).
    #[arg(long, env = "LEASE_RENEW_SECONDS", global = true, default_value = "5", value_parser = parse::positive_seconds)]
    pub lease_renew_seconds: Duration,
    /// Namespace of the leader Lease (the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE", global = true, value_parser = parse::plain_text)]
    pub pod_namespace: Option<String>,
    /// /healthz fails when the reconcile loop has not ticked for this long while work is queued.
    #[arg(long, env = "HEALTH_STALL_SECONDS", global = true, default_value = "60", value_parser = parse::positive_seconds)]
    pub health_stall_seconds: Duration,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "HTTP_ADDR", global = true, default_value = "0.0.0.0:8080", value_parser = parse::socket_addr)]
    pub http_addr: SocketAddr,
    /// json (in cluster) or text.
    #[arg(long, env = "LOG_FORMAT", global = true, default_value = "json")]
    pub log_format: String,
    /// Log filter, tracing-subscriber syntax.
    #[arg(long = "rust-log", env = "RUST_LOG", global = true, default_value = "info")]
    pub rust_log: String,
}
