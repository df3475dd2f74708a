//! Reading a real Kea `Dhcp4` configuration (file or JSON value) into what the simulator needs.
//!
//! Only the parts that change how the control API answers are interpreted (subnets, pools,
//! shared networks, reservations, lifetimes, hook libraries, control sockets, hosts databases,
//! the HA hook's parameters); everything else is kept verbatim so that `config-get` and
//! `config-write` return it. A file Kea would refuse for one of these parts is refused with an
//! error naming the JSON path.

pub mod control;
pub mod effective;
mod walk;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path as FsPath;

use serde::{Deserialize, Serialize};

pub use control::{AgentConfig, BasicAuth, ControlSocket, TlsFiles};
use walk::{Path, as_list, as_map, only_keys, opt_bool, opt_int, opt_str};

use crate::element::{Element, Value, parse_config_text};
use crate::model::host::{SUBNET_ID_MAX, parse_reservation4};
use crate::model::{Host, Pool, Subnet};
use crate::store::HostStore;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The text is not JSON Kea would read.
    #[error("{file}: invalid JSON at line {line}, column {col}: {message}")]
    Json {
        /// File path (or `<value>`).
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// What is wrong.
        message: String,
    },
    /// A member is missing, of the wrong type or has a value Kea refuses.
    #[error("{path}: {message}")]
    Invalid {
        /// JSON path of the offending member (`Dhcp4.subnet4[0].pools[1].pool`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "io",
            ConfigError::Json { .. } => "json",
            ConfigError::Invalid { .. } => "invalid",
        }
    }
}

/// Which hook libraries are listed (matched by file name, as Kea loads them by path).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// `libdhcp_lease_cmds.so`: the `lease4-*` commands.
    pub lease_cmds: bool,
    /// `libdhcp_host_cmds.so`: the `reservation-*` commands.
    pub host_cmds: bool,
    /// `libdhcp_subnet_cmds.so`: `subnet4-list`, `subnet4-get`, ...
    pub subnet_cmds: bool,
    /// `libdhcp_ha.so`: the `ha-*` commands and the HA section of `status-get`.
    pub ha: bool,
    /// `libdhcp_pgsql.so`: required for a PostgreSQL hosts database.
    pub pgsql: bool,
    /// `libdhcp_mysql.so`: required for a MySQL hosts database.
    pub mysql: bool,
}

impl Hooks {
    /// All three command hooks (the library's default).
    pub fn all_commands() -> Self {
        Hooks {
            lease_cmds: true,
            host_cmds: true,
            subnet_cmds: true,
            ..Hooks::default()
        }
    }

    fn note(&mut self, library: &str) {
        let file = library.rsplit('/').next().unwrap_or(library);
        let stem = file.split(".so").next().unwrap_or(file);
        match stem {
            "libdhcp_lease_cmds" => self.lease_cmds = true,
            "libdhcp_host_cmds" => self.host_cmds = true,
            "libdhcp_subnet_cmds" => self.subnet_cmds = true,
            "libdhcp_ha" => self.ha = true,
            "libdhcp_pgsql" => self.pgsql = true,
            "libdhcp_mysql" => self.mysql = true,
            _ => {}
        }
    }

    /// The library paths a configuration lists for these hooks.
    pub fn library_paths(&self) -> Vec<String> {
        let dir = "/usr/lib/x86_64-linux-gnu/kea/hooks";
        let mut v = Vec::new();
        for (on, name) in [
            (self.pgsql, "libdhcp_pgsql.so"),
            (self.mysql, "libdhcp_mysql.so"),
            (self.lease_cmds, "libdhcp_lease_cmds.so"),
            (self.host_cmds, "libdhcp_host_cmds.so"),
            (self.subnet_cmds, "libdhcp_subnet_cmds.so"),
            (self.ha, "libdhcp_ha.so"),
        ] {
            if on {
                v.push(format!("{dir}/{name}"));
            }
        }
        v
    }
}

/// Kea's `on-fail` for a lost database connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFail {
    /// Disable the DHCP service, retry, exit when retries are exhausted (Kea's default).
    StopRetryExit,
    /// Keep serving, retry, exit when retries are exhausted.
    ServeRetryExit,
    /// Keep serving, retry, keep serving without the database when retries are exhausted.
    ServeRetryContinue,
}

/// A configured hosts database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDbConfig {
    /// `postgresql` or `mysql`.
    pub kind: String,
    /// `type://host:port/name`: configurations naming the same database share it.
    pub identity: String,
    /// What to do when the connection is lost.
    pub on_fail: OnFail,
    /// Reconnect attempts (0: exit at the first error, as Kea does by default).
    pub max_reconnect_tries: u32,
    /// Milliseconds between attempts.
    pub reconnect_wait_time_ms: u64,
}

/// One peer of the HA hook's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaPeer {
    /// Peer name.
    pub name: String,
    /// Peer URL.
    pub url: String,
    /// `primary`, `secondary`, `standby` or `backup`.
    pub role: String,
}

