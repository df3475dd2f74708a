//! `kea-operator check`: the preflight (SPEC §5). Validates the configuration (done before this runs),
//! reaches each Kea server, authenticates, and reports its version, the hook libraries the operator
//! needs, the operation target `auto` resolves to, and the subnets the server shows. Exit code 0 when
//! every configured server can serve the operator, 1 otherwise; human-readable or `--output json`.
//!
//! Each server gets each command once, without retries: a preflight must report what is, promptly.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{AuthConfig, Config};
use crate::kea::{
    Hook, KeaClient, KeaError, KeaServers, OperationTarget, ServerId, ServerStatus, SubnetList, TargetSetting,
};
use crate::metrics::Metrics;

/// `kea-operator check` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Every server can serve the operator.
    pub ok: bool,
    pub configuration: ConfigurationReport,
    pub servers: Vec<ServerReport>,
}

/// What the configuration says, without secrets.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigurationReport {
    pub ha_write_mode: &'static str,
    pub operation_target: String,
    pub authentication: &'static str,
    pub tls_insecure: bool,
    pub config_write: bool,
    pub warnings: Vec<String>,
}

/// One server's findings.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: ServerId,
    pub url: String,
    pub ok: bool,
    /// Why the server cannot serve the operator (empty when `ok`).
    pub problems: Vec<String>,
    /// Worth knowing, not fatal.
    pub warnings: Vec<String>,
    pub reachable: bool,
    pub authenticated: bool,
    pub version: Option<String>,
    pub commands: Option<usize>,
    pub missing_hooks: Vec<Hook>,
    pub hosts_database: Option<bool>,
    pub operation_target: Option<OperationTarget>,
    pub status: Option<ServerStatus>,
    pub subnets: Option<SubnetList>,
}

/// Runs the preflight. Fails only when the clients cannot be built (TLS material): that is a
/// configuration error, reported like one.
pub async fn run(config: &Config) -> Result<CheckReport, KeaError> {
    let servers = KeaServers::new(&config.kea, Arc::new(Metrics::new()))?;
    let checks = servers
        .ids()
        .into_iter()
        .filter_map(|id| servers.client(id))
        .map(|client| check_server(config, client));
    let reports = futures::future::join_all(checks).await;
    Ok(CheckReport {
        ok: reports.iter().all(|r| r.ok),
        configuration: ConfigurationReport {
            ha_write_mode: config.kea.ha_write_mode.as_str(),
            operation_target: match config.kea.operation_target {
                TargetSetting::Auto => "auto".into(),
                TargetSetting::Fixed(target) => target.to_string(),
            },
            authentication: match config.kea.auth {
                AuthConfig::None => "none",
                AuthConfig::Basic { .. } => "basic",
                AuthConfig::ClientCert { .. } => "client-certificate",
            },
            tls_insecure: config.kea.tls.insecure,
            config_write: config.kea.config_write,
            warnings: config.warnings.clone(),
        },
        servers: reports,
    })
}

async fn check_server(config: &Config, client: KeaClient) -> ServerReport {
    let mut report = ServerReport {
        server: client.server(),
        url: client.url().to_string(),
        ok: false,
        problems: Vec::new(),
        warnings: Vec::new(),
        reachable: false,
        authenticated: false,
        version: None,
        commands: None,
        missing_hooks: Vec::new(),
        hosts_database: None,
        operation_target: None,
        status: None,
        subnets: None,
    };
    match client.version_get().await {
        Ok(version) => {
            report.reachable = true;
            report.authenticated = true;
            report.version = Some(version.version);
        }
        Err(e) => {
            report.reachable = !matches!(
                e,
                KeaError::Network { .. }
                    | KeaError::Timeout { .. }
                    | KeaError::Tls { .. }
                    | KeaError::Protocol { .. }
            );
            report.problems.push(explain(&e));
            return report;
        }
    }
    match client.list_commands().await {
        Ok(commands) => {
            report.commands = Some(commands.len());
            report.missing_hooks = commands.missing_hooks();
            for hook in &report.missing_hooks {
                let text = format!(
                    "hook library {hook} is not loaded: add libdhcp_{hook}.so to Dhcp4.hooks-libraries",
                );
                if hook.is_required() {
                    report.problems.push(text);
                } else {
                    report
                        .warnings
                        .push(format!("{text} (optional: subnets are read with config-get)"));
                }
            }
        }
        Err(e) => report.problems.push(format!("list-commands: {}", explain(&e))),
    }
    match client.status_get().await {
        Ok(status) => {
            if status.database_lost {
                report
                    .problems
                    .push("Kea reports a lost hosts database connection (disabled-by-db-connection)".into());
            }
            report.status = Some(status);
        }
        Err(e) => report.problems.push(format!("status-get: {}", explain(&e))),
    }
    match client.config_get_summary().await {
        Ok(summary) => {
            let target = config.kea.operation_target.resolve(summary.has_hosts_database);
            report.hosts_database = Some(summary.has_hosts_database);
            report.operation_target = Some(target);
            if matches!(target, OperationTarget::Database) && !summary.has_hosts_database {
                report.problems.push(
                    "KEA_OPERATION_TARGET=database but the server has no hosts database; use auto or memory"
                        .into(),
                );
            }
            if matches!(target, OperationTarget::Memory) && !config.kea.config_write {
                report.warnings.push(
                    "reservations are kept in memory only: a Kea restart drops them until the next sweep; \
                     set KEA_CONFIG_WRITE=true to persist them"
                        .into(),
                );
            }
        }
        Err(e) => report.problems.push(format!("config-get: {}", explain(&e))),
    }
    match client.subnets().await {
        Ok(list) => {
            if list.subnets.is_empty() {
                report.warnings.push("the server shows no IPv4 subnets".into());
            }
            report.subnets = Some(list);
        }
        Err(e) => report.problems.push(format!("subnets: {}", explain(&e))),
    }
    report.ok = report.problems.is_empty();
    report
}

