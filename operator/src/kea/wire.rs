//! Kea's wire format: the request envelope, the answer envelope, and the argument shapes of the
//! commands we use, mapped to the `core` types.
//!
//! Parsing is strict about what we use and lenient about the rest: unknown fields are ignored (Kea
//! adds fields between versions), a missing or wrongly typed field we need is a
//! [`KeaError::Protocol`], never a panic.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::core::{Host, HostSource, Lease, Mac, Subnet, SubnetId};

use super::error::{KeaError, truncate};
use super::target::OperationTarget;

/// The one service the operator talks to. A Kea 3.x direct socket ignores `service`; a Control Agent
/// needs it (SPEC §4).
const SERVICE: [&str; 1] = ["dhcp4"];

/// A Kea command as sent: always `{"command", "service": ["dhcp4"], "arguments"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub command: &'static str,
    service: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

impl Request {
    pub fn new(command: &'static str, arguments: Option<Value>) -> Self {
        Request {
            command,
            service: SERVICE,
            arguments,
        }
    }

    pub fn list_commands() -> Self {
        Request::new("list-commands", None)
    }

    pub fn version_get() -> Self {
        Request::new("version-get", None)
    }

    pub fn status_get() -> Self {
        Request::new("status-get", None)
    }

    pub fn config_get() -> Self {
        Request::new("config-get", None)
    }

    pub fn config_write() -> Self {
        Request::new("config-write", None)
    }

    pub fn subnet4_list() -> Self {
        Request::new("subnet4-list", None)
    }

    pub fn lease4_get_by_hw_address(mac: Mac) -> Self {
        Request::new(
            "lease4-get-by-hw-address",
            Some(json!({ "hw-address": mac.to_string() })),
        )
    }

    pub fn reservation_get(subnet: SubnetId, mac: Mac, target: OperationTarget) -> Self {
        Request::new(
            "reservation-get",
            Some(with_target(by_hw_address(subnet, mac), target)),
        )
    }

    pub fn reservation_get_by_address(subnet: SubnetId, ip: Ipv4Addr, target: OperationTarget) -> Self {
        let mut args = Map::new();
        args.insert("subnet-id".into(), json!(subnet.0));
        args.insert("ip-address".into(), json!(ip.to_string()));
        Request::new("reservation-get-by-address", Some(with_target(args, target)))
    }

    pub fn reservation_add(host: &Host, target: OperationTarget) -> Self {
        let mut args = Map::new();
        args.insert("reservation".into(), host_to_wire(host));
        Request::new("reservation-add", Some(with_target(args, target)))
    }

    pub fn reservation_update(host: &Host, target: OperationTarget) -> Self {
        let mut args = Map::new();
        args.insert("reservation".into(), host_to_wire(host));
        Request::new("reservation-update", Some(with_target(args, target)))
    }

    pub fn reservation_del(subnet: SubnetId, mac: Mac, target: OperationTarget) -> Self {
        Request::new(
            "reservation-del",
            Some(with_target(by_hw_address(subnet, mac), target)),
        )
    }

    /// `reservation-get-page` ignores `operation-target` (measured), so none is sent.
    pub fn reservation_get_page(subnet: SubnetId, limit: u32, cursor: Option<PageCursor>) -> Self {
        let mut args = Map::new();
        args.insert("subnet-id".into(), json!(subnet.0));
        args.insert("limit".into(), json!(limit));
        if let Some(cursor) = cursor {
            args.insert("from".into(), json!(cursor.from));
            args.insert("source-index".into(), json!(cursor.source_index));
        }
        Request::new("reservation-get-page", Some(Value::Object(args)))
    }
}

fn by_hw_address(subnet: SubnetId, mac: Mac) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("subnet-id".into(), json!(subnet.0));
    args.insert("identifier-type".into(), json!("hw-address"));
    args.insert("identifier".into(), json!(mac.to_string()));
    args
}

fn with_target(mut args: Map<String, Value>, target: OperationTarget) -> Value {
    if let Some(target) = target.wire() {
        args.insert("operation-target".into(), json!(target));
    }
    Value::Object(args)
}

fn host_to_wire(host: &Host) -> Value {
    let mut reservation = Map::new();
    reservation.insert("subnet-id".into(), json!(host.subnet_id.0));
    reservation.insert("hw-address".into(), json!(host.hw_address.to_string()));
    reservation.insert("ip-address".into(), json!(host.ip_address.to_string()));
    if let Some(hostname) = host.hostname.as_deref().filter(|h| !h.is_empty()) {
        reservation.insert("hostname".into(), json!(hostname));
    }
    if let Some(context) = &host.user_context {
        reservation.insert("user-context".into(), context.clone());
    }
    Value::Object(reservation)
}

