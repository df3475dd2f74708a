//! The Kea Control Agent in front of the simulated kea-dhcp4 (`--mode ca`).
//!
//! As measured on Kea 3.0.4: without `service` the agent handles the command itself (its own
//! `list-commands`, `version-get`, `status-get`, `config-get`, `config-hash-get`,
//! `build-report`; anything else is result 2 with a long hint). With `service` it forwards the
//! command once per listed service, in order, and answers a list; the forwarded text is the
//! compact JSON of the command, so positions in the daemon's errors read `<wire>:0:N`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::commands::server::{BUILD_REPORT, CA_EXTENDED_VERSION, config_hash, seconds_since, version_get};
use crate::commands::{CmdError, answer, code, parse_command};
use crate::config::AgentConfig;
use crate::element::{Element, Value, parse_wire};
use crate::server::{Liveness, Node};

/// Control Agent commands (Kea 3.0.4).
pub const CA_COMMANDS: &[&str] = &[
    "build-report",
    "config-get",
    "config-hash-get",
    "config-reload",
    "config-set",
    "config-test",
    "config-write",
    "list-commands",
    "shutdown",
    "status-get",
    "version-get",
];

const NO_SERVICE_HINT: &str = " You did not include \"service\" parameter in the command, which indicates that Kea Control Agent should process this command rather than forward it to one or more Kea servers. If you aimed to send this command to one of the Kea servers you should include the \"service\" parameter in your request, e.g. \"service\": [ \"dhcp4\" ] to forward the command to the DHCPv4 server, or \"service\": [ \"dhcp4\", \"dhcp6\", \"d2\" ] to forward it to DHCPv4, DHCPv6 and D2 servers etc.";

/// A simulated Control Agent.
pub struct Agent {
    config: RwLock<AgentConfig>,
    /// The daemon behind it.
    pub node: Arc<Node>,
    pid: AtomicU32,
    started: RwLock<SystemTime>,
    liveness: watch::Sender<Liveness>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("node", &self.node.name).finish()
    }
}

impl Agent {
    /// An agent for `node`.
    pub fn new(config: AgentConfig, node: Arc<Node>, pid: u32) -> Arc<Agent> {
        let (liveness, _) = watch::channel(Liveness::Up);
        Arc::new(Agent {
            config: RwLock::new(config),
            node,
            pid: AtomicU32::new(pid),
            started: RwLock::new(SystemTime::now()),
            liveness,
        })
    }

    /// The agent's configuration.
    pub fn config(&self) -> AgentConfig {
        self.config.read().clone()
    }

    /// Liveness of the agent itself (its listener).
    pub fn liveness(&self) -> Liveness {
        *self.liveness.borrow()
    }

    /// Watch the agent's liveness.
    pub fn watch_liveness(&self) -> watch::Receiver<Liveness> {
        self.liveness.subscribe()
    }

    /// Take the agent down or up (a restart gets a new pid).
    pub fn set_liveness(&self, l: Liveness) {
        if l == Liveness::Up && self.liveness() == Liveness::Down {
            self.pid.fetch_add(3, Ordering::SeqCst);
            *self.started.write() = SystemTime::now();
        }
        self.liveness.send_replace(l);
    }

    fn own_config(&self) -> Element {
        let raw = self.config.read().raw.clone();
        let mut m = match raw.value {
            Value::Map(m) => m,
            _ => Default::default(),
        };
        m.entry("hooks-libraries".into())
            .or_insert_with(|| Element::list(vec![]));
        if let Some(Value::Map(auth)) = m.get_mut("authentication").map(|a| &mut a.value) {
            auth.entry("type".into()).or_insert_with(|| Element::str("basic"));
            auth.entry("realm".into())
                .or_insert_with(|| Element::str("kea-control-agent"));
        }
        Element::map_of([("Control-agent", Element::new(Value::Map(m)))])
    }

