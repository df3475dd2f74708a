//! Every way a Kea call can fail, with a bounded category and the requeue class of SPEC §3.
//!
//! The variants follow what the controller must do differently, not where the failure came from:
//! retry soon, wait for credentials, wait for Kea's admin, refresh a cache, or report a conflict.
//! Messages never contain credentials: URLs carry none (refused in the configuration), request bodies
//! and `config-get` answers are never part of a message, and Kea's own texts are truncated.

use std::fmt;
use std::time::Duration;

use crate::config::RequeueConfig;
use crate::core::error_class::ErrorClass;

use super::ServerId;

/// Longest piece of Kea text kept in an error (Kea echoes request values; a hostile server could
/// send megabytes).
const MAX_TEXT: usize = 300;

/// SPEC §3's failure classes: how soon the controller tries again, and whether the same call may
/// simply be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequeueClass {
    /// Connection refused, timeout, reset, HTTP 5xx, Kea's hosts database down: 30 s.
    Network,
    /// HTTP 401 (or a TLS identity failure): 5 min.
    Auth,
    /// HTTP 403, or a command the server does not offer: fixed on the Kea side, 10 min.
    Permission,
    /// Something the request refers to is missing (subnet, host): 1 min, after refreshing caches.
    Resource,
    /// The address or MAC belongs to someone else: no requeue, the sweep re-checks.
    Conflict,
    /// Our own input is wrong: no requeue, wait for a spec change.
    Validation,
}

/// The planner's view of the same table (`core::error_class`), which also maps a class to its
/// condition reason.
impl From<RequeueClass> for ErrorClass {
    fn from(class: RequeueClass) -> Self {
        match class {
            RequeueClass::Network => ErrorClass::Network,
            RequeueClass::Auth => ErrorClass::Authentication,
            RequeueClass::Permission => ErrorClass::Permission,
            RequeueClass::Resource => ErrorClass::Resource,
            RequeueClass::Conflict => ErrorClass::Conflict,
            RequeueClass::Validation => ErrorClass::Validation,
        }
    }
}

impl RequeueClass {
    /// Whether repeating the same call, unchanged, may succeed: the per-call retry (with backoff)
    /// applies only to these. Resource failures need the caller to re-resolve first; the others
    /// need a human.
    pub fn is_transient(self) -> bool {
        matches!(self, RequeueClass::Network | RequeueClass::Auth)
    }

    /// The controller's requeue delay; `None` means "do not requeue" (conflicts wait for the sweep,
    /// validation errors for a change of the object).
    pub fn requeue_after(self, config: &RequeueConfig) -> Option<Duration> {
        match self {
            RequeueClass::Network => Some(config.network),
            RequeueClass::Auth => Some(config.auth),
            RequeueClass::Permission => Some(config.permission),
            RequeueClass::Resource => Some(config.resource),
            RequeueClass::Conflict | RequeueClass::Validation => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequeueClass::Network => "network",
            RequeueClass::Auth => "auth",
            RequeueClass::Permission => "permission",
            RequeueClass::Resource => "resource",
            RequeueClass::Conflict => "conflict",
            RequeueClass::Validation => "validation",
        }
    }
}

/// Why Kea refused a write as a conflict; the planner treats each differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictKind {
    /// `There's already a reservation for this address`: another host holds the address.
    AddressReserved,
    /// `… as this host has already been added`: a host for this MAC exists in the subnet. After a
    /// retried `reservation-add` this may be our own first attempt: re-read before concluding.
    HostExists,
    /// `Database duplicate entry error`: either of the two above, in a hosts database; tell them
    /// apart with a read (SPEC §4).
    DatabaseDuplicate,
    /// Result 4, e.g. `IPv4 lease already exists.`
    Exists,
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictKind::AddressReserved => "address already reserved",
            ConflictKind::HostExists => "host already exists",
            ConflictKind::DatabaseDuplicate => "database duplicate entry",
            ConflictKind::Exists => "already exists",
        })
    }
}

/// Kinds of Kea result-1 failures the controller reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeaFailure {
    /// `IPv4 subnet with ID of 'N' is not configured`: refresh the subnet cache.
    SubnetNotConfigured,
    /// `… is not matching the IPv4 subnet prefix …`: refresh the subnet cache.
    AddressOutsideSubnet,
    /// Anything else Kea reports as result 1.
    Other,
}

