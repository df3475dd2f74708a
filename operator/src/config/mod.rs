//! The whole process configuration (SPEC §5): every environment variable, each also a flag.
//!
//! Two steps: clap reads single values ([`ConfigArgs`]), then [`Config::from_args`] applies the rules
//! between settings and produces typed, validated structs. Whatever is refused stops the process at
//! start with one line naming the variable and the fix ([`ConfigError`]); nothing here panics.
//! Settings that are legal but probably unintended (a URL that shadows another, basic auth over plain
//! HTTP, insecure TLS) end up in [`Config::warnings`], logged once logging is up.
//!
//! File *contents* (certificates, keys) are checked where they are used, in `kea::tls`, with errors
//! that name the variable in the same way.

mod args;
mod parse;
mod secret;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches};
use reqwest::Url;

pub use args::ConfigArgs;
pub use secret::Secret;

use crate::kea::TargetSetting;

/// Port of URLs built from `KEA_BASE_URL` or `KEA_HOST` when `KEA_PORT` is not set (the seed's default).
pub const DEFAULT_KEA_PORT: u16 = 8000;

/// A refused setting. `Display` is the one line the process prints before it exits with code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault (its flag has the same name in kebab case).
    pub variable: &'static str,
    /// What is wrong and how to fix it. Never contains a credential.
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            variable,
            message: message.into(),
        }
    }

    /// Bounded label for metrics.
    pub fn category(&self) -> &'static str {
        "config"
    }

    /// Turns clap's multi-line error for a bad value into our one line naming the variable. Returns
    /// `None` for errors that are not about a configuration value (help, version, unknown flags),
    /// which clap should print itself.
    pub fn from_clap(err: &clap::Error) -> Option<ConfigError> {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        if !matches!(err.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
            return None;
        }
        let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
            return None;
        };
        // `--kea-port <KEA_PORT>`, `--dry-run[=<DRY_RUN>]`
        let long = arg.trim_start_matches('-').split([' ', '=', '[']).next()?;
        let command = ConfigArgs::augment_args(clap::Command::new("kea-operator"));
        let spec = command.get_arguments().find(|a| a.get_long() == Some(long))?;
        let variable = env_name(spec.get_env()?.to_str()?)?;
        let reason = std::error::Error::source(err)
            .map(ToString::to_string)
            .unwrap_or_else(|| "value not accepted".to_string());
        // The value itself is not echoed: it may be a password.
        Some(ConfigError::new(variable, reason))
    }
}

/// Maps a variable name to the `'static` name used in [`ConfigError`]; only variables of this crate.
fn env_name(name: &str) -> Option<&'static str> {
    ALL_VARIABLES.iter().copied().find(|v| *v == name)
}

/// Every environment variable the process reads (SPEC §5), for docs and error messages.
pub const ALL_VARIABLES: &[&str] = &[
    "KEA_URL",
    "KEA_BASE_URL",
    "KEA_HOST",
    "KEA_PORT",
    "KEA_SECONDARY_URL",
    "KEA_TIMEOUT_SECONDS",
    "KEA_DISABLE_KEEPALIVES",
    "KEA_BASIC_AUTH_USERNAME",
    "KEA_BASIC_AUTH_PASSWORD",
    "KEA_BASIC_AUTH_PASSWORD_FILE",
    "KEA_TLS_CERT_FILE",
    "KEA_TLS_KEY_FILE",
    "KEA_TLS_CA_FILE",
    "KEA_TLS_ENABLED",
    "KEA_TLS_INSECURE",
    "KEA_TLS_SERVER_NAME",
    "KEA_OPERATION_TARGET",
    "KEA_CONFIG_WRITE",
    "KEA_CONFIG_WRITE_DEBOUNCE_MS",
    "KEA_HA_WRITE_MODE",
    "KEA_HEALTH_INTERVAL_SECONDS",
    "KEA_HEALTH_FAILURE_THRESHOLD",
    "KEA_MAX_IN_FLIGHT",
    "KEA_RETRY_INITIAL_MS",
    "KEA_RETRY_FACTOR",
    "KEA_RETRY_MAX_SECONDS",
    "KEA_RETRY_ATTEMPTS",
    "KEA_BREAKER_FAILURES",
    "KEA_BREAKER_RESET_SECONDS",
    "KEA_BREAKER_HALF_OPEN_REQUESTS",
    "KEA_CLEANUP_TIMEOUT_SECONDS",
    "RESYNC_INTERVAL_SECONDS",
    "MAX_CONCURRENT_RECONCILES",
    "DRY_RUN",
    "KEA_OPERATOR_INSTANCE",
    "REQUEUE_NETWORK_SECONDS",
    "REQUEUE_AUTH_SECONDS",
    "REQUEUE_PERMISSION_SECONDS",
    "REQUEUE_RESOURCE_SECONDS",
    "LEADER_ELECT",
    "LEASE_DURATION_SECONDS",
    "LEASE_RENEW_SECONDS",
    "POD_NAMESPACE",
    "HEALTH_STALL_SECONDS",
    "HTTP_ADDR",
    "LOG_FORMAT",
    "RUST_LOG",
];