/// The HA hook's relationship as seen from one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaConfig {
    /// This server's name.
    pub this_server_name: String,
    /// `hot-standby`, `load-balancing` or `passive-backup`.
    pub mode: String,
    /// The peers (this server included).
    pub peers: Vec<HaPeer>,
}

impl HaConfig {
    /// A hot-standby pair named `server1` (primary) and `server2` (standby).
    pub fn default_pair(this: &str) -> Self {
        HaConfig {
            this_server_name: this.to_string(),
            mode: "hot-standby".into(),
            peers: vec![
                HaPeer {
                    name: "server1".into(),
                    url: "http://127.0.0.1:8011/".into(),
                    role: "primary".into(),
                },
                HaPeer {
                    name: "server2".into(),
                    url: "http://127.0.0.1:8012/".into(),
                    role: "standby".into(),
                },
            ],
        }
    }

    /// This server's peer entry.
    pub fn this_peer(&self) -> Option<&HaPeer> {
        self.peers.iter().find(|p| p.name == self.this_server_name)
    }

    /// The partner's peer entry.
    pub fn partner(&self) -> Option<&HaPeer> {
        self.peers
            .iter()
            .find(|p| p.name != self.this_server_name && p.role != "backup")
    }
}

/// A parsed server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The whole configuration as given (`{"Dhcp4": ...}`), positions removed.
    pub raw: Element,
    /// Subnets ordered by id.
    pub subnets: Vec<Subnet>,
    subnet_index: HashMap<u32, usize>,
    /// Listed hook libraries.
    pub hooks: Hooks,
    /// The HTTP/HTTPS control socket (Kea's default 127.0.0.1:8000 when none is configured).
    pub control: ControlSocket,
    /// Whether an HTTP control socket is configured at all.
    pub has_http_socket: bool,
    /// Hosts databases, in order (`source-index` 1, 2, ...).
    pub hosts_databases: Vec<HostDbConfig>,
    /// Reservations of the configuration, in Kea's host id order.
    pub reservations: Vec<Host>,
    /// `ip-reservations-unique`.
    pub ip_reservations_unique: bool,
    /// Option definitions of `option-def` (for reservations' `option-data`).
    pub option_defs: Vec<crate::model::options::OptionDef>,
    /// The HA hook's parameters for this server, if configured.
    pub ha: Option<HaConfig>,
    /// A `Control-agent` section, when the file carries one (kea-sim extension for `--mode ca`).
    pub agent: Option<AgentConfig>,
    /// `config-get` output without reservations (filled per request from the memory store).
    effective_base: Element,
}

/// The Dhcp4 members Kea's grammar accepts (`global_param`).
const DHCP4_KEYS: &[&str] = &[
    "valid-lifetime",
    "min-valid-lifetime",
    "max-valid-lifetime",
    "renew-timer",
    "rebind-timer",
    "decline-probation-period",
    "subnet4",
    "shared-networks",
    "interfaces-config",
    "lease-database",
    "hosts-database",
    "hosts-databases",
    "host-reservation-identifiers",
    "client-classes",
    "option-def",
    "option-data",
    "hooks-libraries",
    "expired-leases-processing",
    "dhcp4o6-port",
    "control-socket",
    "control-sockets",
    "dhcp-queue-control",
    "dhcp-ddns",
    "echo-client-id",
    "match-client-id",
    "authoritative",
    "next-server",
    "server-hostname",
    "boot-file-name",
    "user-context",
    "comment",
    "sanity-checks",
    "reservations",
    "config-control",
    "server-tag",
    "reservations-global",
    "reservations-in-subnet",
    "reservations-out-of-pool",
    "calculate-tee-times",
    "t1-percent",
    "t2-percent",
    "cache-threshold",
    "cache-max-age",
    "loggers",
    "hostname-char-set",
    "hostname-char-replacement",
    "ddns-send-updates",
    "ddns-override-no-update",
    "ddns-override-client-update",
    "ddns-replace-client-name",
    "ddns-generated-prefix",
    "ddns-qualifying-suffix",
    "ddns-update-on-renew",
    "ddns-use-conflict-resolution",
    "ddns-conflict-resolution-mode",
    "ddns-ttl-percent",
    "ddns-ttl",
    "ddns-ttl-min",
    "ddns-ttl-max",
    "store-extended-info",
    "statistic-default-sample-count",
    "statistic-default-sample-age",
    "multi-threading",
    "early-global-reservations-lookup",
    "ip-reservations-unique",
    "reservations-lookup-first",
    "compatibility",
    "parked-packet-limit",
    "allocator",
    "offer-lifetime",
    "stash-agent-options",
];

