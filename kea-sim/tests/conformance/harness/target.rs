//! What a case runs against: real Kea (through `testenv`) or kea-sim (in process).

use serde_json::Value;
use testenv::kea::{ControlAgent, HaPair, KeaProcess, Postgres};

use super::case::{AUTH_PASSWORD, AUTH_USER, Action, Case, Kind, Partner, Tls, resolve_config};
use super::http::{ClientTls, Endpoint};
use super::normalize::Substitutions;

/// A running environment for one case.
#[allow(async_fn_in_trait)] // only used inside this test crate, never as `dyn`
pub trait Target: Sized {
    /// Short name for reports ("real Kea", "kea-sim").
    const NAME: &'static str;

    /// Starts the environment the case's setup asks for, from `config` (`{"Dhcp4": ...}`).
    async fn start(case: &Case, config: Value) -> Result<Self, String>;

    /// How to reach the server a step talks to.
    fn endpoint(&self, on: Partner) -> Result<Endpoint, String>;

    /// Performs an environment action.
    async fn act(&mut self, action: Action, on: Partner) -> Result<(), String>;

    /// The per-run strings (state directories) that answers may contain.
    fn substitutions(&self) -> Substitutions;
}

/// The case's config with `${PGSQL}` resolved by `database`.
pub fn case_config(case: &Case, database: Option<Value>) -> Result<Value, String> {
    let config = resolve_config(&case.setup)?;
    Ok(fill_database(config, database.as_ref()))
}

/// Replaces the `"${PGSQL}"` placeholder with `db`.
pub fn fill_database(v: Value, db: Option<&Value>) -> Value {
    match v {
        Value::String(s) if s == "${PGSQL}" => db.cloned().unwrap_or(Value::String(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| fill_database(i, db)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, fill_database(v, db))).collect()),
        other => other,
    }
}

fn endpoint_of(
    url: &str,
    auth: Option<&testenv::kea::BasicAuth>,
    tls: Option<&testenv::kea::TlsMaterial>,
) -> Endpoint {
    Endpoint {
        url: url.to_string(),
        auth: auth.map(|a| (a.user.clone(), a.password.clone())),
        tls: tls.map(|t| ClientTls {
            ca_pem: t.ca_pem.clone(),
            client_cert_pem: t.client.cert.clone(),
            client_key_pem: t.client.key.clone(),
        }),
    }
}

enum RealEnv {
    Single(Box<KeaProcess>),
    Agent(Box<ControlAgent>),
    Pair(Box<HaPair>),
}

/// Real Kea 3.0 in the provisioned root filesystem.
pub struct RealKea {
    env: RealEnv,
    // Dropped after the servers (fields drop in order).
    _database: Option<Postgres>,
}

impl RealKea {
    /// Reports whether real Kea can run here (for the "available" check of the runner).
    pub fn available() -> Result<(), testenv::kea::KeaError> {
        testenv::kea::KeaRootfs::locate().map(|_| ())
    }
}

impl Target for RealKea {
    const NAME: &'static str = "real Kea";

    async fn start(case: &Case, _config: Value) -> Result<Self, String> {
        let setup = &case.setup;
        let database = if setup.database {
            Some(Postgres::start().await.map_err(|e| e.to_string())?)
        } else {
            None
        };
        let config = case_config(case, database.as_ref().map(Postgres::hosts_database))?;
        let name = format!("cf-{}", case.name);
        let env = match setup.kind {
            Kind::Dhcp4 => {
                let mut b = KeaProcess::builder().name(&name).config(config).hooks(&[]);
                if setup.auth {
                    b = b.basic_auth(AUTH_USER, AUTH_PASSWORD);
                }
                if let Some(tls) = setup.tls {
                    b = b.tls(tls == Tls::Required);
                }
                RealEnv::Single(Box::new(b.start().await.map_err(|e| e.to_string())?))
            }
            Kind::Ca => {
                let mut b = ControlAgent::builder().dhcp4_config(config).hooks(&[]);
                if setup.auth {
                    b = b.basic_auth(AUTH_USER, AUTH_PASSWORD);
                }
                if let Some(tls) = setup.tls {
                    b = b.tls(tls == Tls::Required);
                }
                RealEnv::Agent(Box::new(b.start().await.map_err(|e| e.to_string())?))
            }
            Kind::HaPair => {
                let pair = HaPair::builder()
                    .config(config)
                    .start()
                    .await
                    .map_err(|e| e.to_string())?;
                RealEnv::Pair(Box::new(pair))
            }
        };
        Ok(RealKea {
            env,
            _database: database,
        })
    }

    fn endpoint(&self, on: Partner) -> Result<Endpoint, String> {
        Ok(match (&self.env, on) {
            (RealEnv::Single(k), _) => endpoint_of(k.url(), k.auth(), k.tls()),
            (RealEnv::Agent(a), _) => endpoint_of(a.url(), a.auth(), a.tls()),
            (RealEnv::Pair(p), Partner::Primary) => endpoint_of(p.primary.url(), None, None),
            (RealEnv::Pair(p), Partner::Secondary) => endpoint_of(p.secondary.url(), None, None),
        })
    }

    async fn act(&mut self, action: Action, on: Partner) -> Result<(), String> {
        let res = match (&mut self.env, action) {
            (RealEnv::Single(k), Action::Restart) => k.restart().await,
            (RealEnv::Pair(p), Action::Restart) => match on {
                Partner::Primary => p.primary.restart().await,
                Partner::Secondary => p.secondary.restart().await,
            },
            (RealEnv::Agent(a), Action::Restart) => a.daemon_mut().restart().await,
            (RealEnv::Agent(a), Action::DaemonStop) => {
                a.stop_daemon().await;
                Ok(())
            }
            (RealEnv::Agent(a), Action::DaemonStart) => a.start_daemon().await,
            (_, other) => return Err(format!("action {other:?} needs a Control Agent setup")),
        };
        res.map_err(|e| e.to_string())
    }

    fn substitutions(&self) -> Substitutions {
        let mut s = Substitutions::default();
        match &self.env {
            RealEnv::Single(k) => {
                s.state_dir(k.state_dir_in_chroot());
                s.config_file(k.config_chroot_path());
            }
            RealEnv::Agent(a) => {
                s.state_dir(a.state_dir_in_chroot());
                s.state_dir(a.daemon().state_dir_in_chroot());
                s.config_file(a.daemon().config_chroot_path());
            }
            RealEnv::Pair(p) => {
                s.state_dir(p.primary.state_dir_in_chroot());
                s.state_dir(p.secondary.state_dir_in_chroot());
                s.config_file(p.primary.config_chroot_path());
                s.config_file(p.secondary.config_chroot_path());
            }
        }
        s
    }
}
