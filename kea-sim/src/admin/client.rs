//! An async client of the admin API, for tests that run kea-sim as a process or a container.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{DbOutageRequest, DhcpLease, DhcpRequest, FaultIds, ServerInfo, StateSnapshot};
use crate::faults::{Fault, FaultView};
use crate::model::{HostView, LeaseView};
use crate::reqlog::ReceivedCommand;
use crate::store::DbOutage;

/// Admin API errors.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The HTTP exchange failed.
    #[error("admin API request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The admin API refused the request.
    #[error("admin API answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Its error text.
        message: String,
    },
    /// The client could not be built.
    #[error("cannot build the admin client: {0}")]
    Setup(String),
}

impl AdminError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            AdminError::Transport(_) => "transport",
            AdminError::Api { .. } => "api",
            AdminError::Setup(_) => "setup",
        }
    }
}

/// How long an admin request may take before it fails with a transport error.
pub const ADMIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A client of one kea-sim admin API (`http://HOST:PORT/`).
#[derive(Clone, Debug)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

fn server_query(server: &str) -> String {
    format!("server={server}")
}

impl AdminClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8001`).
    pub fn new(base: &str) -> Result<Self, AdminError> {
        // The workspace builds reqwest without a default crypto provider; the admin API is plain
        // HTTP, but reqwest still wants a TLS configuration.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AdminError::Setup(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            // A frozen simulator (a paused container, a SIGSTOPped process) must fail the caller's
            // test, not hang it; every admin request answers in milliseconds otherwise.
            .timeout(ADMIN_TIMEOUT)
            .build()
            .map_err(|e| AdminError::Setup(e.to_string()))?;
        Ok(AdminClient {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    fn url(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        }
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, AdminError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<super::types::AdminErrorBody>(&text).map_or(text, |b| b.error);
        Err(AdminError::Api {
            status: status.as_u16(),
            message,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &str) -> Result<T, AdminError> {
        let r = self.http.get(self.url(path, query)).send().await?;
        Ok(Self::check(r).await?.json().await?)
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        body: &B,
    ) -> Result<T, AdminError> {
        let r = self.http.post(self.url(path, query)).json(body).send().await?;
        Ok(Self::check(r).await?.json().await?)
    }

    async fn post_empty(&self, path: &str, query: &str) -> Result<(), AdminError> {
        let r = self.http.post(self.url(path, query)).send().await?;
        Self::check(r).await.map(|_| ())
    }

    async fn delete(&self, path: &str, query: &str) -> Result<(), AdminError> {
        let r = self.http.delete(self.url(path, query)).send().await?;
        Self::check(r).await.map(|_| ())
    }

    /// `GET /servers`.
    pub async fn servers(&self) -> Result<Vec<ServerInfo>, AdminError> {
        self.get("/servers", "").await
    }

    /// `GET /state`.
    pub async fn state(&self, server: &str) -> Result<StateSnapshot, AdminError> {
        self.get("/state", &server_query(server)).await
    }

    /// `GET /hosts`.
    pub async fn hosts(&self, server: &str) -> Result<Vec<HostView>, AdminError> {
        self.get("/hosts", &server_query(server)).await
    }

    /// `GET /leases`.
    pub async fn leases(&self, server: &str) -> Result<Vec<LeaseView>, AdminError> {
        self.get("/leases", &server_query(server)).await
    }

    /// `POST /faults`: returns the fault's id.
    pub async fn inject(&self, server: &str, fault: &Fault) -> Result<u64, AdminError> {
        let ids: FaultIds = self.post_json("/faults", &server_query(server), fault).await?;
        ids.ids
            .first()
            .copied()
            .ok_or_else(|| AdminError::Setup("no fault id returned".into()))
    }

    /// `GET /faults`.
    pub async fn faults(&self, server: &str) -> Result<Vec<FaultView>, AdminError> {
        self.get("/faults", &server_query(server)).await
    }

    /// `DELETE /faults/{id}`.
    pub async fn remove_fault(&self, server: &str, id: u64) -> Result<(), AdminError> {
        self.delete(&format!("/faults/{id}"), &server_query(server)).await
    }

    /// `DELETE /faults`.
    pub async fn clear_faults(&self, server: &str) -> Result<(), AdminError> {
        self.delete("/faults", &server_query(server)).await
    }

    /// `POST /dhcp/acquire`: the address the device obtained.
    pub async fn dhcp_acquire(
        &self,
        server: &str,
        mac: &str,
        subnet_id: Option<u32>,
    ) -> Result<DhcpLease, AdminError> {
        self.post_json(
            "/dhcp/acquire",
            &server_query(server),
            &DhcpRequest {
                mac: mac.into(),
                subnet_id,
            },
        )
        .await
    }

    /// `POST /dhcp/release`.
    pub async fn dhcp_release(
        &self,
        server: &str,
        mac: &str,
        subnet_id: Option<u32>,
    ) -> Result<LeaseView, AdminError> {
        self.post_json(
            "/dhcp/release",
            &server_query(server),
            &DhcpRequest {
                mac: mac.into(),
                subnet_id,
            },
        )
        .await
    }

    /// `POST /dhcp/expire`.
    pub async fn dhcp_expire(
        &self,
        server: &str,
        mac: &str,
        subnet_id: Option<u32>,
    ) -> Result<LeaseView, AdminError> {
        self.post_json(
            "/dhcp/expire",
            &server_query(server),
            &DhcpRequest {
                mac: mac.into(),
                subnet_id,
            },
        )
        .await
    }

    /// `GET /log?since=`: requests after sequence `since`.
    pub async fn log(&self, server: &str, since: u64) -> Result<Vec<ReceivedCommand>, AdminError> {
        self.get("/log", &format!("{}&since={since}", server_query(server)))
            .await
    }

    /// `DELETE /log`.
    pub async fn clear_log(&self, server: &str) -> Result<(), AdminError> {
        self.delete("/log", &server_query(server)).await
    }

    /// `POST /reset` (`server` may be `all`).
    pub async fn reset(&self, server: &str) -> Result<(), AdminError> {
        self.post_empty("/reset", &server_query(server)).await
    }

    /// `POST /restart`.
    pub async fn restart(&self, server: &str) -> Result<(), AdminError> {
        self.post_empty("/restart", &server_query(server)).await
    }

    /// `POST /down` (connections refused).
    pub async fn down(&self, server: &str) -> Result<(), AdminError> {
        self.post_empty("/down", &server_query(server)).await
    }

    /// `POST /up`.
    pub async fn up(&self, server: &str) -> Result<(), AdminError> {
        self.post_empty("/up", &server_query(server)).await
    }

    /// `POST /down?target=...` / `POST /up?target=...` for the daemon or the Control Agent.
    pub async fn set_down_target(&self, server: &str, down: bool, target: &str) -> Result<(), AdminError> {
        let q = format!("{}&target={target}", server_query(server));
        self.post_empty(if down { "/down" } else { "/up" }, &q).await
    }

    /// `POST /partition`.
    pub async fn partition(&self) -> Result<(), AdminError> {
        self.post_empty("/partition", "").await
    }

    /// `POST /heal`.
    pub async fn heal(&self) -> Result<(), AdminError> {
        self.post_empty("/heal", "").await
    }

    /// `POST /db/outage` (`None` ends it).
    pub async fn db_outage(&self, server: &str, mode: Option<DbOutage>) -> Result<(), AdminError> {
        let r = self
            .http
            .post(self.url("/db/outage", &server_query(server)))
            .json(&DbOutageRequest { mode })
            .send()
            .await?;
        Self::check(r).await.map(|_| ())
    }
}