/// Subnet members (`SUBNET4_PARAMETERS` plus reservations).
const SUBNET_KEYS: &[&str] = &[
    "valid-lifetime",
    "min-valid-lifetime",
    "max-valid-lifetime",
    "renew-timer",
    "rebind-timer",
    "option-data",
    "pools",
    "subnet",
    "interface",
    "id",
    "client-class",
    "client-classes",
    "require-client-classes",
    "evaluate-additional-classes",
    "reservations",
    "reservations-global",
    "reservations-in-subnet",
    "reservations-out-of-pool",
    "relay",
    "match-client-id",
    "authoritative",
    "next-server",
    "server-hostname",
    "boot-file-name",
    "4o6-interface",
    "4o6-interface-id",
    "4o6-subnet",
    "user-context",
    "comment",
    "calculate-tee-times",
    "t1-percent",
    "t2-percent",
    "ddns-send-updates",
    "ddns-override-no-update",
    "ddns-override-client-update",
    "ddns-replace-client-name",
    "ddns-generated-prefix",
    "ddns-qualifying-suffix",
    "hostname-char-set",
    "hostname-char-replacement",
    "store-extended-info",
    "metadata",
    "cache-threshold",
    "cache-max-age",
    "ddns-update-on-renew",
    "allocator",
    "offer-lifetime",
    "ddns-ttl-percent",
    "ddns-conflict-resolution-mode",
    "ddns-ttl",
    "ddns-ttl-min",
    "ddns-ttl-max",
    "pool-allocator",
    "ddns-use-conflict-resolution",
];

/// Shared network members (`SHARED_NETWORK4_PARAMETERS`).
const NETWORK_KEYS: &[&str] = &[
    "name",
    "subnet4",
    "interface",
    "renew-timer",
    "rebind-timer",
    "option-data",
    "match-client-id",
    "authoritative",
    "next-server",
    "server-hostname",
    "boot-file-name",
    "relay",
    "reservations-global",
    "reservations-in-subnet",
    "reservations-out-of-pool",
    "client-class",
    "client-classes",
    "require-client-classes",
    "evaluate-additional-classes",
    "valid-lifetime",
    "min-valid-lifetime",
    "max-valid-lifetime",
    "user-context",
    "comment",
    "calculate-tee-times",
    "t1-percent",
    "t2-percent",
    "ddns-send-updates",
    "ddns-override-no-update",
    "ddns-override-client-update",
    "ddns-replace-client-name",
    "ddns-generated-prefix",
    "ddns-qualifying-suffix",
    "hostname-char-set",
    "hostname-char-replacement",
    "store-extended-info",
    "metadata",
    "cache-threshold",
    "cache-max-age",
    "ddns-update-on-renew",
    "allocator",
    "offer-lifetime",
    "ddns-ttl-percent",
    "ddns-conflict-resolution-mode",
    "ddns-ttl",
    "ddns-ttl-min",
    "ddns-ttl-max",
    "ddns-use-conflict-resolution",
];

/// Pool members (`POOL4_PARAMETERS`).
const POOL_KEYS: &[&str] = &[
    "pool",
    "pool-id",
    "option-data",
    "client-class",
    "client-classes",
    "require-client-classes",
    "evaluate-additional-classes",
    "user-context",
    "comment",
    "ddns-send-updates",
    "ddns-override-no-update",
    "ddns-override-client-update",
    "ddns-replace-client-name",
    "ddns-generated-prefix",
    "ddns-qualifying-suffix",
    "hostname-char-set",
    "hostname-char-replacement",
    "ddns-update-on-renew",
    "ddns-ttl-percent",
    "ddns-conflict-resolution-mode",
    "ddns-ttl",
    "ddns-ttl-min",
    "ddns-ttl-max",
    "metadata",
];

