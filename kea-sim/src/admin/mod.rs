//! The admin HTTP API (on its own port, never on the Kea port): state, faults, DHCP actions,
//! request log, reset, restart, down/up, partition, database outage. Every route takes
//! `?server=primary|secondary` (or the HA server name); the default is the primary.
//! `kea-sim/README.md` documents each route with curl examples.

pub mod client;
pub mod types;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use client::{AdminClient, AdminError};
use types::{AdminErrorBody, DbOutageRequest, DhcpLease, DhcpRequest, FaultIds};

use crate::faults::Fault;
use crate::model::LeaseView;
use crate::runtime::{Running, SimServer};
use crate::server::PairLink;

/// Shared state of the admin routes.
#[derive(Clone)]
pub struct AdminState {
    servers: Vec<Arc<SimServer>>,
    link: Option<Arc<PairLink>>,
}

impl AdminState {
    /// State for a running simulation.
    pub fn new(r: &Running) -> Self {
        AdminState {
            servers: r.servers.clone(),
            link: r.link.clone(),
        }
    }

    fn server(&self, name: Option<&str>) -> Result<&Arc<SimServer>, ApiError> {
        match name {
            None | Some("") => self
                .servers
                .first()
                .ok_or_else(|| ApiError::not_found("no server")),
            Some(n) => self
                .servers
                .iter()
                .find(|s| s.name == n || s.aliases.iter().any(|a| a == n))
                .ok_or_else(|| ApiError::not_found(&format!("no server named '{n}'"))),
        }
    }
}

/// An admin API error (JSON body `{"error": "..."}`).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn not_found(m: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: m.to_string(),
        }
    }
    fn bad(m: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: m.into(),
        }
    }
    fn conflict(m: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            message: m.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(AdminErrorBody { error: self.message })).into_response()
    }
}

#[derive(Debug, Default, Deserialize)]
struct ServerQuery {
    server: Option<String>,
    since: Option<u64>,
    target: Option<String>,
}

/// Serve the admin API on `listener` until `shutdown`.
pub fn spawn(listener: tokio::net::TcpListener, state: AdminState, shutdown: CancellationToken) {
    let app = router(state);
    tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "admin API stopped");
        }
    });
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/servers", get(servers))
        .route("/state", get(state_snapshot))
        .route("/hosts", get(hosts))
        .route("/leases", get(leases))
        .route("/faults", get(list_faults).post(add_faults).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/dhcp/acquire", post(dhcp_acquire))
        .route("/dhcp/release", post(dhcp_release))
        .route("/dhcp/expire", post(dhcp_expire))
        .route("/log", get(log).delete(clear_log))
        .route("/reset", post(reset))
        .route("/restart", post(restart))
        .route("/down", post(down))
        .route("/up", post(up))
        .route("/partition", post(partition))
        .route("/heal", post(heal))
        .route("/db/outage", post(db_outage))
        .with_state(state)
}

async fn servers(State(s): State<AdminState>) -> Json<Vec<types::ServerInfo>> {
    Json(s.servers.iter().map(|x| x.info()).collect())
}

async fn state_snapshot(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(s.server(q.server.as_deref())?.snapshot()).into_response())
}

async fn hosts(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    Ok(Json(s.server(q.server.as_deref())?.hosts()).into_response())
}

async fn leases(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    Ok(Json(s.server(q.server.as_deref())?.leases()).into_response())
}

async fn list_faults(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    Ok(Json(srv.node.faults.lock().list()).into_response())
}

/// One fault or a list of faults.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Fault),
    Many(Vec<Fault>),
}

async fn add_faults(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
    body: Result<Json<OneOrMany>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad(format!("invalid fault: {e}")))?;
    let srv = s.server(q.server.as_deref())?;
    let faults = match body {
        OneOrMany::One(f) => vec![f],
        OneOrMany::Many(v) => v,
    };
    for f in &faults {
        if let Some(p) = f.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(ApiError::bad(format!("probability {p} is not between 0 and 1")));
        }
    }
    let mut engine = srv.node.faults.lock();
    let ids = faults.into_iter().map(|f| engine.add(f)).collect();
    Ok((StatusCode::CREATED, Json(FaultIds { ids })).into_response())
}

