//! [`KeaClient`]: the typed operations on one Kea server.
//!
//! Inputs are the `core` types (a normalized [`Mac`], [`SubnetId`], [`Ipv4Addr`]), so a malformed
//! request cannot be built. Results map Kea's codes to Rust: "not found" on a read is `None` or an
//! empty list, on a delete it is [`Deletion::NotFound`]; everything else that is not success is a
//! [`KeaError`]. A client sends every call at most once; retries, failover and the circuit breaker
//! live in [`super::KeaServers`].

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use reqwest::Url;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::core::{Host, HostSource, Lease, Mac, Subnet, SubnetId};
use crate::metrics::Metrics;

use super::transport::Transport;
use super::wire::{
    self, Answer, ConfigGetArgs, ConfigSummary, HostsArgs, LeasesArgs, PageArgs, PageCursor, Request,
    ServerStatus, StatusArgs, SubnetListArgs, Version, VersionArgs,
};
use super::{KeaError, OperationTarget, ServerId};

/// A hook library the operator depends on, detected from `list-commands`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// `reservation-*`: required.
    HostCmds,
    /// `lease4-*`: required (lease lookup).
    LeaseCmds,
    /// `subnet4-list`: optional (falls back to `config-get`).
    SubnetCmds,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::HostCmds, Hook::LeaseCmds, Hook::SubnetCmds];

    /// Kea's name for the hook (`host_cmds`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::HostCmds => "host_cmds",
            Hook::LeaseCmds => "lease_cmds",
            Hook::SubnetCmds => "subnet_cmds",
        }
    }

    /// Whether the operator cannot work with a server that lacks it.
    pub fn is_required(self) -> bool {
        !matches!(self, Hook::SubnetCmds)
    }

    /// Commands that show the hook is loaded (all must be listed).
    fn commands(self) -> &'static [&'static str] {
        match self {
            Hook::HostCmds => &[
                "reservation-add",
                "reservation-get",
                "reservation-del",
                "reservation-get-page",
            ],
            Hook::LeaseCmds => &["lease4-get-by-hw-address"],
            Hook::SubnetCmds => &["subnet4-list"],
        }
    }
}

impl std::fmt::Display for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The commands a server offers (`list-commands`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandSet(BTreeSet<String>);

impl<S: Into<String>> FromIterator<S> for CommandSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        CommandSet(iter.into_iter().map(Into::into).collect())
    }
}

impl CommandSet {
    pub fn contains(&self, command: &str) -> bool {
        self.0.contains(command)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The hooks whose commands are not all offered.
    pub fn missing_hooks(&self) -> Vec<Hook> {
        Hook::ALL
            .into_iter()
            .filter(|h| !h.commands().iter().all(|c| self.contains(c)))
            .collect()
    }

    /// Required hooks that are missing: the server cannot serve the operator.
    pub fn missing_required_hooks(&self) -> Vec<Hook> {
        self.missing_hooks()
            .into_iter()
            .filter(|h| h.is_required())
            .collect()
    }
}

/// Where a subnet list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubnetSource {
    /// `subnet4-list` (subnet_cmds).
    SubnetCmds,
    /// `config-get`, because subnet_cmds is not loaded.
    ConfigGet,
}

/// A server's IPv4 subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetList {
    pub subnets: Vec<Subnet>,
    pub source: SubnetSource,
}

/// The outcome of `reservation-del`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// Result 3. Counts as success for cleanup — but only from a server whose hosts database is up
    /// (SPEC §4: with the database down Kea answers "not found" untruthfully).
    NotFound,
}

/// One page of `reservation-get-page`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPage {
    /// Hosts identified by hw-address with an IPv4 address.
    pub hosts: Vec<Host>,
    /// Hosts on the page that are identified otherwise (DUID, client-id, …): never ours.
    pub skipped: usize,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<PageCursor>,
}

/// The typed operations on one Kea server. Cheap to clone (shared inside).
#[derive(Clone, Debug)]
pub struct KeaClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    server: ServerId,
    url: Url,
    transport: Transport,
    in_flight: Semaphore,
    metrics: Arc<Metrics>,
}

impl KeaClient {
    /// `max_in_flight` caps this server's concurrent requests (`KEA_MAX_IN_FLIGHT`): Kea shares its
    /// threads with DHCP service, so the operator must not flood it. Requests beyond the cap wait.
    pub fn new(
        server: ServerId,
        url: Url,
        transport: Transport,
        max_in_flight: u32,
        metrics: Arc<Metrics>,
    ) -> Self {
        let permits = usize::try_from(max_in_flight.max(1)).unwrap_or(1);
        KeaClient {
            inner: Arc::new(ClientInner {
                server,
                url,
                transport,
                in_flight: Semaphore::new(permits),
                metrics,
            }),
        }
    }