/// The error plus the likely fix, for a human.
fn explain(e: &KeaError) -> String {
    let hint = match e {
        KeaError::Network { .. } | KeaError::Timeout { .. } => {
            " (is Kea running and is its control socket reachable at this URL?)"
        }
        KeaError::Unauthorized => {
            " (check KEA_BASIC_AUTH_USERNAME and the password against the control socket's clients)"
        }
        KeaError::Forbidden => " (the control socket refuses this client)",
        KeaError::Tls { .. } => " (check KEA_TLS_CA_FILE, KEA_TLS_SERVER_NAME and the client certificate)",
        KeaError::Protocol { .. } => " (does the URL point at Kea's control socket or agent?)",
        _ => "",
    };
    format!("{e}{hint}")
}

impl CheckReport {
    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let c = &self.configuration;
        let _ = writeln!(
            out,
            "configuration: valid (write mode {}, operation target {}, authentication {}{}{})",
            c.ha_write_mode,
            c.operation_target,
            c.authentication,
            if c.tls_insecure { ", TLS NOT VERIFIED" } else { "" },
            if c.config_write { ", config-write on" } else { "" },
        );
        for w in &c.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        for s in &self.servers {
            let _ = writeln!(
                out,
                "{} {}: {}",
                s.server,
                s.url,
                if s.ok { "OK" } else { "FAILED" }
            );
            if let Some(v) = &s.version {
                let _ = writeln!(out, "  version: {v}");
            }
            if s.commands.is_some() {
                let loaded: Vec<&str> = Hook::ALL
                    .iter()
                    .filter(|h| !s.missing_hooks.contains(h))
                    .map(|h| h.as_str())
                    .collect();
                let missing: Vec<&str> = s.missing_hooks.iter().map(|h| h.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  hooks: loaded [{}], missing [{}]",
                    loaded.join(", "),
                    missing.join(", ")
                );
            }
            if let Some(target) = s.operation_target {
                let db = match s.hosts_database {
                    Some(true) => "hosts database configured",
                    _ => "no hosts database",
                };
                let _ = writeln!(out, "  operation target: {target} ({db})");
            }
            if let Some(status) = &s.status {
                let mut line = String::from("  status:");
                if let Some(pid) = status.pid {
                    let _ = write!(line, " pid {pid}");
                }
                if let Some(uptime) = status.uptime {
                    let _ = write!(line, ", up {uptime} s");
                }
                if let Some(ha) = &status.ha_state {
                    let _ = write!(line, ", HA state {ha}");
                }
                let _ = writeln!(out, "{line}");
            }
            if let Some(list) = &s.subnets {
                let source = match list.source {
                    crate::kea::SubnetSource::SubnetCmds => "subnet4-list",
                    crate::kea::SubnetSource::ConfigGet => "config-get",
                };
                let _ = writeln!(out, "  subnets ({}, from {source}):", list.subnets.len());
                for subnet in &list.subnets {
                    let shared = subnet
                        .shared_network
                        .as_deref()
                        .map(|n| format!(" (shared network {n})"))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    {} {}{shared}", subnet.id, subnet.prefix);
                }
            }
            for w in &s.warnings {
                let _ = writeln!(out, "  warning: {w}");
            }
            for p in &s.problems {
                let _ = writeln!(out, "  problem: {p}");
            }
        }
        let failed = self.servers.iter().filter(|s| !s.ok).count();
        if self.ok {
            let _ = writeln!(out, "result: OK");
        } else {
            let _ = writeln!(
                out,
                "result: FAILED ({failed} of {} servers cannot serve the operator)",
                self.servers.len()
            );
        }
        out
    }
}