async fn clear_faults(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    srv.node.faults.lock().clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_fault(
    State(s): State<AdminState>,
    Path(id): Path<u64>,
    Query(q): Query<ServerQuery>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    if srv.node.faults.lock().remove(id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(&format!("no fault {id}")))
    }
}

fn dhcp_body(
    body: Result<Json<DhcpRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(Vec<u8>, Option<u32>), ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad(format!("invalid request: {e}")))?;
    let mac = crate::dhcp::parse_mac(&req.mac).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok((mac, req.subnet_id))
}

async fn dhcp_acquire(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
    body: Result<Json<DhcpRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    let (mac, subnet) = dhcp_body(body)?;
    let lease =
        crate::dhcp::acquire(&srv.node, &mac, subnet).map_err(|e| ApiError::conflict(e.to_string()))?;
    Ok(Json(DhcpLease {
        ip_address: lease.ip,
        lease: LeaseView::from(&lease),
    })
    .into_response())
}

async fn dhcp_release(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
    body: Result<Json<DhcpRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    let (mac, subnet) = dhcp_body(body)?;
    let lease =
        crate::dhcp::release(&srv.node, &mac, subnet).map_err(|e| ApiError::conflict(e.to_string()))?;
    Ok(Json(LeaseView::from(&lease)).into_response())
}

async fn dhcp_expire(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
    body: Result<Json<DhcpRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    let (mac, subnet) = dhcp_body(body)?;
    let lease =
        crate::dhcp::expire(&srv.node, &mac, subnet).map_err(|e| ApiError::conflict(e.to_string()))?;
    Ok(Json(LeaseView::from(&lease)).into_response())
}

async fn log(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    Ok(Json(srv.node.log.snapshot(&srv.name, q.since.unwrap_or(0))).into_response())
}

async fn clear_log(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    let srv = s.server(q.server.as_deref())?;
    srv.node.log.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn targets<'a>(s: &'a AdminState, q: &ServerQuery) -> Result<Vec<&'a Arc<SimServer>>, ApiError> {
    match q.server.as_deref() {
        Some("all") => Ok(s.servers.iter().collect()),
        other => Ok(vec![s.server(other)?]),
    }
}

async fn reset(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    for srv in targets(&s, &q)? {
        srv.reset().await;
    }
    if q.server.as_deref() == Some("all")
        && let Some(l) = &s.link
    {
        l.set_partitioned(false);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restart(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    for srv in targets(&s, &q)? {
        srv.restart()
            .await
            .map_err(|e| ApiError::conflict(format!("restart failed: {e}")))?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn agent_target(q: &ServerQuery) -> Result<bool, ApiError> {
    match q.target.as_deref() {
        None | Some("daemon") => Ok(false),
        Some("agent") => Ok(true),
        Some(other) => Err(ApiError::bad(format!(
            "target must be 'daemon' or 'agent', not '{other}'"
        ))),
    }
}

async fn down(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    let agent = agent_target(&q)?;
    for srv in targets(&s, &q)? {
        srv.set_down(true, agent).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn up(State(s): State<AdminState>, Query(q): Query<ServerQuery>) -> Result<Response, ApiError> {
    let agent = agent_target(&q)?;
    for srv in targets(&s, &q)? {
        srv.set_down(false, agent).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn partition(State(s): State<AdminState>) -> Result<Response, ApiError> {
    let link = s
        .link
        .as_ref()
        .ok_or_else(|| ApiError::conflict("not an HA pair"))?;
    link.set_partitioned(true);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn heal(State(s): State<AdminState>) -> Result<Response, ApiError> {
    let link = s
        .link
        .as_ref()
        .ok_or_else(|| ApiError::conflict("not an HA pair"))?;
    link.set_partitioned(false);
    if let Some(first) = s.servers.first() {
        crate::ha::resync_pair(&first.node);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn db_outage(
    State(s): State<AdminState>,
    Query(q): Query<ServerQuery>,
    body: Result<Json<DbOutageRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad(format!("invalid request: {e}")))?;
    let srv = s.server(q.server.as_deref())?;
    let dbs = srv.node.databases();
    if dbs.is_empty() {
        return Err(ApiError::conflict("this server has no hosts database"));
    }
    for db in dbs {
        db.set_outage(req.mode);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
