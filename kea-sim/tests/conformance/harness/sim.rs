//! kea-sim in process, set up exactly as the real-Kea target would be for the same case: the same
//! config (with the control socket added the same way), the same TLS file names, the same
//! credentials; only ports and directories differ, and those are normalized.

use std::net::{Ipv4Addr, SocketAddr};

use kea_sim::{KeaSim, KeaSimPair, Mode};
use serde_json::{Map, Value, json};
use testenv::certs::TestCa;
use testenv::ports::{PortLease, free_port};

use super::case::{AUTH_PASSWORD, AUTH_USER, Action, Case, Kind, Partner, Tls, resolve_config};
use super::http::{ClientTls, Endpoint};
use super::normalize::Substitutions;
use super::target::{Target, fill_database};

enum SimEnv {
    Single(Box<KeaSim>),
    Pair(Box<KeaSimPair>),
}

/// kea-sim, one server, a Control Agent, or a pair.
pub struct Sim {
    env: SimEnv,
    endpoints: Vec<Endpoint>,
    dir: tempfile::TempDir,
    config_paths: Vec<String>,
    _ports: Vec<PortLease>,
}

/// TLS files as testenv writes them for real Kea (same names, so config-get matches).
fn write_tls(dir: &std::path::Path, cert_required: bool) -> Result<(Map<String, Value>, ClientTls), String> {
    let ca = TestCa::new("conformance ca").map_err(|e| e.to_string())?;
    let server = ca.server_cert("kea", &[]).map_err(|e| e.to_string())?;
    let client = ca.client_cert("kea-client", None).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).map_err(|e| e.to_string());
    write("ca.pem", ca.cert_pem())?;
    write("server.pem", &server.cert)?;
    write("server-key.pem", &server.key)?;
    let d = dir.display();
    let mut m = Map::new();
    m.insert("trust-anchor".into(), json!(format!("{d}/ca.pem")));
    m.insert("cert-file".into(), json!(format!("{d}/server.pem")));
    m.insert("key-file".into(), json!(format!("{d}/server-key.pem")));
    m.insert("cert-required".into(), json!(cert_required));
    let tls = ClientTls {
        ca_pem: ca.cert_pem().to_string(),
        client_cert_pem: client.cert,
        client_key_pem: client.key,
    };
    Ok((m, tls))
}

fn push_socket(config: &mut Value, socket: Value) -> Result<(), String> {
    let dhcp4 = config
        .get_mut("Dhcp4")
        .and_then(Value::as_object_mut)
        .ok_or("config without Dhcp4 object")?;
    match dhcp4.entry("control-sockets").or_insert_with(|| json!([])) {
        Value::Array(items) => {
            items.push(socket);
            Ok(())
        }
        _ => Err("control-sockets is not a list".into()),
    }
}

fn auth_json() -> Value {
    json!({"type": "basic", "realm": "kea-testenv", "clients": [{"user": AUTH_USER, "password": AUTH_PASSWORD}]})
}

impl Sim {
    /// Injects a fault into every simulated server (to prove a comparison can fail).
    pub fn inject(&self, fault: kea_sim::Fault) {
        match &self.env {
            SimEnv::Single(s) => {
                s.inject(fault);
            }
            SimEnv::Pair(p) => {
                p.primary().inject(fault.clone());
                p.secondary().inject(fault);
            }
        }
    }
}

impl Target for Sim {
    const NAME: &'static str = "kea-sim";

