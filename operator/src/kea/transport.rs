//! One HTTP exchange with Kea: build the request, send it, bound the answer, classify what went wrong.
//!
//! Only this module knows about reqwest. Above it everything is [`Answer`] or [`KeaError`].

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::config::{AuthConfig, KeaConfig};

use super::KeaError;
use super::auth::BasicAuth;
use super::error::truncate;
use super::tls;
use super::wire::{self, Answer, Request};

/// Largest answer accepted. `reservation-get-page` answers are bounded by their `limit`, but
/// `config-get` carries the whole configuration, reservations included; 64 MiB leaves room for
/// hundreds of thousands of configured hosts while stopping a hostile or broken server from
/// exhausting the operator's memory.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// What every server's client shares: the connection pool (and its TLS configuration), the
/// credentials and the limits.
#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::Client,
    auth: Option<Arc<BasicAuth>>,
    timeout: Duration,
    keepalive: bool,
    max_answer_bytes: usize,
}

impl Transport {
    /// Builds the HTTP client. Fails (with the variable at fault) on unusable TLS material.
    pub fn new(config: &KeaConfig) -> Result<Self, KeaError> {
        let tls = tls::client_config(config)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            // Kea is reached directly: a proxy from the environment would only change its answers'
            // meaning (HTTP statuses) and is never needed inside a cluster.
            .no_proxy()
            .connect_timeout(config.timeout)
            .user_agent(concat!("kea-operator/", env!("CARGO_PKG_VERSION")));
        if !config.keepalive {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder.build().map_err(|e| KeaError::Config {
            variable: "KEA_URL",
            message: format!("cannot build the HTTP client: {}", error_chain(&e)),
        })?;
        let auth = match &config.auth {
            AuthConfig::Basic { username, password } => {
                Some(Arc::new(BasicAuth::new(username.clone(), password)))
            }
            _ => None,
        };
        Ok(Transport {
            http,
            auth,
            timeout: config.timeout,
            keepalive: config.keepalive,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        })
    }

    /// Changes the answer size limit (tests use a small one).
    pub fn with_max_answer_bytes(mut self, bytes: usize) -> Self {
        self.max_answer_bytes = bytes;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one command and returns Kea's answer element, whatever its result code.
    pub async fn exchange(&self, url: &Url, request: &Request) -> Result<Answer, KeaError> {
        match tokio::time::timeout(self.timeout, self.exchange_inner(url, request)).await {
            Ok(answer) => answer,
            Err(_) => Err(KeaError::Timeout { after: self.timeout }),
        }
    }

    async fn exchange_inner(&self, url: &Url, request: &Request) -> Result<Answer, KeaError> {
        let body = serde_json::to_vec(request).map_err(|e| KeaError::Protocol {
            reason: format!("cannot encode the request: {e}"),
        })?;
        let mut builder = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        if !self.keepalive {
            builder = builder.header(CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(auth) = &self.auth {
            let password = auth.password()?;
            builder = builder.basic_auth(auth.username(), Some(password.expose()));
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        match status {
            StatusCode::UNAUTHORIZED => {
                if let Some(auth) = &self.auth {
                    auth.invalidate();
                }
                return Err(KeaError::Unauthorized);
            }
            StatusCode::FORBIDDEN => return Err(KeaError::Forbidden),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                return Err(KeaError::ServerError { status: s.as_u16() });
            }
            _ => {}
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_answer_bytes as u64)
        {
            return Err(too_large(self.max_answer_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > self.max_answer_bytes {
                return Err(too_large(self.max_answer_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            StatusCode::OK => wire::parse_answer(&body),
            StatusCode::BAD_REQUEST => Err(wire::parse_bad_request(&body)),
            other => Err(KeaError::Protocol {
                reason: format!("unexpected HTTP status {}", other.as_u16()),
            }),
        }
    }
}

fn too_large(limit: usize) -> KeaError {
    const MIB: usize = 1024 * 1024;
    let size = if limit >= MIB {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} bytes")
    };
    KeaError::Protocol {
        reason: format!("the answer exceeds {size}"),
    }
}

/// Maps a reqwest failure to our error. reqwest's own message names the URL; we build the reason
/// from the causes instead (the URL is logged separately, as the server's name).
///
/// A failure to establish the connection is flagged (`connect`): the health check treats it as
/// conclusive, so it must not cover what may be transient on a working server — connect timeouts
/// (a loaded server, a lost SYN), resets, a connection closed during the TLS handshake.
fn classify(e: &reqwest::Error) -> KeaError {
    if let Some(tls) = e.source().and_then(find_rustls_error) {
        return KeaError::Tls {
            reason: truncate(&tls.to_string()),
        };
    }
    if e.is_timeout() {
        return KeaError::Network {
            reason: "connection timed out".into(),
            connect: false,
        };
    }
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            let (reason, connect) = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => ("connection refused".to_string(), true),
                std::io::ErrorKind::ConnectionReset => ("connection reset".to_string(), false),
                std::io::ErrorKind::ConnectionAborted => ("connection aborted".to_string(), false),
                std::io::ErrorKind::TimedOut => ("connection timed out".to_string(), false),
                std::io::ErrorKind::UnexpectedEof => (
                    "connection closed before the answer was complete".to_string(),
                    false,
                ),
                // No route, unreachable network, name resolution: the connector failed.
                _ => (truncate(&io.to_string()), e.is_connect()),
            };
            return KeaError::Network { reason, connect };
        }
        source = err.source();
    }
    let reason = if e.is_connect() {
        format!("cannot connect ({})", error_chain(e))
    } else if e.is_body() || e.is_decode() {
        format!("connection lost while reading the answer ({})", error_chain(e))
    } else {
        error_chain(e)
    };
    KeaError::Network {
        reason,
        connect: e.is_connect(),
    }
}

/// A rustls error anywhere in the chain. The connectors wrap it in `io::Error`s (sometimes twice),
/// whose `source()` skips the wrapped error itself, so wrapped errors are opened with `get_ref`.
fn find_rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if let Some(tls) = find_rustls_error(inner) {
            return Some(tls);
        }
    }
    err.source().and_then(find_rustls_error)
}

/// The causes of an error without reqwest's top line (which names the URL).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(err) = source {
        parts.push(err.to_string());
        source = err.source();
    }
    if parts.is_empty() {
        parts.push(if e.is_connect() {
            "connect error".into()
        } else {
            "request failed".into()
        });
    }
    truncate(&parts.join(": "))
}