/// The validated configuration of the process.
#[derive(Debug, Clone)]
pub struct Config {
    pub kea: KeaConfig,
    pub controller: ControllerConfig,
    pub requeue: RequeueConfig,
    pub leader: LeaderConfig,
    /// `HTTP_ADDR`: `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    pub log: LogConfig,
    /// Accepted but suspicious settings, to log at start (never containing credentials).
    pub warnings: Vec<String>,
}

/// How to reach and use the Kea servers.
#[derive(Debug, Clone)]
pub struct KeaConfig {
    /// The primary server (`KEA_URL` > `KEA_BASE_URL`+`KEA_PORT` > `KEA_HOST`+`KEA_PORT`).
    pub primary: Url,
    /// The HA partner (`KEA_SECONDARY_URL`).
    pub secondary: Option<Url>,
    /// Per-request timeout (`KEA_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// `!KEA_DISABLE_KEEPALIVES`.
    pub keepalive: bool,
    pub auth: AuthConfig,
    pub tls: TlsConfig,
    pub operation_target: TargetSetting,
    /// `KEA_CONFIG_WRITE`: send `config-write` after changes (debounced per server).
    pub config_write: bool,
    pub config_write_debounce: Duration,
    pub ha_write_mode: HaWriteMode,
    pub health_interval: Duration,
    /// `KEA_HEALTH_FAILURE_THRESHOLD`: consecutive failed health checks that mark a server
    /// unhealthy (a refused connection counts as enough at once).
    pub health_failure_threshold: u32,
    /// `KEA_MAX_IN_FLIGHT`: requests in flight per server.
    pub max_in_flight: u32,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
}

impl KeaConfig {
    /// A configuration with the documented defaults for one server and no authentication or TLS
    /// options: the starting point for tests and tools; the process itself uses [`Config::from_args`].
    pub fn new(primary: Url) -> Self {
        KeaConfig {
            primary,
            secondary: None,
            timeout: Duration::from_secs(10),
            keepalive: true,
            auth: AuthConfig::None,
            tls: TlsConfig::default(),
            operation_target: TargetSetting::Auto,
            config_write: false,
            config_write_debounce: Duration::from_millis(1000),
            ha_write_mode: HaWriteMode::AllServers,
            health_interval: Duration::from_secs(30),
            health_failure_threshold: 2,
            max_in_flight: 8,
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }

    /// Builder-style: add the HA partner.
    pub fn with_secondary(mut self, secondary: Url) -> Self {
        self.secondary = Some(secondary);
        self
    }

    /// Whether any configured server is reached over HTTPS.
    pub fn uses_tls(&self) -> bool {
        self.primary.scheme() == "https" || self.secondary.as_ref().is_some_and(|u| u.scheme() == "https")
    }
}

/// How the operator proves who it is to Kea. Basic auth and client certificates are exclusive (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    None,
    Basic {
        username: String,
        password: PasswordSource,
    },
    ClientCert {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
}

/// Where the basic-auth password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `KEA_BASIC_AUTH_PASSWORD`.
    Inline(Secret),
    /// `KEA_BASIC_AUTH_PASSWORD_FILE`, re-read when it changes (a rotated Secret needs no restart).
    File(PathBuf),
}

/// Server verification. Which servers use TLS follows from their URLs' scheme.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `KEA_TLS_CA_FILE`; none → the Mozilla roots (webpki-roots), never the platform store, which
    /// does not exist in a FROM-scratch image.
    pub ca_file: Option<PathBuf>,
    /// `KEA_TLS_INSECURE`: accept any certificate.
    pub insecure: bool,
    /// `KEA_TLS_SERVER_NAME`: the name the certificate must carry instead of the URL's host.
    pub server_name: Option<String>,
}