    fn own_command(&self, name: &str) -> Element {
        let r = match name {
            "list-commands" => Ok(answer(
                code::SUCCESS,
                "",
                Some(Element::list(
                    CA_COMMANDS.iter().map(|c| Element::str(*c)).collect(),
                )),
            )),
            "version-get" => version_get(CA_EXTENDED_VERSION),
            "build-report" => Ok(answer(code::SUCCESS, BUILD_REPORT, None)),
            "status-get" => {
                let up = seconds_since(*self.started.read());
                Ok(answer(
                    code::SUCCESS,
                    "",
                    Some(Element::map_of([
                        ("pid", Element::int(i64::from(self.pid.load(Ordering::SeqCst)))),
                        ("reload", Element::int(up)),
                        ("uptime", Element::int(up)),
                    ])),
                ))
            }
            "config-get" => {
                let mut c = self.own_config();
                let h = config_hash(&c);
                c.set("hash", Element::str(h));
                Ok(answer(code::SUCCESS, "", Some(c)))
            }
            "config-hash-get" => {
                let h = config_hash(&self.own_config());
                Ok(answer(
                    code::SUCCESS,
                    "",
                    Some(Element::map_of([("hash", Element::str(h))])),
                ))
            }
            other if CA_COMMANDS.contains(&other) => Err(CmdError::error(format!(
                "kea-sim does not simulate the '{other}' command"
            ))),
            other => Err(CmdError::with_code(
                code::UNSUPPORTED,
                format!("'{other}' command not supported.{NO_SERVICE_HINT}"),
            )),
        };
        r.unwrap_or_else(|e| e.to_answer())
    }

    fn forward(&self, service: &str, cmd: &Element, remote: IpAddr) -> Element {
        if service != "dhcp4" {
            return answer(
                code::ERROR,
                &format!("forwarding socket is not configured for the server type {service}"),
                None,
            );
        }
        if !self.node.is_up() {
            return answer(
                code::ERROR,
                "unable to forward command to the dhcp4 service: No such file or directory. The server is likely to be offline",
                None,
            );
        }
        let mut with_remote = cmd.clone();
        with_remote.set("remote-address", Element::str(remote.to_string()));
        let wire = with_remote.to_kea_string();
        match parse_wire(wire.as_bytes()) {
            Ok(parsed) => crate::commands::process(&self.node, Some(&parsed)),
            Err(e) => answer(
                code::ERROR,
                &format!("internal server error: unable to parse forwarded command: {e}"),
                None,
            ),
        }
    }

    /// Process a request body (`None` for an empty body). The result is a list for forwarded
    /// commands and a map otherwise (the HTTP layer wraps maps in a list).
    pub fn process(&self, cmd: Option<&Element>, remote: IpAddr) -> Element {
        let Some(cmd) = cmd else {
            return answer(
                code::ERROR,
                "Command processing failed: NULL command parameter",
                None,
            );
        };
        let name = match parse_command(cmd) {
            Ok((name, _)) => name,
            Err(e) => {
                return answer(
                    code::ERROR,
                    &format!("Error during command processing: {e}"),
                    None,
                );
            }
        };
        let services = match cmd.field("service") {
            None => return self.own_command(name),
            Some(s) => s,
        };
        let Value::List(list) = &services.value else {
            return answer(code::ERROR, "service value must be a list", None);
        };
        if list.is_empty() {
            return self.own_command(name);
        }
        let mut names = Vec::with_capacity(list.len());
        for s in list {
            match s.string_value() {
                Ok(n) => names.push(n.to_string()),
                Err(e) => {
                    return answer(
                        code::ERROR,
                        &format!("Error during command processing: {}", e.0),
                        None,
                    );
                }
            }
        }
        Element::list(names.iter().map(|n| self.forward(n, cmd, remote)).collect())
    }
}

/// The `Control-agent` section synthesized for a `Dhcp4`-only file: the agent listens where the
/// daemon's HTTP socket would, with the same authentication and TLS, and reaches the daemon
/// over a unix socket.
pub fn synthesize_config(node_cfg: &crate::config::ServerConfig) -> AgentConfig {
    let sock = &node_cfg.control;
    let mut raw = Element::map();
    raw.set(
        "control-sockets",
        Element::map_of([(
            "dhcp4",
            Element::map_of([
                ("socket-name", Element::str("/run/kea/kea4-ctrl-socket")),
                ("socket-type", Element::str("unix")),
            ]),
        )]),
    );
    raw.set("http-host", Element::str(sock.addr.ip().to_string()));
    raw.set("http-port", Element::int(i64::from(sock.addr.port())));
    let first_http = node_cfg
        .dhcp4()
        .field("control-sockets")
        .and_then(|l| match &l.value {
            Value::List(l) => l
                .iter()
                .find(|s| s.field("socket-type").and_then(Element::as_str) != Some("unix"))
                .cloned(),
            _ => None,
        });
    if let Some(s) = first_http {
        for k in [
            "authentication",
            "trust-anchor",
            "cert-file",
            "key-file",
            "cert-required",
        ] {
            if let Some(v) = s.field(k) {
                raw.set(k, v.clone());
            }
        }
    }
    let mut socket = sock.clone();
    if let Some(a) = &mut socket.auth
        && raw
            .field("authentication")
            .and_then(|x| x.field("realm"))
            .is_none()
    {
        a.realm = "kea-control-agent".into();
    }
    AgentConfig { socket, raw }
}