/// Where `reservation-get-page` continues: Kea pages memory (`source-index` 0), then the hosts
/// database (1); `from` is the last host id seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageCursor {
    pub from: u64,
    #[serde(rename = "source-index")]
    pub source_index: u32,
}

/// One answer element: `{"result", "text", "arguments"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub result: i64,
    pub text: String,
    pub arguments: Option<Value>,
}

#[derive(Deserialize)]
struct RawAnswer {
    result: i64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

impl Answer {
    /// Result 0 → the arguments (possibly none); any other result → the classified error.
    pub fn success(self, command: &str) -> Result<Option<Value>, KeaError> {
        if self.result == 0 {
            Ok(self.arguments)
        } else {
            Err(self.into_error(command))
        }
    }

    pub fn into_error(self, command: &str) -> KeaError {
        KeaError::from_result(command, self.result, &self.text)
    }
}

/// Parses the body of an HTTP 200 answer. Kea answers with an array, one element per service; a
/// single object (a direct socket of some versions) is accepted too.
pub fn parse_answer(body: &[u8]) -> Result<Answer, KeaError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| protocol_for_body(body, &e))?;
    let element = match value {
        Value::Array(mut items) => {
            if items.is_empty() {
                return Err(protocol("an empty answer array"));
            }
            items.swap_remove(0)
        }
        object @ Value::Object(_) => object,
        other => {
            return Err(protocol(format!(
                "a JSON {} instead of Kea's answer array",
                json_kind(&other)
            )));
        }
    };
    let raw: RawAnswer = serde_json::from_value(element).map_err(|e| {
        protocol(format!(
            "an answer element without an integer 'result' ({})",
            truncate(&e.to_string())
        ))
    })?;
    Ok(Answer {
        result: raw.result,
        text: raw.text.unwrap_or_default(),
        arguments: raw.arguments,
    })
}

/// Kea's HTTP 400 answer is an object `{"result": 400, "text": "Bad Request"}`: the request itself was
/// refused (content type, method or JSON). Anything else with 400 comes from something in between.
pub fn parse_bad_request(body: &[u8]) -> KeaError {
    match serde_json::from_slice::<RawAnswer>(body) {
        Ok(raw) => protocol(format!(
            "Kea refused the request as malformed (HTTP 400: {})",
            truncate(raw.text.as_deref().unwrap_or("no text"))
        )),
        Err(_) => protocol("HTTP 400 without Kea's answer"),
    }
}

fn protocol(reason: impl Into<String>) -> KeaError {
    KeaError::Protocol {
        reason: reason.into(),
    }
}