/// `KEA_HA_WRITE_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaWriteMode {
    /// Every configured server gets every write: Kea HA does not replicate reservations (SPEC §4).
    AllServers,
    /// Only the active server: for partners that share one hosts database.
    ActiveServer,
}

impl HaWriteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HaWriteMode::AllServers => "all-servers",
            HaWriteMode::ActiveServer => "active-server",
        }
    }
}

/// Per-call retry with exponential backoff and jitter (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    pub initial: Duration,
    pub factor: f64,
    pub max_delay: Duration,
    /// Attempts per call, the first included.
    pub attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_secs(30),
            attempts: 5,
        }
    }
}

/// Per-server circuit breaker (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed calls that open the breaker.
    pub failures: u32,
    /// How long it stays open before admitting trials.
    pub reset: Duration,
    /// Trial requests admitted while half-open; that many successes close it.
    pub half_open_requests: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            reset: Duration::from_secs(60),
            half_open_requests: 3,
        }
    }
}

/// What the controller needs beyond Kea access.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub cleanup_timeout: Duration,
    pub resync_interval: Duration,
    pub max_concurrent_reconciles: u32,
    pub dry_run: bool,
    /// `KEA_OPERATOR_INSTANCE`: the owner marker's instance.
    pub instance: String,
    /// `HEALTH_STALL_SECONDS`.
    pub health_stall: Duration,
}

/// Requeue delays per failure class (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequeueConfig {
    pub network: Duration,
    pub auth: Duration,
    pub permission: Duration,
    pub resource: Duration,
}

impl Default for RequeueConfig {
    fn default() -> Self {
        RequeueConfig {
            network: Duration::from_secs(30),
            auth: Duration::from_secs(300),
            permission: Duration::from_secs(600),
            resource: Duration::from_secs(60),
        }
    }
}

/// Leader election on a `coordination.k8s.io/v1` Lease.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub elect: bool,
    pub lease_duration: Duration,
    pub renew: Duration,
    /// `POD_NAMESPACE`; see [`LeaderConfig::namespace`].
    pub namespace: Option<String>,
}

/// Where a pod finds its own namespace when `POD_NAMESPACE` is not set.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

impl LeaderConfig {
    /// The namespace of the leader Lease: `POD_NAMESPACE`, else the pod's service-account namespace.
    /// Resolved by `run` only (not at parse time), so `kea-operator check` works outside a cluster.
    pub fn namespace(&self) -> Result<String, ConfigError> {
        if let Some(ns) = &self.namespace {
            return Ok(ns.clone());
        }
        std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "POD_NAMESPACE",
                    "is required when LEADER_ELECT=true outside a pod; set it (downward API metadata.namespace) \
                     or set LEADER_ELECT=false",
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `RUST_LOG`, already checked to be a valid filter.
    pub filter: String,
}

impl Config {
    /// Parses flags and environment like the binary does; clap errors about a value become a
    /// [`ConfigError`], other clap errors (help, unknown flags) are returned as they are.
    pub fn parse_from<I, T>(args: I) -> Result<Config, ParseError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: ConfigArgs,
        }
        let matches =
            Only::command()
                .try_get_matches_from(args)
                .map_err(|e| match ConfigError::from_clap(&e) {
                    Some(config) => ParseError::Config(config),
                    None => ParseError::Clap(e),
                })?;
        let args = ConfigArgs::from_arg_matches(&matches).map_err(ParseError::Clap)?;
        Config::from_args(args).map_err(ParseError::Config)
    }

    /// Applies the rules between settings (SPEC §5).
    pub fn from_args(args: ConfigArgs) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let kea = kea_config(&args, &mut warnings)?;

        if args.lease_renew_seconds >= args.lease_duration_seconds {
            return Err(ConfigError::new(
                "LEASE_RENEW_SECONDS",
                "must be less than LEASE_DURATION_SECONDS (defaults 5 and 15)",
            ));
        }
        let instance = parse::plain_text(&args.kea_operator_instance)
            .ok()
            .filter(|s| s.len() <= 253)
            .ok_or_else(|| {
                ConfigError::new(
                    "KEA_OPERATOR_INSTANCE",
                    "expected a non-empty name of at most 253 characters without spaces, e.g. the Helm release name",
                )
            })?;
        let format = match args.log_format.trim().to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => return Err(ConfigError::new("LOG_FORMAT", "expected json or text")),
        };
        tracing_subscriber::EnvFilter::try_new(&args.rust_log).map_err(|_| {
            ConfigError::new(
                "RUST_LOG",
                "is not a valid log filter; e.g. info or kea_operator=debug,info",
            )
        })?;

        Ok(Config {
            kea,
            controller: ControllerConfig {
                cleanup_timeout: args.kea_cleanup_timeout_seconds,
                resync_interval: args.resync_interval_seconds,
                max_concurrent_reconciles: args.max_concurrent_reconciles,
                dry_run: args.dry_run,
                instance,
                health_stall: args.health_stall_seconds,
            },
            requeue: RequeueConfig {
                network: args.requeue_network_seconds,
                auth: args.requeue_auth_seconds,
                permission: args.requeue_permission_seconds,
                resource: args.requeue_resource_seconds,
            },
            leader: LeaderConfig {
                elect: args.leader_elect,
                lease_duration: args.lease_duration_seconds,
                renew: args.lease_renew_seconds,
                namespace: args.pod_namespace,
            },
            http_addr: args.http_addr,
            log: LogConfig {
                format,
                filter: args.rust_log,
            },
            warnings,
        })
    }
}

