//! A minimal HTTP client for a Kea control socket (readiness checks and test convenience).
//!
//! It sends exactly what it is given: tests that check Kea's HTTP handling (missing content type,
//! raw bodies, no credentials) use [`KeaClient::post_raw`].

use serde_json::{Value, json};

use super::config::{BasicAuth, TlsMaterial};

/// Why a request to Kea failed below the Kea protocol.
#[derive(Debug, thiserror::Error)]
pub enum KeaHttpError {
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    #[error("request to {url} failed: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("answer from {url} is not JSON (HTTP {status}): {body}")]
    NotJson { url: String, status: u16, body: String },
}

impl KeaHttpError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            KeaHttpError::Build(_) => "build",
            KeaHttpError::Transport { .. } => "transport",
            KeaHttpError::NotJson { .. } => "not-json",
        }
    }
}

/// An HTTP answer as received.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    pub body: String,
}

/// Talks to one Kea control socket (direct dhcp4 socket or Control Agent).
#[derive(Debug, Clone)]
pub struct KeaClient {
    url: String,
    http: reqwest::Client,
    auth: Option<BasicAuth>,
}

impl KeaClient {
    /// A client for `url`, trusting the CA of `tls` and presenting its client certificate when
    /// `present_client_cert` is set.
    pub fn new(
        url: &str,
        auth: Option<BasicAuth>,
        tls: Option<&TlsMaterial>,
        present_client_cert: bool,
    ) -> Result<Self, KeaHttpError> {
        let tls_config = match tls {
            Some(t) => {
                crate::certs::rustls_client_config(&t.ca_pem, present_client_cert.then_some(&t.client))
            }
            None => crate::certs::rustls_client_config("", None),
        }
        .map_err(|e| KeaHttpError::Build(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| KeaHttpError::Build(e.to_string()))?;
        Ok(KeaClient {
            url: url.to_string(),
            http,
            auth,
        })
    }

    /// The socket's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `{"command", "service": ["dhcp4"], "arguments"}` and returns the parsed answer (normally
    /// an array with one element per service).
    pub async fn command(&self, command: &str, arguments: Option<Value>) -> Result<Value, KeaHttpError> {
        let mut body = json!({"command": command, "service": ["dhcp4"]});
        if let (Some(args), Value::Object(m)) = (arguments, &mut body) {
            m.insert("arguments".into(), args);
        }
        let answer = self
            .post_raw(Some("application/json"), body.to_string(), true)
            .await?;
        serde_json::from_str(&answer.body).map_err(|_| KeaHttpError::NotJson {
            url: self.url.clone(),
            status: answer.status,
            body: answer.body.chars().take(500).collect(),
        })
    }

    /// The first element of [`Self::command`]'s array (what a dhcp4 socket answers).
    pub async fn command0(&self, command: &str, arguments: Option<Value>) -> Result<Value, KeaHttpError> {
        let answer = self.command(command, arguments).await?;
        Ok(match answer {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        })
    }

    /// POSTs `body` as is, with the given `Content-Type` (none when `None`), with or without the
    /// configured credentials.
    pub async fn post_raw(
        &self,
        content_type: Option<&str>,
        body: String,
        with_auth: bool,
    ) -> Result<RawAnswer, KeaHttpError> {
        let mut req = self.http.post(&self.url).body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let (true, Some(auth)) = (with_auth, &self.auth) {
            req = req.basic_auth(&auth.user, Some(&auth.password));
        }
        let resp = req.send().await.map_err(|source| KeaHttpError::Transport {
            url: self.url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|source| KeaHttpError::Transport {
            url: self.url.clone(),
            source,
        })?;
        Ok(RawAnswer { status, body })
    }
}