fn protocol_for_body(body: &[u8], e: &serde_json::Error) -> KeaError {
    let start = body.iter().find(|b| !b.is_ascii_whitespace());
    if body.is_empty() || start.is_none() {
        return protocol("an empty body");
    }
    if start == Some(&b'<') {
        return protocol("an HTML page, not a Kea answer (a proxy or a wrong URL?)");
    }
    if e.is_eof() {
        return protocol("truncated JSON");
    }
    protocol(format!("a body that is not JSON ({})", truncate(&e.to_string())))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes a command's arguments into the typed shape we need.
pub fn decode<T: DeserializeOwned>(command: &str, arguments: Option<Value>) -> Result<T, KeaError> {
    let Some(arguments) = arguments else {
        return Err(protocol(format!("{command}: the answer has no arguments")));
    };
    serde_json::from_value(arguments).map_err(|e| {
        protocol(format!(
            "{command}: unexpected arguments ({})",
            truncate(&e.to_string())
        ))
    })
}

// --- argument shapes -------------------------------------------------------------------------

/// A host as Kea returns it. Only hosts identified by hw-address with an IPv4 address are ours to
/// reason about; others (DUID, client-id, flex-id, hostname-only) are skipped by the pager.
#[derive(Debug, Deserialize)]
pub struct WireHost {
    #[serde(rename = "subnet-id")]
    subnet_id: Option<u32>,
    #[serde(rename = "hw-address")]
    hw_address: Option<String>,
    #[serde(rename = "ip-address")]
    ip_address: Option<String>,
    hostname: Option<String>,
    #[serde(rename = "user-context")]
    user_context: Option<Value>,
}

impl WireHost {
    /// `None` when the host is not identified by a MAC or has no IPv4 address; an unparsable MAC or
    /// address is a protocol error (Kea normalizes both).
    pub fn into_host(
        self,
        default_subnet: SubnetId,
        source: Option<HostSource>,
    ) -> Result<Option<Host>, KeaError> {
        let (Some(hw), Some(ip)) = (self.hw_address, self.ip_address) else {
            return Ok(None);
        };
        let hw_address = Mac::parse(&hw).map_err(|_| protocol("a host with a malformed hw-address"))?;
        let ip_address: Ipv4Addr = ip
            .parse()
            .map_err(|_| protocol("a host with a malformed ip-address"))?;
        Ok(Some(Host {
            subnet_id: self.subnet_id.map_or(default_subnet, SubnetId),
            hw_address,
            ip_address,
            hostname: self.hostname.filter(|h| !h.is_empty()),
            user_context: self.user_context,
            source,
        }))
    }
}

#[derive(Debug, Deserialize)]
pub struct HostsArgs {
    #[serde(default)]
    pub hosts: Vec<WireHost>,
}

#[derive(Debug, Deserialize)]
pub struct PageArgs {
    #[serde(default)]
    pub hosts: Vec<WireHost>,
    pub next: Option<PageCursor>,
}

#[derive(Debug, Deserialize)]
struct WireLease {
    #[serde(rename = "ip-address")]
    ip_address: Ipv4Addr,
    #[serde(rename = "hw-address")]
    hw_address: String,
    #[serde(rename = "subnet-id")]
    subnet_id: u32,
    cltt: u64,
    #[serde(rename = "valid-lft")]
    valid_lft: u64,
    #[serde(default)]
    state: u32,
    #[serde(default)]
    hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LeasesArgs {
    #[serde(default)]
    leases: Vec<WireLease>,
}

impl LeasesArgs {
    pub fn into_leases(self) -> Result<Vec<Lease>, KeaError> {
        self.leases
            .into_iter()
            .map(|l| {
                Ok(Lease {
                    ip_address: l.ip_address,
                    hw_address: Mac::parse(&l.hw_address)
                        .map_err(|_| protocol("a lease with a malformed hw-address"))?,
                    subnet_id: SubnetId(l.subnet_id),
                    cltt: l.cltt,
                    valid_lft: l.valid_lft,
                    state: l.state,
                    hostname: l.hostname.filter(|h| !h.is_empty()),
                })
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct WireSubnet {
    id: u32,
    subnet: String,
    #[serde(default, rename = "shared-network-name")]
    shared_network_name: Option<String>,
}

impl WireSubnet {
    fn into_subnet(self, shared_network: Option<&str>) -> Result<Subnet, KeaError> {
        let prefix: Ipv4Net = self
            .subnet
            .parse()
            .map_err(|_| protocol(format!("subnet {} has a malformed prefix", self.id)))?;
        Ok(Subnet {
            id: SubnetId(self.id),
            prefix,
            shared_network: self
                .shared_network_name
                .or_else(|| shared_network.map(str::to_string)),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct SubnetListArgs {
    #[serde(default)]
    subnets: Vec<WireSubnet>,
}

impl SubnetListArgs {
    pub fn into_subnets(self) -> Result<Vec<Subnet>, KeaError> {
        self.subnets.into_iter().map(|s| s.into_subnet(None)).collect()
    }
}

/// The part of `config-get` the operator reads. Everything else, the hosts database's credentials
/// above all, is skipped by serde and never stored.
#[derive(Debug, Deserialize)]
pub struct ConfigGetArgs {
    #[serde(rename = "Dhcp4")]
    dhcp4: Dhcp4Summary,
}

#[derive(Debug, Deserialize)]
struct Dhcp4Summary {
    #[serde(default)]
    subnet4: Vec<WireSubnet>,
    #[serde(default, rename = "shared-networks")]
    shared_networks: Vec<WireSharedNetwork>,
    #[serde(default, rename = "hosts-database")]
    hosts_database: Option<IgnoredAny>,
    #[serde(default, rename = "hosts-databases")]
    hosts_databases: Option<Vec<IgnoredAny>>,
    #[serde(default, rename = "hooks-libraries")]
    hooks_libraries: Vec<WireHook>,
}

#[derive(Debug, Deserialize)]
struct WireSharedNetwork {
    name: String,
    #[serde(default)]
    subnet4: Vec<WireSubnet>,
}

#[derive(Debug, Deserialize)]
struct WireHook {
    library: String,
}

/// What `config-get` tells the operator about a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigSummary {
    /// Subnets, shared networks' included.
    pub subnets: Vec<Subnet>,
    /// `hosts-database` or a non-empty `hosts-databases` is configured.
    pub has_hosts_database: bool,
    /// File names of the hook libraries (`libdhcp_host_cmds.so`, …), without directories.
    pub hook_libraries: Vec<String>,
}

impl ConfigGetArgs {
    pub fn into_summary(self) -> Result<ConfigSummary, KeaError> {
        let d = self.dhcp4;
        let mut subnets = Vec::new();
        for s in d.subnet4 {
            subnets.push(s.into_subnet(None)?);
        }
        for network in d.shared_networks {
            for s in network.subnet4 {
                subnets.push(s.into_subnet(Some(&network.name))?);
            }
        }
        let has_hosts_database =
            d.hosts_database.is_some() || d.hosts_databases.is_some_and(|v| !v.is_empty());
        let hook_libraries = d
            .hooks_libraries
            .into_iter()
            .map(|h| h.library.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
        Ok(ConfigSummary {
            subnets,
            has_hosts_database,
            hook_libraries,
        })
    }
}

/// `status-get`'s fields used for restart detection and health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    pub pid: Option<u64>,
    /// Seconds since the server started.
    pub uptime: Option<u64>,
    /// Seconds since the configuration was last (re)loaded.
    pub reload: Option<u64>,
    /// `dhcp-state.disabled-by-db-connection` is not empty: a database connection is lost and Kea
    /// answers reads with untrue "not found" (SPEC §4).
    pub database_lost: bool,
    /// This server's HA state (`hot-standby`, `partner-down`, …), when the HA hook is loaded.
    pub ha_state: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StatusArgs {
    pid: Option<u64>,
    uptime: Option<u64>,
    reload: Option<u64>,
    #[serde(default, rename = "dhcp-state")]
    dhcp_state: Option<DhcpState>,
    #[serde(default, rename = "high-availability")]
    high_availability: Option<Vec<HaRelationship>>,
}

#[derive(Debug, Deserialize)]
struct DhcpState {
    #[serde(default, rename = "disabled-by-db-connection")]
    disabled_by_db_connection: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct HaRelationship {
    #[serde(default, rename = "ha-servers")]
    ha_servers: Option<HaServers>,
}

#[derive(Debug, Deserialize)]
struct HaServers {
    local: Option<HaLocal>,
}

#[derive(Debug, Deserialize)]
struct HaLocal {
    state: Option<String>,
}

impl StatusArgs {
    pub fn into_status(self) -> ServerStatus {
        let database_lost = match self.dhcp_state.and_then(|s| s.disabled_by_db_connection) {
            Some(Value::Array(items)) => !items.is_empty(),
            Some(Value::Bool(b)) => b,
            _ => false,
        };
        let ha_state = self
            .high_availability
            .and_then(|rels| rels.into_iter().next())
            .and_then(|rel| rel.ha_servers)
            .and_then(|s| s.local)
            .and_then(|l| l.state);
        ServerStatus {
            pid: self.pid,
            uptime: self.uptime,
            reload: self.reload,
            database_lost,
            ha_state,
        }
    }
}

/// `version-get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// e.g. `3.0.4`.
    pub version: String,
    /// The multi-line build description.
    pub extended: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct VersionArgs {
    pub extended: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_element_zero_or_an_object() {
        let a = parse_answer(br#"[ { "result": 0, "text": "ok", "arguments": {"x": 1} }, {"result": 1} ]"#)
            .unwrap();
        assert_eq!((a.result, a.text.as_str()), (0, "ok"));
        let a = parse_answer(br#"{ "result": 3, "text": "Host not found." }"#).unwrap();
        assert_eq!(a.result, 3);
    }

    #[test]
    fn malformed_answers_are_protocol_errors_never_panics() {
        for (body, needle) in [
            (&b""[..], "empty body"),
            (b"   ", "empty body"),
            (b"<html><body>502 Bad Gateway</body></html>", "HTML"),
            (b"[]", "empty answer array"),
            (br#"[{"result": 0, "text": "x""#, "truncated"),
            (br#"[{"text": "no result"}]"#, "integer 'result'"),
            (br#"[{"result": "0"}]"#, "integer 'result'"),
            (br#""just a string""#, "string"),
            (b"[1]", "integer 'result'"),
            (b"\xff\xfe", "not JSON"),
        ] {
            let err = parse_answer(body).unwrap_err();
            assert_eq!(err.category(), "protocol");
            assert!(err.to_string().contains(needle), "{body:?}: {err}");
        }
    }

    #[test]
    fn http_400_object_is_named() {
        let e = parse_bad_request(br#"{ "result": 400, "text": "Bad Request" }"#);
        assert!(e.to_string().contains("HTTP 400: Bad Request"), "{e}");
        assert!(
            parse_bad_request(b"<html>")
                .to_string()
                .contains("without Kea's answer")
        );
    }

    #[test]
    fn config_summary_sees_shared_networks_and_databases_but_keeps_no_password() {
        let args = json!({"Dhcp4": {
            "subnet4": [{"id": 1, "subnet": "10.100.0.0/16"}],
            "shared-networks": [{"name": "sn1", "subnet4": [{"id": 7, "subnet": "10.7.0.0/24"}]}],
            "hosts-database": {"type": "postgresql", "user": "kea", "password": "keapass"},
            "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so"}]
        }});
        let s = decode::<ConfigGetArgs>("config-get", Some(args))
            .unwrap()
            .into_summary()
            .unwrap();
        assert!(s.has_hosts_database);
        assert_eq!(s.subnets.len(), 2);
        assert_eq!(s.subnets[1].shared_network.as_deref(), Some("sn1"));
        assert_eq!(s.hook_libraries, vec!["libdhcp_host_cmds.so"]);
        assert!(!format!("{s:?}").contains("keapass"));

        let none = json!({"Dhcp4": {"hosts-databases": []}});
        let s = decode::<ConfigGetArgs>("config-get", Some(none))
            .unwrap()
            .into_summary()
            .unwrap();
        assert!(!s.has_hosts_database && s.subnets.is_empty());
    }

    #[test]
    fn status_reads_restart_fields_database_and_ha_state() {
        let args = json!({"pid": 32168, "uptime": 13, "reload": 1,
            "dhcp-state": {"disabled-by-db-connection": [1], "globally-disabled": false},
            "high-availability": [{"ha-mode": "hot-standby", "ha-servers": {"local": {"role": "primary", "state": "hot-standby"}}}]});
        let s = decode::<StatusArgs>("status-get", Some(args))
            .unwrap()
            .into_status();
        assert_eq!((s.pid, s.uptime, s.reload), (Some(32168), Some(13), Some(1)));
        assert!(s.database_lost);
        assert_eq!(s.ha_state.as_deref(), Some("hot-standby"));
    }

    #[test]
    fn pages_skip_hosts_not_identified_by_mac() {
        let args = json!({"count": 2, "hosts": [
            {"subnet-id": 1, "hw-address": "AA:BB:CC:DD:EE:01", "ip-address": "10.100.1.50", "hostname": ""},
            {"subnet-id": 1, "duid": "01:02", "ip-address": "10.100.1.51"}],
            "next": {"from": 2, "source-index": 0}});
        let page: PageArgs = decode("reservation-get-page", Some(args)).unwrap();
        assert_eq!(
            page.next,
            Some(PageCursor {
                from: 2,
                source_index: 0
            })
        );
        let hosts: Vec<_> = page
            .hosts
            .into_iter()
            .filter_map(|h| h.into_host(SubnetId(1), Some(HostSource::Memory)).unwrap())
            .collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].hw_address.to_string(), "aa:bb:cc:dd:ee:01");
        assert_eq!(hosts[0].hostname, None);
    }

    #[test]
    fn wrong_argument_types_are_protocol_errors() {
        let e = decode::<LeasesArgs>(
            "lease4-get-by-hw-address",
            Some(json!({"leases": [{"ip-address": 7}]})),
        )
        .unwrap_err();
        assert_eq!(e.category(), "protocol");
        let e = decode::<SubnetListArgs>("subnet4-list", None).unwrap_err();
        assert!(e.to_string().contains("no arguments"));
        let bad_prefix = json!({"subnets": [{"id": 1, "subnet": "10.0.0.0/33"}]});
        let e = decode::<SubnetListArgs>("subnet4-list", Some(bad_prefix))
            .unwrap()
            .into_subnets()
            .unwrap_err();
        assert_eq!(e.category(), "protocol");
    }
}