/// Why [`Config::parse_from`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Clap(clap::Error),
}

fn kea_config(args: &ConfigArgs, warnings: &mut Vec<String>) -> Result<KeaConfig, ConfigError> {
    let tls_enabled = args.kea_tls_enabled;
    let primary = primary_url(args, warnings)?;
    let secondary = match &args.kea_secondary_url {
        Some(raw) => Some(server_url("KEA_SECONDARY_URL", raw)?),
        None => None,
    };
    if let Some(secondary) = &secondary
        && same_server(secondary, &primary)
    {
        return Err(ConfigError::new(
            "KEA_SECONDARY_URL",
            "names the same server as the primary; point it at the HA partner or unset it",
        ));
    }
    if tls_enabled {
        for (variable, url) in [
            ("KEA_URL", Some(&primary)),
            ("KEA_SECONDARY_URL", secondary.as_ref()),
        ] {
            if let Some(url) = url
                && url.scheme() != "https"
            {
                return Err(ConfigError::new(
                    variable,
                    "uses http:// while KEA_TLS_ENABLED=true; write https:// or set KEA_TLS_ENABLED=false",
                ));
            }
        }
    }

    let auth = auth_config(args)?;
    let tls = TlsConfig {
        ca_file: args.kea_tls_ca_file.clone(),
        insecure: args.kea_tls_insecure,
        server_name: args.kea_tls_server_name.clone(),
    };
    if let Some(ca) = &tls.ca_file {
        readable_file("KEA_TLS_CA_FILE", ca)?;
    }
    if let Some(name) = &tls.server_name
        && rustls_pki_types::ServerName::try_from(name.as_str()).is_err()
    {
        return Err(ConfigError::new(
            "KEA_TLS_SERVER_NAME",
            "is not a DNS name or IP address; e.g. kea.example.internal",
        ));
    }

    let config = KeaConfig {
        primary,
        secondary,
        timeout: args.kea_timeout_seconds,
        keepalive: !args.kea_disable_keepalives,
        auth,
        tls,
        operation_target: args
            .kea_operation_target
            .parse()
            .map_err(|e: String| ConfigError::new("KEA_OPERATION_TARGET", e))?,
        config_write: args.kea_config_write,
        config_write_debounce: args.kea_config_write_debounce_ms,
        ha_write_mode: match args.kea_ha_write_mode.trim().to_ascii_lowercase().as_str() {
            "all-servers" => HaWriteMode::AllServers,
            "active-server" => HaWriteMode::ActiveServer,
            _ => {
                return Err(ConfigError::new(
                    "KEA_HA_WRITE_MODE",
                    "expected all-servers or active-server",
                ));
            }
        },
        health_interval: args.kea_health_interval_seconds,
        health_failure_threshold: args.kea_health_failure_threshold,
        max_in_flight: args.kea_max_in_flight,
        retry: RetryConfig {
            initial: args.kea_retry_initial_ms,
            factor: args.kea_retry_factor,
            max_delay: args.kea_retry_max_seconds,
            attempts: args.kea_retry_attempts,
        },
        breaker: BreakerConfig {
            failures: args.kea_breaker_failures,
            reset: args.kea_breaker_reset_seconds,
            half_open_requests: args.kea_breaker_half_open_requests,
        },
    };
    if config.retry.max_delay < config.retry.initial {
        return Err(ConfigError::new(
            "KEA_RETRY_MAX_SECONDS",
            "must not be shorter than KEA_RETRY_INITIAL_MS (defaults 30 s and 100 ms)",
        ));
    }

    let tls_options = [
        ("KEA_TLS_CA_FILE", config.tls.ca_file.is_some()),
        ("KEA_TLS_INSECURE", config.tls.insecure),
        ("KEA_TLS_SERVER_NAME", config.tls.server_name.is_some()),
        (
            "KEA_TLS_CERT_FILE",
            matches!(config.auth, AuthConfig::ClientCert { .. }),
        ),
    ];
    if !config.uses_tls()
        && let Some((variable, _)) = tls_options.iter().find(|(_, set)| *set)
    {
        return Err(ConfigError::new(
            variable,
            "is set but no Kea URL uses https://; write https:// in the URL (or set KEA_TLS_ENABLED=true with \
             KEA_HOST) or unset it",
        ));
    }
    if config.tls.insecure {
        warnings.push(
            "KEA_TLS_INSECURE=true: Kea's certificate is NOT verified; anyone on the path can read and change \
             reservations and the credentials. Use it for testing only."
                .into(),
        );
        if config.tls.ca_file.is_some() || config.tls.server_name.is_some() {
            warnings.push(
                "KEA_TLS_CA_FILE and KEA_TLS_SERVER_NAME are ignored while KEA_TLS_INSECURE=true".into(),
            );
        }
    }
    if matches!(config.auth, AuthConfig::Basic { .. }) {
        for url in [Some(&config.primary), config.secondary.as_ref()]
            .into_iter()
            .flatten()
        {
            if url.scheme() == "http" {
                warnings.push(format!(
                    "basic auth is sent in clear text to {}; prefer https://",
                    url.host_str().unwrap_or("the Kea server")
                ));
            }
        }
    }
    if config.secondary.is_none() && config.ha_write_mode == HaWriteMode::ActiveServer {
        warnings.push("KEA_HA_WRITE_MODE has no effect without KEA_SECONDARY_URL".into());
    }
    Ok(config)
}