/// A failed Kea call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeaError {
    /// Connection refused or reset, name resolution, connection closed mid-answer.
    #[error("cannot reach Kea: {reason}")]
    Network {
        reason: String,
        /// No connection could be established at all (refused, no route, name resolution; not a
        /// connect timeout): nothing is listening there. Unlike a reset, a timeout or a garbled
        /// answer this is unambiguous, so the health check acts on it at once.
        connect: bool,
    },
    #[error("Kea did not answer within {}", humanize(*after))]
    Timeout { after: Duration },
    /// The TLS handshake failed: an untrusted, expired or misnamed server certificate, or the server
    /// refused our client certificate.
    #[error("TLS with Kea failed: {reason}")]
    Tls { reason: String },
    #[error("Kea refused the credentials (HTTP 401)")]
    Unauthorized,
    #[error("Kea denied access (HTTP 403)")]
    Forbidden,
    /// HTTP 5xx or 429 (from Kea or a proxy in front of it).
    #[error("Kea answered HTTP {status}")]
    ServerError { status: u16 },
    /// An answer that is not Kea's: HTML, truncated or wrongly typed JSON, an empty array, too large.
    #[error("unexpected answer from Kea: {reason}")]
    Protocol { reason: String },
    /// Result 2: the command is not offered (its hook library is not loaded).
    #[error("{command}: not supported by this Kea server (hook library not loaded?): {text}")]
    Unsupported { command: String, text: String },
    /// Result 3 where the operation needs the object (reads map "not found" to `None` instead).
    #[error("{command}: not found: {text}")]
    NotFound { command: String, text: String },
    #[error("{command}: {kind}: {text}")]
    Conflict {
        command: String,
        kind: ConflictKind,
        text: String,
    },
    /// Kea says its hosts database is down (`Host database not available…`): its "not found"
    /// answers are not to be trusted until it recovers (SPEC §4).
    #[error("{command}: Kea's hosts database is unavailable: {text}")]
    DatabaseUnavailable { command: String, text: String },
    /// A Control Agent cannot forward to the DHCPv4 daemon (the daemon is down).
    #[error("{command}: the Kea control agent cannot reach the DHCPv4 server: {text}")]
    DaemonUnavailable { command: String, text: String },
    /// Any other result 1.
    #[error("{command} failed: {text}")]
    Kea {
        command: String,
        kind: KeaFailure,
        text: String,
    },
    /// The server's circuit breaker is open: the call was not sent.
    #[error("circuit breaker open after repeated failures; next trial in {}", humanize(*retry_in))]
    CircuitOpen { retry_in: Duration },
    /// The health check marks the server unusable: the call was not sent.
    #[error("server marked unhealthy: {reason}")]
    Unhealthy { reason: String, class: RequeueClass },
    /// A setting that cannot work (at start, or a password file that became unreadable).
    #[error("{variable}: {message}")]
    Config { variable: &'static str, message: String },
    /// A read that no configured server could answer; the first entry is the active server's.
    #[error("no Kea server answered: {}", join_errors(errors))]
    NoServerAnswered { errors: Vec<(ServerId, KeaError)> },
}