    pub fn server(&self) -> ServerId {
        self.inner.server
    }

    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// Sends one command; returns Kea's answer whatever its result code. Transport failures, HTTP
    /// errors and malformed answers are errors.
    pub async fn call(&self, request: &Request) -> Result<Answer, KeaError> {
        let inner = &self.inner;
        let _permit = inner.in_flight.acquire().await.map_err(|_| KeaError::Network {
            reason: "client is shut down".into(),
            connect: false,
        })?;
        let _gauge = inner.metrics.kea_in_flight(inner.server);
        let started = Instant::now();
        let result = inner.transport.exchange(&inner.url, request).await;
        let elapsed = started.elapsed();
        inner
            .metrics
            .observe_kea_call(request.command, inner.server, elapsed, result.as_ref().err());
        match &result {
            Ok(answer) => tracing::debug!(
                server = %inner.server, command = request.command, result = answer.result,
                elapsed_ms = elapsed.as_millis() as u64, "kea call"
            ),
            Err(e) => tracing::debug!(
                server = %inner.server, command = request.command, category = e.category(), error = %e,
                elapsed_ms = elapsed.as_millis() as u64, "kea call failed"
            ),
        }
        result
    }

    async fn success(&self, request: Request) -> Result<Option<serde_json::Value>, KeaError> {
        self.call(&request).await?.success(request.command)
    }

    /// `list-commands`.
    pub async fn list_commands(&self) -> Result<CommandSet, KeaError> {
        let args = self.success(Request::list_commands()).await?;
        let commands: Vec<String> = wire::decode("list-commands", args)?;
        Ok(CommandSet(commands.into_iter().collect()))
    }

    /// `version-get`.
    pub async fn version_get(&self) -> Result<Version, KeaError> {
        let request = Request::version_get();
        let answer = self.call(&request).await?;
        let text = answer.text.clone();
        let args = answer.success(request.command)?;
        let extended = match args {
            Some(args) => wire::decode::<VersionArgs>("version-get", Some(args))?.extended,
            None => None,
        };
        Ok(Version {
            version: text,
            extended,
        })
    }

    /// `status-get`: pid, uptime and reload for restart detection, the hosts database's state, HA state.
    pub async fn status_get(&self) -> Result<ServerStatus, KeaError> {
        let args = self.success(Request::status_get()).await?;
        Ok(wire::decode::<StatusArgs>("status-get", args)?.into_status())
    }

    /// `config-get`, reduced to what the operator needs. The answer holds the hosts database's
    /// password: it is never logged, and nothing but this summary is kept.
    pub async fn config_get_summary(&self) -> Result<ConfigSummary, KeaError> {
        let args = self.success(Request::config_get()).await?;
        wire::decode::<ConfigGetArgs>("config-get", args)?.into_summary()
    }