/// `KEA_URL` > `KEA_BASE_URL`+`KEA_PORT` > `KEA_HOST`+`KEA_PORT` (the seed's precedence).
fn primary_url(args: &ConfigArgs, warnings: &mut Vec<String>) -> Result<Url, ConfigError> {
    if let Some(raw) = &args.kea_url {
        let shadowed: Vec<&str> = [
            ("KEA_BASE_URL", args.kea_base_url.is_some()),
            ("KEA_HOST", args.kea_host.is_some()),
            ("KEA_PORT", args.kea_port.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect();
        if !shadowed.is_empty() {
            warnings.push(format!(
                "KEA_URL takes precedence; ignoring {}",
                shadowed.join(", ")
            ));
        }
        return server_url("KEA_URL", raw);
    }
    if let Some(raw) = &args.kea_base_url {
        if args.kea_host.is_some() {
            warnings.push("KEA_BASE_URL takes precedence; ignoring KEA_HOST".into());
        }
        let mut url = server_url("KEA_BASE_URL", raw)?;
        match (url.port(), args.kea_port) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "KEA_PORT",
                    "is set but KEA_BASE_URL already has a port; remove one of the two",
                ));
            }
            (Some(_), None) => {}
            (None, port) => {
                url.set_port(Some(port.unwrap_or(DEFAULT_KEA_PORT)))
                    .map_err(|()| {
                        ConfigError::new(
                            "KEA_BASE_URL",
                            "cannot carry a port; expected e.g. http://kea-dhcp4",
                        )
                    })?;
            }
        }
        return Ok(url);
    }
    if let Some(host) = &args.kea_host {
        let host = host.trim();
        let literal = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            Ok(IpAddr::V4(v4)) => v4.to_string(),
            Err(_) if !host.is_empty() && !host.contains([':', '/', '@', '?', '#', ' ']) => host.to_string(),
            Err(_) => {
                return Err(ConfigError::new(
                    "KEA_HOST",
                    "expected a host name or IP address without scheme or port, e.g. kea-dhcp4 (port: KEA_PORT)",
                ));
            }
        };
        let scheme = if args.kea_tls_enabled { "https" } else { "http" };
        let port = args.kea_port.unwrap_or(DEFAULT_KEA_PORT);
        return server_url("KEA_HOST", &format!("{scheme}://{literal}:{port}/"));
    }
    Err(ConfigError::new(
        "KEA_URL",
        "no Kea server configured; set KEA_URL (e.g. http://kea-dhcp4:8000), or KEA_BASE_URL or KEA_HOST with KEA_PORT",
    ))
}