fn humanize(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn join_errors(errors: &[(ServerId, KeaError)]) -> String {
    errors
        .iter()
        .map(|(server, e)| format!("{server}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl KeaError {
    /// Bounded label for metrics, Events and logs.
    pub fn category(&self) -> &'static str {
        match self {
            KeaError::Unhealthy { class, .. } => match class {
                RequeueClass::Auth => "auth",
                RequeueClass::Permission => "permission",
                _ => "network",
            },
            KeaError::Network { .. } => "network",
            KeaError::Timeout { .. } => "timeout",
            KeaError::Tls { .. } | KeaError::Unauthorized => "auth",
            KeaError::Forbidden => "permission",
            KeaError::ServerError { .. } | KeaError::DaemonUnavailable { .. } => "server_error",
            KeaError::Protocol { .. } => "protocol",
            KeaError::Unsupported { .. } => "unsupported",
            KeaError::NotFound { .. } => "not_found",
            KeaError::Conflict { .. } => "conflict",
            KeaError::DatabaseUnavailable { .. } => "database_unavailable",
            KeaError::Kea { .. } => "kea_error",
            KeaError::CircuitOpen { .. } => "circuit_open",
            KeaError::Config { .. } => "config",
            KeaError::NoServerAnswered { .. } => self.representative().map_or("network", KeaError::category),
        }
    }

    /// SPEC §3's class.
    pub fn requeue_class(&self) -> RequeueClass {
        match self {
            KeaError::Network { .. }
            | KeaError::Timeout { .. }
            | KeaError::ServerError { .. }
            | KeaError::Protocol { .. }
            | KeaError::DatabaseUnavailable { .. }
            | KeaError::DaemonUnavailable { .. }
            | KeaError::CircuitOpen { .. } => RequeueClass::Network,
            // The health check's own failure decides: a server refusing our credentials stays
            // `AuthenticationFailed` while calls fail fast, not `KeaUnavailable`.
            KeaError::Unhealthy { class, .. } => *class,
            KeaError::Tls { .. } | KeaError::Unauthorized | KeaError::Config { .. } => RequeueClass::Auth,
            KeaError::Forbidden | KeaError::Unsupported { .. } => RequeueClass::Permission,
            KeaError::NotFound { .. } | KeaError::Kea { .. } => RequeueClass::Resource,
            KeaError::Conflict { .. } => RequeueClass::Conflict,
            KeaError::NoServerAnswered { .. } => self
                .representative()
                .map_or(RequeueClass::Network, KeaError::requeue_class),
        }
    }

    /// SPEC §3's class as the planner's [`ErrorClass`] (for condition reasons and requeue timers).
    pub fn error_class(&self) -> ErrorClass {
        self.requeue_class().into()
    }

    /// Whether the per-call retry may repeat this call. Fail-fast refusals (open breaker, unhealthy
    /// server) are not retried: waiting inside the call would defeat their purpose.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            KeaError::CircuitOpen { .. } | KeaError::Unhealthy { .. } | KeaError::Config { .. }
        ) && self.requeue_class().is_transient()
    }

    /// Whether the failure says something about the server's health: it counts against the circuit
    /// breaker. Kea answering "not found", "conflict" or "unsupported" means the server works.
    pub fn is_server_failure(&self) -> bool {
        matches!(
            self,
            KeaError::Network { .. }
                | KeaError::Timeout { .. }
                | KeaError::Tls { .. }
                | KeaError::Unauthorized
                | KeaError::Forbidden
                | KeaError::ServerError { .. }
                | KeaError::Protocol { .. }
                | KeaError::DatabaseUnavailable { .. }
                | KeaError::DaemonUnavailable { .. }
        )
    }

    /// Whether no connection could be established at all (see [`KeaError::Network`]'s `connect`).
    pub fn is_connect_failure(&self) -> bool {
        matches!(self, KeaError::Network { connect: true, .. })
    }

    /// Whether a read should go on to the next server: the server failed, refused us, cannot run the
    /// command, or was skipped.
    pub fn should_fail_over(&self) -> bool {
        self.is_server_failure()
            || matches!(
                self,
                KeaError::Unsupported { .. } | KeaError::CircuitOpen { .. } | KeaError::Unhealthy { .. }
            )
    }

    /// For [`KeaError::NoServerAnswered`]: the error that best describes the outage — the first that
    /// is not a fail-fast refusal, else the first.
    fn representative(&self) -> Option<&KeaError> {
        let KeaError::NoServerAnswered { errors } = self else {
            return None;
        };
        errors
            .iter()
            .map(|(_, e)| e)
            .find(|e| !matches!(e, KeaError::CircuitOpen { .. } | KeaError::Unhealthy { .. }))
            .or_else(|| errors.first().map(|(_, e)| e))
    }

    /// Maps a Kea answer with a non-zero result to an error (SPEC §4's measured texts).
    pub(crate) fn from_result(command: &str, result: i64, text: &str) -> KeaError {
        let command = command.to_string();
        let text = truncate(text);
        match result {
            2 => KeaError::Unsupported { command, text },
            3 => KeaError::NotFound { command, text },
            4 => KeaError::Conflict {
                command,
                kind: ConflictKind::Exists,
                text,
            },
            1 => classify_failure(command, text),
            other => KeaError::Protocol {
                reason: format!("{command}: unknown result code {other}: {text}"),
            },
        }
    }
}

fn classify_failure(command: String, text: String) -> KeaError {
    // Measured on Kea 3.0.4 with PostgreSQL: the first query after the database went away answers
    // "fatal database error or connectivity lost"; later writes "Host database not available, cannot
    // add host." or "host database not available, cannot update host" (note the case).
    let lower = text.to_ascii_lowercase();
    if lower.contains("host database not available")
        || lower.contains("fatal database error")
        || lower.contains("connectivity lost")
    {
        return KeaError::DatabaseUnavailable { command, text };
    }
    if text.contains("unable to forward command") || text.contains("likely to be offline") {
        return KeaError::DaemonUnavailable { command, text };
    }
    if text.contains("already a reservation for this address") {
        return KeaError::Conflict {
            command,
            kind: ConflictKind::AddressReserved,
            text,
        };
    }
    if text.contains("has already been added") {
        return KeaError::Conflict {
            command,
            kind: ConflictKind::HostExists,
            text,
        };
    }
    if text.contains("Database duplicate entry") {
        return KeaError::Conflict {
            command,
            kind: ConflictKind::DatabaseDuplicate,
            text,
        };
    }
    if text.contains("not updated (not found)") {
        return KeaError::NotFound { command, text };
    }
    let kind = if text.contains("subnet with ID") && text.contains("is not configured") {
        KeaFailure::SubnetNotConfigured
    } else if text.contains("not matching the IPv4 subnet prefix") {
        KeaFailure::AddressOutsideSubnet
    } else {
        KeaFailure::Other
    };
    KeaError::Kea { command, kind, text }
}