    /// The server's IPv4 subnets: `subnet4-list`, or `config-get` when subnet_cmds is not loaded
    /// (result 2), with shared networks' subnets included.
    pub async fn subnets(&self) -> Result<SubnetList, KeaError> {
        let request = Request::subnet4_list();
        let answer = self.call(&request).await?;
        match answer.result {
            0 => Ok(SubnetList {
                subnets: wire::decode::<SubnetListArgs>(request.command, answer.arguments)?.into_subnets()?,
                source: SubnetSource::SubnetCmds,
            }),
            3 => Ok(SubnetList {
                subnets: Vec::new(),
                source: SubnetSource::SubnetCmds,
            }),
            2 => Ok(SubnetList {
                subnets: self.config_get_summary().await?.subnets,
                source: SubnetSource::ConfigGet,
            }),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// `lease4-get-by-hw-address`; no lease → empty.
    pub async fn leases_by_hw_address(&self, mac: Mac) -> Result<Vec<Lease>, KeaError> {
        let request = Request::lease4_get_by_hw_address(mac);
        let answer = self.call(&request).await?;
        match answer.result {
            0 => wire::decode::<LeasesArgs>(request.command, answer.arguments)?.into_leases(),
            3 => Ok(Vec::new()),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// `reservation-get` by subnet and MAC; not found → `None`.
    pub async fn reservation_get(
        &self,
        subnet: SubnetId,
        mac: Mac,
        target: OperationTarget,
    ) -> Result<Option<Host>, KeaError> {
        let request = Request::reservation_get(subnet, mac, target);
        let answer = self.call(&request).await?;
        match answer.result {
            0 => {
                let host: wire::WireHost = wire::decode(request.command, answer.arguments)?;
                host.into_host(subnet, source_of(target))?
                    .map(Some)
                    .ok_or_else(|| KeaError::Protocol {
                        reason: "reservation-get: the host has no hw-address or ip-address".into(),
                    })
            }
            3 => Ok(None),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// `reservation-get-by-address`: the hosts holding `ip` in `subnet` (hosts not identified by MAC
    /// are left out).
    pub async fn reservation_get_by_address(
        &self,
        subnet: SubnetId,
        ip: Ipv4Addr,
        target: OperationTarget,
    ) -> Result<Vec<Host>, KeaError> {
        let request = Request::reservation_get_by_address(subnet, ip, target);
        let answer = self.call(&request).await?;
        match answer.result {
            0 => {
                let args: HostsArgs = wire::decode(request.command, answer.arguments)?;
                let mut hosts = Vec::with_capacity(args.hosts.len());
                for host in args.hosts {
                    hosts.extend(host.into_host(subnet, source_of(target))?);
                }
                Ok(hosts)
            }
            3 => Ok(Vec::new()),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// `reservation-add`. A host for this MAC already in the subnet is
    /// [`ConflictKind::HostExists`](super::ConflictKind::HostExists); the address reserved for another
    /// host is [`ConflictKind::AddressReserved`](super::ConflictKind::AddressReserved).
    pub async fn reservation_add(&self, host: &Host, target: OperationTarget) -> Result<(), KeaError> {
        self.success(Request::reservation_add(host, target))
            .await
            .map(drop)
    }

    /// `reservation-update`: replaces the host whole.
    ///
    /// Never use it to change a reservation's **address**: with a hosts database Kea implements it as
    /// delete + insert, and a clash on the new address leaves the host deleted (measured, SPEC §2).
    /// Change an address with [`KeaClient::reservation_del`] + [`KeaClient::reservation_add`] after
    /// checking the new address is free. Updating other fields (user-context, hostname) is safe.
    pub async fn reservation_update(&self, host: &Host, target: OperationTarget) -> Result<(), KeaError> {
        self.success(Request::reservation_update(host, target))
            .await
            .map(drop)
    }

    /// `reservation-del` by subnet and MAC.
    pub async fn reservation_del(
        &self,
        subnet: SubnetId,
        mac: Mac,
        target: OperationTarget,
    ) -> Result<Deletion, KeaError> {
        let request = Request::reservation_del(subnet, mac, target);
        let answer = self.call(&request).await?;
        match answer.result {
            0 => Ok(Deletion::Deleted),
            3 => Ok(Deletion::NotFound),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// One page of `reservation-get-page`. Start with `cursor = None`, continue with the returned
    /// `next` until it is `None`. Each host's `source` tells whether it came from memory or the hosts
    /// database (Kea pages memory first, then the database).
    pub async fn reservation_get_page(
        &self,
        subnet: SubnetId,
        limit: u32,
        cursor: Option<PageCursor>,
    ) -> Result<HostPage, KeaError> {
        let request = Request::reservation_get_page(subnet, limit.max(1), cursor);
        let answer = self.call(&request).await?;
        match answer.result {
            0 => {
                let page: PageArgs = wire::decode(request.command, answer.arguments)?;
                // A page comes from one source: the one its `next` points into.
                let source = page.next.or(cursor).map(|c| {
                    if c.source_index == 0 {
                        HostSource::Memory
                    } else {
                        HostSource::Database
                    }
                });
                let mut hosts = Vec::with_capacity(page.hosts.len());
                let mut skipped = 0;
                for host in page.hosts {
                    match host.into_host(subnet, source)? {
                        Some(host) => hosts.push(host),
                        None => skipped += 1,
                    }
                }
                Ok(HostPage {
                    hosts,
                    skipped,
                    next: page.next,
                })
            }
            3 => Ok(HostPage {
                hosts: Vec::new(),
                skipped: 0,
                next: None,
            }),
            _ => Err(answer.into_error(request.command)),
        }
    }

    /// `config-write`: persists the running configuration, memory reservations included, to the
    /// server's configuration file.
    pub async fn config_write(&self) -> Result<(), KeaError> {
        self.success(Request::config_write()).await.map(drop)
    }
}

fn source_of(target: OperationTarget) -> Option<HostSource> {
    match target {
        OperationTarget::Memory => Some(HostSource::Memory),
        OperationTarget::Database => Some(HostSource::Database),
        OperationTarget::All | OperationTarget::Default => None,
    }
}