/// A Kea control URL: http(s), a host, no credentials (they belong in the auth settings, and a URL
/// is logged), no query or fragment. The raw text is never echoed: it might hold a password.
fn server_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|_| {
        ConfigError::new(
            variable,
            "is not a valid URL; expected e.g. http://kea-dhcp4:8000 or https://kea.example:8000",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(variable, "must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(
            variable,
            "has no host; expected e.g. http://kea-dhcp4:8000",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            variable,
            "must not contain credentials; use KEA_BASIC_AUTH_USERNAME and KEA_BASIC_AUTH_PASSWORD_FILE",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            "must not have a query or fragment; expected e.g. http://kea-dhcp4:8000",
        ));
    }
    Ok(url)
}

fn same_server(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn auth_config(args: &ConfigArgs) -> Result<AuthConfig, ConfigError> {
    let password = match (&args.kea_basic_auth_password, &args.kea_basic_auth_password_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "KEA_BASIC_AUTH_PASSWORD",
                "and KEA_BASIC_AUTH_PASSWORD_FILE are both set; keep one (the file is re-read on rotation)",
            ));
        }
        (Some(inline), None) => Some(PasswordSource::Inline(Secret::new(inline.clone()))),
        (None, Some(file)) => {
            readable_file("KEA_BASIC_AUTH_PASSWORD_FILE", file)?;
            Some(PasswordSource::File(file.clone()))
        }
        (None, None) => None,
    };
    let basic = match (&args.kea_basic_auth_username, password) {
        (Some(username), Some(password)) => Some(AuthConfig::Basic {
            username: username.clone(),
            password,
        }),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "KEA_BASIC_AUTH_PASSWORD_FILE",
                "is missing: KEA_BASIC_AUTH_USERNAME is set without a password; set KEA_BASIC_AUTH_PASSWORD_FILE \
                 (or KEA_BASIC_AUTH_PASSWORD)",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "KEA_BASIC_AUTH_USERNAME",
                "is missing: a basic auth password is set without a user name",
            ));
        }
        (None, None) => None,
    };
    let cert = match (&args.kea_tls_cert_file, &args.kea_tls_key_file) {
        (Some(cert), Some(key)) => {
            readable_file("KEA_TLS_CERT_FILE", cert)?;
            readable_file("KEA_TLS_KEY_FILE", key)?;
            Some(AuthConfig::ClientCert {
                cert_file: cert.clone(),
                key_file: key.clone(),
            })
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "KEA_TLS_KEY_FILE",
                "is missing: KEA_TLS_CERT_FILE needs its private key",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "KEA_TLS_CERT_FILE",
                "is missing: KEA_TLS_KEY_FILE needs its certificate",
            ));
        }
        (None, None) => None,
    };
    match (basic, cert) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            "KEA_TLS_CERT_FILE",
            "and basic auth (KEA_BASIC_AUTH_*) are mutually exclusive; configure one of them",
        )),
        (Some(basic), None) => Ok(basic),
        (None, Some(cert)) => Ok(cert),
        (None, None) => Ok(AuthConfig::None),
    }
}

fn readable_file(variable: &'static str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::File::open(path) {
        Ok(file) => match file.metadata() {
            Ok(meta) if meta.is_file() => Ok(()),
            _ => Err(ConfigError::new(
                variable,
                format!("{} is not a regular file", path.display()),
            )),
        },
        Err(e) => Err(ConfigError::new(
            variable,
            format!(
                "cannot read {}: {}; mount the file or fix the path",
                path.display(),
                io_reason(&e)
            ),
        )),
    }
}

/// The kind of an IO error without the OS's long message.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