/// Kea's text, cut at a character boundary.
pub(crate) fn truncate(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_texts_are_classified() {
        let cases = [
            (
                1,
                "host database not available, cannot update host",
                "database_unavailable",
                RequeueClass::Network,
            ),
            (
                1,
                "fatal database error or connectivity lost",
                "database_unavailable",
                RequeueClass::Network,
            ),
            (
                1,
                "Host database not available, cannot add host.",
                "database_unavailable",
                RequeueClass::Network,
            ),
            (
                1,
                "unable to forward command to the dhcp4 service: No such file or directory. The server is likely to be offline",
                "server_error",
                RequeueClass::Network,
            ),
            (
                1,
                "failed to add new host using the HW address 'aa:bb:cc:dd:ee:01' to the IPv4 subnet id '1' as this host has already been added",
                "conflict",
                RequeueClass::Conflict,
            ),
            (
                1,
                "Database duplicate entry error",
                "conflict",
                RequeueClass::Conflict,
            ),
            (
                1,
                "IPv4 subnet with ID of '9' is not configured",
                "kea_error",
                RequeueClass::Resource,
            ),
            (
                2,
                "'reservation-add' command not supported.",
                "unsupported",
                RequeueClass::Permission,
            ),
            (3, "Host not found.", "not_found", RequeueClass::Resource),
            (
                4,
                "IPv4 lease already exists.",
                "conflict",
                RequeueClass::Conflict,
            ),
            (7, "??", "protocol", RequeueClass::Network),
        ];
        for (result, text, category, class) in cases {
            let e = KeaError::from_result("reservation-add", result, text);
            assert_eq!(e.category(), category, "{text}");
            assert_eq!(e.requeue_class(), class, "{text}");
        }
        let address = KeaError::from_result(
            "reservation-add",
            1,
            "specified reservation '10.200.1.50' is not matching the IPv4 subnet prefix '10.100.0.0/16'",
        );
        assert!(matches!(
            address,
            KeaError::Kea {
                kind: KeaFailure::AddressOutsideSubnet,
                ..
            }
        ));
        let taken = KeaError::from_result(
            "reservation-add",
            1,
            "Unable to add. There's already a reservation for this address",
        );
        assert!(matches!(
            taken,
            KeaError::Conflict {
                kind: ConflictKind::AddressReserved,
                ..
            }
        ));
    }

    #[test]
    fn transient_only_for_network_and_auth_and_never_for_fail_fast() {
        assert!(
            KeaError::Timeout {
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(KeaError::Unauthorized.is_retryable());
        assert!(!KeaError::Forbidden.is_retryable());
        assert!(
            !KeaError::CircuitOpen {
                retry_in: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(!KeaError::from_result("x", 3, "Host not found.").is_retryable());
        assert!(!RequeueClass::Conflict.is_transient() && !RequeueClass::Validation.is_transient());
        let config = RequeueConfig::default();
        assert_eq!(
            RequeueClass::Auth.requeue_after(&config),
            Some(Duration::from_secs(300))
        );
        assert_eq!(RequeueClass::Conflict.requeue_after(&config), None);
        assert_eq!(KeaError::Unauthorized.error_class(), ErrorClass::Authentication);
        assert_eq!(
            KeaError::from_result("x", 1, "Host database not available, cannot add host.")
                .error_class()
                .kea_reason(),
            crate::core::error_class::Reason::KeaUnavailable
        );
    }

    #[test]
    fn server_failures_and_failover() {
        assert!(KeaError::ServerError { status: 503 }.is_server_failure());
        assert!(!KeaError::from_result("x", 2, "nope").is_server_failure());
        assert!(KeaError::from_result("x", 2, "nope").should_fail_over());
        assert!(!KeaError::from_result("x", 3, "Host not found.").should_fail_over());
    }

    #[test]
    fn no_server_answered_takes_the_real_cause() {
        let e = KeaError::NoServerAnswered {
            errors: vec![
                (
                    ServerId::Primary,
                    KeaError::CircuitOpen {
                        retry_in: Duration::from_secs(3),
                    },
                ),
                (ServerId::Secondary, KeaError::Unauthorized),
            ],
        };
        assert_eq!(e.category(), "auth");
        assert_eq!(e.requeue_class(), RequeueClass::Auth);
        let text = e.to_string();
        assert!(
            text.contains("primary: circuit breaker open") && text.contains("secondary: Kea refused"),
            "{text}"
        );
    }

    #[test]
    fn long_texts_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(1000);
        let e = KeaError::from_result("x", 1, &long);
        assert!(e.to_string().len() < 400);
    }
}