    async fn start(case: &Case, _config: Value) -> Result<Self, String> {
        let setup = &case.setup;
        let dir = tempfile::Builder::new()
            .prefix("kea-sim-conformance-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let database = setup.database.then(|| {
            json!({"type": "postgresql", "host": "127.0.0.1", "port": 5432, "name": "kea", "user": "kea",
                   "password": "keapass"})
        });
        let base = fill_database(resolve_config(setup)?, database.as_ref());
        let creds = setup
            .auth
            .then(|| (AUTH_USER.to_string(), AUTH_PASSWORD.to_string()));
        let mut ports = Vec::new();
        let mut endpoints = Vec::new();
        let mut config_paths = Vec::new();
        let count = if setup.kind == Kind::HaPair { 2 } else { 1 };
        let mut builders = Vec::new();
        for i in 0..count {
            let port = free_port().map_err(|e| e.to_string())?;
            let mut config = base.clone();
            let (mut tls_params, client_tls) = match setup.tls {
                Some(t) => {
                    let (m, c) = write_tls(dir.path(), t == Tls::Required)?;
                    (Some(m), Some(c))
                }
                None => (None, None),
            };
            let mut builder = KeaSim::builder();
            if setup.kind == Kind::Ca {
                // As testenv runs real Kea: the daemon on a unix socket, the agent's own section
                // (kea-sim reads `Control-agent` from the same file) with the HTTP socket settings.
                let sock = format!("{}/kea4.sock", dir.path().display());
                push_socket(&mut config, json!({"socket-type": "unix", "socket-name": sock}))?;
                let mut agent = Map::new();
                agent.insert("http-host".into(), json!("127.0.0.1"));
                agent.insert("http-port".into(), json!(port.port()));
                agent.insert(
                    "control-sockets".into(),
                    json!({"dhcp4": {"socket-type": "unix", "socket-name": sock}}),
                );
                if setup.auth {
                    agent.insert("authentication".into(), auth_json());
                }
                if let Some(m) = tls_params.take() {
                    agent.extend(m);
                }
                if let Value::Object(root) = &mut config {
                    root.insert("Control-agent".into(), Value::Object(agent));
                }
                builder = builder.mode(Mode::Ca);
            } else {
                let mut socket = Map::new();
                socket.insert(
                    "socket-type".into(),
                    json!(if setup.tls.is_some() { "https" } else { "http" }),
                );
                socket.insert("socket-address".into(), json!("127.0.0.1"));
                socket.insert("socket-port".into(), json!(port.port()));
                if setup.auth {
                    socket.insert("authentication".into(), auth_json());
                }
                if let Some(m) = tls_params {
                    socket.extend(m);
                }
                push_socket(&mut config, Value::Object(socket))?;
            }
            let config_path = dir.path().join(format!("kea-{i}.json"));
            config_paths.push(config_path.display().to_string());
            let scheme = if setup.tls.is_some() { "https" } else { "http" };
            endpoints.push(Endpoint {
                url: format!("{scheme}://127.0.0.1:{}/", port.port()),
                auth: creds.clone(),
                tls: client_tls,
            });
            builders.push(
                builder
                    .kea_config(config)
                    .config_path(config_path)
                    .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, port.port())))
                    .admin_api(false),
            );
            ports.push(port);
        }
        let env = if setup.kind == Kind::HaPair {
            let secondary = builders.pop().ok_or("no secondary builder")?;
            let primary = builders.pop().ok_or("no primary builder")?;
            let pair = KeaSimPair::builder()
                .primary(primary)
                .secondary(secondary)
                .try_start()
                .await;
            SimEnv::Pair(Box::new(pair.map_err(|e| e.to_string())?))
        } else {
            let builder = builders.pop().ok_or("no builder")?;
            SimEnv::Single(Box::new(builder.try_start().await.map_err(|e| e.to_string())?))
        };
        Ok(Sim {
            env,
            endpoints,
            dir,
            config_paths,
            _ports: ports,
        })
    }

    fn endpoint(&self, on: Partner) -> Result<Endpoint, String> {
        let i = usize::from(on == Partner::Secondary && self.endpoints.len() > 1);
        self.endpoints.get(i).cloned().ok_or_else(|| "no endpoint".into())
    }

    async fn act(&mut self, action: Action, on: Partner) -> Result<(), String> {
        let sim = match (&self.env, on) {
            (SimEnv::Single(s), _) => s.as_ref(),
            (SimEnv::Pair(p), Partner::Primary) => p.primary(),
            (SimEnv::Pair(p), Partner::Secondary) => p.secondary(),
        };
        match action {
            Action::Restart => sim.restart().await.map_err(|e| e.to_string()),
            Action::DaemonStop => {
                sim.set_down(true).await;
                Ok(())
            }
            Action::DaemonStart => {
                sim.set_down(false).await;
                Ok(())
            }
        }
    }

    fn substitutions(&self) -> Substitutions {
        let mut s = Substitutions::default();
        s.state_dir(self.dir.path().display().to_string());
        for p in &self.config_paths {
            s.config_file(p.clone());
        }
        s
    }
}