/// Read and parse a configuration file.
pub fn load_file(path: &FsPath) -> Result<ServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let root = parse_config_text(&text).map_err(|e| ConfigError::Json {
        file: path.display().to_string(),
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    ServerConfig::from_element(root, path.parent())
}

/// Parse configuration text (as a file would hold it).
pub fn parse_text(text: &str, base: Option<&FsPath>) -> Result<ServerConfig, ConfigError> {
    let root = parse_config_text(text).map_err(|e| ConfigError::Json {
        file: "<text>".into(),
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    ServerConfig::from_element(root, base)
}

/// `valid-lifetime` with its `min-`/`max-` bounds as given in a scope, or inherited from the
/// enclosing one (Kea derives all three into shared networks and subnets before parsing them).
#[derive(Clone, Copy)]
struct Lifetimes {
    value: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
}

impl Lifetimes {
    /// The global scope before it is read: only the default `valid-lifetime` (7200).
    const GLOBAL_DEFAULTS: Lifetimes = Lifetimes {
        value: Some(7200),
        min: None,
        max: None,
    };

    /// Read a scope over its parent's values, then check them as Kea's `parseIntTriplet` does
    /// (same refusals, same texts). A lone bound stands for the value.
    fn scope(m: &Element, path: &Path, parent: Lifetimes) -> Result<(Lifetimes, u32), ConfigError> {
        let get = |k: &str| -> Result<Option<u32>, ConfigError> {
            Ok(opt_int(m, k, path, 0, i64::from(u32::MAX))?.map(|v| v as u32))
        };
        let own = Lifetimes {
            value: get("valid-lifetime")?.or(parent.value),
            min: get("min-valid-lifetime")?.or(parent.min),
            max: get("max-valid-lifetime")?.or(parent.max),
        };
        let (v, lo, hi) = match (own.value, own.min, own.max) {
            (Some(v), lo, hi) => (v, lo.unwrap_or(v), hi.unwrap_or(v)),
            (None, Some(lo), None) => (lo, lo, lo),
            (None, None, Some(hi)) => (hi, hi, hi),
            (None, None, None) => (7200, 7200, 7200),
            (None, Some(_), Some(_)) => {
                return Err(path
                    .err("have min-valid-lifetime and max-valid-lifetime but no valid-lifetime (default)"));
            }
        };
        if lo > hi {
            return Err(path.err(match (own.min, own.max) {
                (Some(_), Some(_)) => format!(
                    "the value of min-valid-lifetime ({lo}) is not less than max-valid-lifetime ({hi})"
                ),
                (Some(_), None) => format!(
                    "the value of min-valid-lifetime ({lo}) is not less than (default) valid-lifetime ({v})"
                ),
                _ => format!(
                    "the value of (default) valid-lifetime ({v}) is not less than max-valid-lifetime ({hi})"
                ),
            }));
        }
        if v < lo || v > hi {
            return Err(path.err(format!(
                "the value of (default) valid-lifetime ({v}) is not between min-valid-lifetime ({lo}) and max-valid-lifetime ({hi})"
            )));
        }
        Ok((own, v))
    }
}

impl ServerConfig {
    /// Build from a parsed `{"Dhcp4": ...}` document. `base` is the directory credential and
    /// TLS files are resolved against when relative.
    pub fn from_element(root: Element, base: Option<&FsPath>) -> Result<Self, ConfigError> {
        let Value::Map(rm) = &root.value else {
            return Err(Path::root("(root)").err(format!("expected a map, got {}", root.type_name())));
        };
        for k in rm.keys() {
            if k != "Dhcp4" && k != "Control-agent" {
                return Err(Path::root(k).err(format!(
                    "unsupported top-level object '{k}' (a kea-dhcp4 configuration holds \"Dhcp4\")"
                )));
            }
        }
        let dp = Path::root("Dhcp4");
        let dhcp4 = rm
            .get("Dhcp4")
            .ok_or_else(|| Path::root("Dhcp4").err("missing mandatory \"Dhcp4\" map"))?;
        as_map(dhcp4, &dp)?;
        only_keys(dhcp4, DHCP4_KEYS, &dp, "Dhcp4")?;

        let agent = match rm.get("Control-agent") {
            Some(ca) => Some(control::parse_agent(ca, &Path::root("Control-agent"), base)?),
            None => None,
        };

        // Hooks.
        let mut hooks = Hooks::default();
        let mut ha = None;
        if let Some(list) = dhcp4.field("hooks-libraries") {
            let lp = dp.key("hooks-libraries");
            for (i, lib) in as_list(list, &lp)?.iter().enumerate() {
                let ip = lp.idx(i);
                as_map(lib, &ip)?;
                let path =
                    opt_str(lib, "library", &ip)?.ok_or_else(|| ip.err("missing parameter 'library'"))?;
                hooks.note(path);
                if path.contains("libdhcp_ha")
                    && let Some(params) = lib.field("parameters")
                {
                    ha = parse_ha(params, &ip.key("parameters"))?;
                }
            }
        }

        // Control sockets.
        let mut control = ControlSocket::default();
        let mut has_http_socket = false;
        if let Some(list) = dhcp4.field("control-sockets") {
            let lp = dp.key("control-sockets");
            for (i, s) in as_list(list, &lp)?.iter().enumerate() {
                if let Some(sock) = control::parse_socket(s, &lp.idx(i), base)?
                    && !has_http_socket
                {
                    control = sock;
                    has_http_socket = true;
                }
            }
        } else if let Some(s) = dhcp4.field("control-socket")
            && let Some(sock) = control::parse_socket(s, &dp.key("control-socket"), base)?
        {
            control = sock;
            has_http_socket = true;
        }

        // Hosts databases.
        let mut hosts_databases = Vec::new();
        if let Some(db) = dhcp4.field("hosts-database") {
            hosts_databases.push(parse_db(db, &dp.key("hosts-database"), &hooks)?);
        }
        if let Some(list) = dhcp4.field("hosts-databases") {
            let lp = dp.key("hosts-databases");
            for (i, db) in as_list(list, &lp)?.iter().enumerate() {
                hosts_databases.push(parse_db(db, &lp.idx(i), &hooks)?);
            }
        }

        let ip_reservations_unique = opt_bool(dhcp4, "ip-reservations-unique", &dp)?.unwrap_or(true);
        let option_defs = crate::model::options::parse_option_defs(dhcp4.field("option-def"));
        let (global_lt, _) = Lifetimes::scope(dhcp4, &dp, Lifetimes::GLOBAL_DEFAULTS)?;

        // Subnets: shared networks first, as Kea numbers their reservations first.
        let mut subnets: Vec<Subnet> = Vec::new();
        let mut pending_resv: Vec<(u32, &Element, Path)> = Vec::new();
        let mut seen_names = std::collections::HashSet::new();
        if let Some(list) = dhcp4.field("shared-networks") {
            let lp = dp.key("shared-networks");
            for (i, net) in as_list(list, &lp)?.iter().enumerate() {
                let np = lp.idx(i);
                as_map(net, &np)?;
                only_keys(net, NETWORK_KEYS, &np, "shared-network")?;
                let name = opt_str(net, "name", &np)?.ok_or_else(|| np.err("missing parameter 'name'"))?;
                if !seen_names.insert(name.to_string()) {
                    return Err(np
                        .key("name")
                        .err(format!("A shared network with name {name} already exists")));
                }
                let (net_lt, _) = Lifetimes::scope(net, &np, global_lt)?;
                if let Some(sl) = net.field("subnet4") {
                    let sp = np.key("subnet4");
                    for (j, s) in as_list(sl, &sp)?.iter().enumerate() {
                        let (subnet, resv) = parse_subnet(s, &sp.idx(j), net_lt, Some(name))?;
                        if let Some(r) = resv {
                            pending_resv.push((subnet.id, r, sp.idx(j).key("reservations")));
                        }
                        subnets.push(subnet);
                    }
                }
            }
        }
        if let Some(list) = dhcp4.field("subnet4") {
            let lp = dp.key("subnet4");
            for (i, s) in as_list(list, &lp)?.iter().enumerate() {
                let (subnet, resv) = parse_subnet(s, &lp.idx(i), global_lt, None)?;
                if let Some(r) = resv {
                    pending_resv.push((subnet.id, r, lp.idx(i).key("reservations")));
                }
                subnets.push(subnet);
            }
        }
        let mut subnet_index = HashMap::new();
        for (i, s) in subnets.iter().enumerate() {
            if subnet_index.insert(s.id, i).is_some() {
                return Err(dp
                    .key("subnet4")
                    .err(format!("ID of the new IPv4 subnet '{}' is already in use", s.id)));
            }
        }
        subnets.sort_by_key(|s| s.id);
        let subnet_index: HashMap<u32, usize> = subnets.iter().enumerate().map(|(i, s)| (s.id, i)).collect();

        // Reservations, checked as Kea adds them to its configuration hosts.
        let mut store = HostStore::new();
        let mut reservations = Vec::new();
        let mut add = |host: Host, path: &Path| -> Result<(), ConfigError> {
            store
                .add_memory(host.clone(), ip_reservations_unique)
                .map_err(|m| path.err(m))?;
            reservations.push(host);
            Ok(())
        };
        for (subnet_id, list, rp) in pending_resv {
            let subnet = &subnets[subnet_index[&subnet_id]];
            for (i, r) in as_list(list, &rp)?.iter().enumerate() {
                let ip = rp.idx(i);
                let host = parse_reservation4(r, subnet_id, r.pos, &option_defs).map_err(|m| ip.err(m))?;
                if let Some(addr) = host.reserved_ip()
                    && !subnet.in_range(addr)
                {
                    return Err(ip.err(format!(
                        "specified reservation '{addr}' is not within the IPv4 subnet '{}'",
                        subnet.to_text()
                    )));
                }
                add(host, &ip)?;
            }
        }
        if let Some(list) = dhcp4.field("reservations") {
            let rp = dp.key("reservations");
            for (i, r) in as_list(list, &rp)?.iter().enumerate() {
                let host = parse_reservation4(r, 0, r.pos, &option_defs).map_err(|m| rp.idx(i).err(m))?;
                add(host, &rp.idx(i))?;
            }
        }

        let raw = root.clone().without_positions();
        let effective_base = effective::build(raw.field("Dhcp4").unwrap_or(&Element::map()));
        Ok(ServerConfig {
            raw,
            subnets,
            subnet_index,
            hooks,
            control,
            has_http_socket,
            hosts_databases,
            reservations,
            ip_reservations_unique,
            option_defs,
            ha,
            agent,
            effective_base,
        })
    }

    /// The subnet with this id.
    pub fn subnet(&self, id: u32) -> Option<&Subnet> {
        self.subnet_index.get(&id).map(|&i| &self.subnets[i])
    }

    /// `selectSubnet(address)`: the first subnet (by id) whose prefix holds the address.
    pub fn select_subnet(&self, ip: Ipv4Addr) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.in_range(ip))
    }

    /// The `Dhcp4` map as given.
    pub fn dhcp4(&self) -> &Element {
        self.raw.field("Dhcp4").unwrap_or(&EMPTY_MAP)
    }

    /// `config-get`: the configuration as Kea prints it, with these memory reservations.
    pub fn effective(&self, memory: &HostStore) -> Element {
        effective::with_reservations(&self.effective_base, memory)
    }

    /// A copy with the control socket listening elsewhere (`--listen`, `--ha-partner`).
    pub fn with_listen(&self, addr: SocketAddr) -> ServerConfig {
        let mut c = self.clone();
        c.control.addr = addr;
        c.has_http_socket = true;
        let mut raw = c.raw.clone();
        if let Some(d) = raw.map_mut().and_then(|m| m.get_mut("Dhcp4")) {
            effective::set_socket_address(d, addr);
        }
        c.effective_base = effective::build(raw.field("Dhcp4").unwrap_or(&Element::map()));
        c.raw = raw;
        c
    }

    /// A copy for the other server of an HA pair (this-server-name swapped).
    pub fn for_partner(&self, addr: SocketAddr) -> ServerConfig {
        let mut c = self.with_listen(addr);
        if let Some(ha) = &mut c.ha
            && let Some(p) = ha.partner()
        {
            ha.this_server_name = p.name.clone();
        }
        c
    }

    /// The pretty text `config-write` stores (and a restart reads back).
    pub fn written_text(&self, memory: &HostStore) -> String {
        self.effective(memory).to_pretty_string()
    }
}

static EMPTY_MAP: std::sync::LazyLock<Element> = std::sync::LazyLock::new(Element::map);

fn parse_db(e: &Element, path: &Path, hooks: &Hooks) -> Result<HostDbConfig, ConfigError> {
    as_map(e, path)?;
    let kind = opt_str(e, "type", path)?.ok_or_else(|| path.err("database access parameters must include the keyword 'type' to determine type of database to be accessed"))?;
    match kind {
        "postgresql" if !hooks.pgsql => {
            return Err(path.key("type").err(
                "unknown database type: postgresql (the libdhcp_pgsql.so hook library must be listed in Dhcp4.hooks-libraries)",
            ));
        }
        "mysql" if !hooks.mysql => {
            return Err(path.key("type").err(
                "unknown database type: mysql (the libdhcp_mysql.so hook library must be listed in Dhcp4.hooks-libraries)",
            ));
        }
        "postgresql" | "mysql" => {}
        other => {
            return Err(path
                .key("type")
                .err(format!("database type '{other}' is not supported for hosts")));
        }
    }
    let host = opt_str(e, "host", path)?.unwrap_or("localhost");
    let port = opt_int(e, "port", path, 0, 65535)?.unwrap_or(0);
    let name = opt_str(e, "name", path)?.ok_or_else(|| path.key("name").err("missing parameter 'name'"))?;
    if let Some(pw) = opt_str(e, "password", path)?
        && ["keatest", "1234", "*****"].contains(&pw)
    {
        return Err(path
            .key("password")
            .err("illegal use of a default value as credential"));
    }
    let on_fail = match opt_str(e, "on-fail", path)?.unwrap_or("stop-retry-exit") {
        "stop-retry-exit" => OnFail::StopRetryExit,
        "serve-retry-exit" => OnFail::ServeRetryExit,
        "serve-retry-continue" => OnFail::ServeRetryContinue,
        other => {
            return Err(path.key("on-fail").err(format!(
                "invalid value: {other}, expected one of: stop-retry-exit, serve-retry-exit, serve-retry-continue"
            )));
        }
    };
    let tries = opt_int(e, "max-reconnect-tries", path, 0, i64::from(u32::MAX))?.unwrap_or(0) as u32;
    let wait = opt_int(e, "reconnect-wait-time", path, 0, i64::from(u32::MAX))?.unwrap_or(0) as u64;
    Ok(HostDbConfig {
        kind: kind.to_string(),
        identity: format!("{kind}://{host}:{port}/{name}"),
        on_fail,
        max_reconnect_tries: tries,
        reconnect_wait_time_ms: wait,
    })
}

fn parse_ha(params: &Element, path: &Path) -> Result<Option<HaConfig>, ConfigError> {
    let Some(list) = params.field("high-availability") else {
        return Ok(None);
    };
    let lp = path.key("high-availability");
    let Some(first) = as_list(list, &lp)?.first() else {
        return Ok(None);
    };
    let fp = lp.idx(0);
    as_map(first, &fp)?;
    let this = opt_str(first, "this-server-name", &fp)?
        .ok_or_else(|| fp.err("missing parameter 'this-server-name'"))?;
    let mode = opt_str(first, "mode", &fp)?.unwrap_or("load-balancing");
    let mut peers = Vec::new();
    if let Some(pl) = first.field("peers") {
        let pp = fp.key("peers");
        for (i, p) in as_list(pl, &pp)?.iter().enumerate() {
            let ip = pp.idx(i);
            as_map(p, &ip)?;
            peers.push(HaPeer {
                name: opt_str(p, "name", &ip)?.unwrap_or_default().to_string(),
                url: opt_str(p, "url", &ip)?.unwrap_or_default().to_string(),
                role: opt_str(p, "role", &ip)?.unwrap_or_default().to_string(),
            });
        }
    }
    if !peers.iter().any(|p| p.name == this) {
        return Err(fp
            .key("this-server-name")
            .err(format!("server name '{this}' is not listed among the peers")));
    }
    Ok(Some(HaConfig {
        this_server_name: this.to_string(),
        mode: mode.to_string(),
        peers,
    }))
}

fn parse_subnet<'a>(
    s: &'a Element,
    path: &Path,
    parent: Lifetimes,
    network: Option<&str>,
) -> Result<(Subnet, Option<&'a Element>), ConfigError> {
    as_map(s, path)?;
    only_keys(s, SUBNET_KEYS, path, "subnet4")?;
    let id = match s.field("id") {
        None => return Err(path.err("subnet configuration failed: missing parameter 'id'")),
        Some(_) => opt_int(s, "id", path, i64::MIN, i64::MAX)?.unwrap_or_default(),
    };
    if !(1..=SUBNET_ID_MAX).contains(&id) {
        return Err(path.key("id").err(format!(
            "subnet configuration failed: The 'id' value ({id}) is not within expected range: (1 - {SUBNET_ID_MAX})"
        )));
    }
    let text = opt_str(s, "subnet", path)?
        .ok_or_else(|| path.err("subnet configuration failed: missing parameter 'subnet'"))?;
    let (addr, len) = text
        .split_once('/')
        .and_then(|(a, l)| {
            Some((
                a.parse::<Ipv4Addr>().ok()?,
                l.parse::<u8>().ok().filter(|l| *l <= 32)?,
            ))
        })
        .ok_or_else(|| {
            path.key("subnet").err(format!(
                "subnet configuration failed: invalid subnet prefix '{text}'"
            ))
        })?;
    let (_, valid) = Lifetimes::scope(s, path, parent).map_err(|e| match e {
        ConfigError::Invalid { path, message } => ConfigError::Invalid {
            path,
            message: format!("subnet configuration failed: {message}"),
        },
        other => other,
    })?;
    let mut subnet = Subnet {
        id: id as u32,
        addr,
        len,
        pools: Vec::new(),
        valid_lifetime: valid,
        shared_network: network.map(str::to_string),
    };
    if let Some(pl) = s.field("pools") {
        let pp = path.key("pools");
        for (i, p) in as_list(pl, &pp)?.iter().enumerate() {
            let ip = pp.idx(i);
            as_map(p, &ip)?;
            only_keys(p, POOL_KEYS, &ip, "pool")?;
            let t = opt_str(p, "pool", &ip)?.ok_or_else(|| ip.err("missing parameter 'pool'"))?;
            let pool = Pool::parse(t).map_err(|m| ip.key("pool").err(m))?;
            if !subnet.in_range(pool.start) || !subnet.in_range(pool.end) {
                return Err(ip.key("pool").err(format!(
                    "subnet configuration failed: a pool of type V4, with the following address range: {}-{} does not match the prefix of a subnet: {} to which it is being added",
                    pool.start,
                    pool.end,
                    subnet.to_text()
                )));
            }
            subnet.pools.push(pool);
        }
    }
    Ok((subnet, s.field("reservations")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"Dhcp4": {
      "interfaces-config": {"interfaces": []},
      "control-sockets": [{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 18000}],
      "lease-database": {"type": "memfile", "persist": false},
      "valid-lifetime": 4000,
      "hooks-libraries": [
        {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
        {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so"}],
      "reservations": [{"hw-address": "0a:00:00:00:00:01", "hostname": "global1"}],
      "subnet4": [{"id": 2, "subnet": "10.100.0.0/16", "pools": [{"pool": "10.100.1.10 - 10.100.1.200"}],
         "reservations": [{"hw-address": "0a:00:00:00:00:02", "ip-address": "10.100.5.5", "hostname": "sub2"}]},
         {"id": 1, "subnet": "10.101.0.0/16", "reservations": [{"hw-address": "0a:00:00:00:00:03", "ip-address": "10.101.5.5"}]}],
      "shared-networks": [{"name": "net-a", "subnet4": [{"id": 7, "subnet": "192.168.7.0/24", "valid-lifetime": 600,
         "reservations": [{"hw-address": "0a:00:00:00:00:04", "ip-address": "192.168.7.5"}]}]}]
    }}"#;

    #[test]
    fn reads_subnets_hooks_and_reservations_in_keas_order() {
        let c = parse_text(EXAMPLE, None).unwrap();
        assert_eq!(c.subnets.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2, 7]);
        assert!(c.hooks.lease_cmds && c.hooks.host_cmds && !c.hooks.subnet_cmds);
        assert_eq!(c.control.addr, "127.0.0.1:18000".parse().unwrap());
        let order: Vec<u32> = c.reservations.iter().map(|h| h.subnet_id).collect();
        assert_eq!(order, vec![7, 2, 1, 0], "shared networks, subnets, then globals");
        assert_eq!(c.subnet(7).unwrap().valid_lifetime, 600);
        assert_eq!(c.subnet(2).unwrap().valid_lifetime, 4000);
        assert_eq!(c.subnet(7).unwrap().shared_network.as_deref(), Some("net-a"));
    }

    /// Texts measured with `kea-dhcp4 -t` (3.0.4): bounds are inherited into shared networks and
    /// subnets before they are checked, and the global default 7200 counts as a given value.
    #[test]
    fn lifetime_bounds_are_checked_as_kea_does() {
        let cases = [
            (
                r#""subnet4":[{"id":1,"subnet":"10.0.0.0/24","valid-lifetime":100,"min-valid-lifetime":200}]"#,
                "Dhcp4.subnet4[0]: subnet configuration failed: the value of min-valid-lifetime (200) is not less than (default) valid-lifetime (100)",
            ),
            (
                r#""subnet4":[{"id":1,"subnet":"10.0.0.0/24","min-valid-lifetime":200,"max-valid-lifetime":300}]"#,
                "Dhcp4.subnet4[0]: subnet configuration failed: the value of (default) valid-lifetime (7200) is not between min-valid-lifetime (200) and max-valid-lifetime (300)",
            ),
            (
                r#""subnet4":[{"id":1,"subnet":"10.0.0.0/24","valid-lifetime":100,"max-valid-lifetime":50}]"#,
                "Dhcp4.subnet4[0]: subnet configuration failed: the value of (default) valid-lifetime (100) is not less than max-valid-lifetime (50)",
            ),
            (
                r#""min-valid-lifetime":8000"#,
                "Dhcp4: the value of min-valid-lifetime (8000) is not less than (default) valid-lifetime (7200)",
            ),
            (
                r#""valid-lifetime":100,"min-valid-lifetime":50,"shared-networks":[{"name":"n","min-valid-lifetime":60,"subnet4":[{"id":1,"subnet":"10.0.0.0/24","max-valid-lifetime":40}]}]"#,
                "Dhcp4.shared-networks[0].subnet4[0]: subnet configuration failed: the value of min-valid-lifetime (60) is not less than max-valid-lifetime (40)",
            ),
            (
                r#""valid-lifetime":100,"min-valid-lifetime":50,"shared-networks":[{"name":"n","min-valid-lifetime":60,"valid-lifetime":55}]"#,
                "Dhcp4.shared-networks[0]: the value of min-valid-lifetime (60) is not less than (default) valid-lifetime (55)",
            ),
        ];
        for (body, want) in cases {
            let e = parse_text(&format!(r#"{{"Dhcp4":{{{body}}}}}"#), None).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let ok = parse_text(
            r#"{"Dhcp4":{"valid-lifetime":100,"min-valid-lifetime":50,"max-valid-lifetime":200,
                "subnet4":[{"id":1,"subnet":"10.0.0.0/24","valid-lifetime":150},
                           {"id":2,"subnet":"10.0.1.0/24","min-valid-lifetime":60}]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(ok.subnet(1).unwrap().valid_lifetime, 150);
        assert_eq!(
            ok.subnet(2).unwrap().valid_lifetime,
            100,
            "the inherited value stays"
        );
    }

    #[test]
    fn errors_name_the_json_path() {
        let bad = EXAMPLE.replace("10.100.1.10 - 10.100.1.200", "10.9.1.10 - 10.9.1.200");
        let e = parse_text(&bad, None).unwrap_err();
        assert!(
            e.to_string().starts_with("Dhcp4.subnet4[0].pools[0].pool: "),
            "{e}"
        );
        let e = parse_text(r#"{"Dhcp4":{"subnet4":[{"subnet":"10.0.0.0/24"}]}}"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dhcp4.subnet4[0]: subnet configuration failed: missing parameter 'id'"
        );
        let e = parse_text(r#"{"Dhcp4":{"foo":1}}"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dhcp4.foo: got unexpected keyword \"foo\" in Dhcp4 map"
        );
        let e = parse_text(r#"{"Dhcp4":{"valid-lifetime":"x"}}"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dhcp4.valid-lifetime: expected an integer, got string"
        );
        let e = parse_text("{\"Dhcp4\": {,}}", None).unwrap_err();
        assert_eq!(e.category(), "json");
        let e = parse_text(
            r#"{"Dhcp4":{"hosts-database":{"type":"postgresql","name":"kea"}}}"#,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Dhcp4.hosts-database.type: unknown database type"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_reservations_are_refused() {
        let e = parse_text(
            r#"{"Dhcp4":{"subnet4":[{"id":1,"subnet":"10.0.0.0/24","reservations":[{"hw-address":"aa:bb"},{"hw-address":"aa:bb"}]}]}}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dhcp4.subnet4[0].reservations[1]: failed to add new host using the HW address 'aa:bb' to the IPv4 subnet id '1' as this host has already been added"
        );
    }
}
