//! The local sandbox behind `just demo` (`e2e/src/bin/demo.rs`): the project's main job end to end
//! on one machine, with nothing mocked inside the operator.
//!
//! [`Sandbox::start`] brings up a private Kubernetes API server (testenv: etcd +
//! apiextensions-apiserver), the CRDs printed by `kea-operator crd`, a kea-sim HA pair process
//! serving `kea-sim/examples/kea-dhcp4.json`, and the real `kea-operator` binary (leader election on,
//! short timings). [`Sandbox::run_samples`] applies the [`samples`], lets the simulated devices obtain
//! their leases through kea-sim's DHCP simulation, and waits until the API server and both Kea
//! servers agree ([`report::Report`]). [`Sandbox::stop`] stops everything and checks that no port is
//! left listening.
//!
//! The e2e harness pieces are reused (operator settings, metrics parsing, the Kubernetes helpers);
//! the processes are started here because the sandbox wants documented ports and the example
//! config rather than a scenario's free ports and layout.

pub mod ports;
pub mod processes;
pub mod report;
pub mod samples;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kea_operator::crd::{InterfaceState, NetworkConfiguration, NetworkNamespace, NetworkNamespaceSpec};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use testenv::MissingEnvironment;
use testenv::kube::KubeEnv;
use testenv::process::log_tail;

use crate::k8s::K8s;
use crate::kea::{KeaHost, Role};
use ports::PortPlan;
use processes::{KeaSimPair, OperatorProcess};
use report::Report;
use samples::LeaseTiming;

/// How long the samples may take to converge (they take a few seconds; a loaded machine more).
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the operator may take to become ready and take the leader Lease.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the sandbox could not be set up or did not converge.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Binary(#[from] crate::artifacts::BinaryMissing),
    #[error(transparent)]
    Kube(#[from] testenv::kube::KubeError),
    #[error(transparent)]
    Port(#[from] testenv::ports::PortError),
    #[error(
        "port {port} ({what}) is in use: stop what listens there (another sandbox, `just kea-sim`) or \
         run `just demo --free-ports`"
    )]
    PortInUse { port: u16, what: &'static str },
    #[error(transparent)]
    Process(#[from] testenv::process::ProcessError),
    #[error(transparent)]
    Cert(#[from] testenv::certs::CertError),
    #[error(transparent)]
    Admin(#[from] kea_sim::AdminError),
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("HTTP client: {0}")]
    Http(String),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what} exited ({status}); last log lines:\n{tail}")]
    Exited {
        what: &'static str,
        status: String,
        tail: String,
    },
    #[error("{what} not ready: {detail}")]
    NotReady { what: &'static str, detail: String },
    #[error("{0}")]
    NotConverged(String),
    #[error("{0} is not empty and was not made by a sandbox (no {MARKER} in it); choose another --dir")]
    ForeignDir(PathBuf),
}

impl SandboxError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            SandboxError::Binary(_) => "binary-missing",
            SandboxError::Kube(_) => "kube",
            SandboxError::Port(_) => "port",
            SandboxError::PortInUse { .. } => "port-in-use",
            SandboxError::Process(_) => "process",
            SandboxError::Cert(_) => "cert",
            SandboxError::Admin(_) => "kea-sim-admin",
            SandboxError::Api(_) => "kube-api",
            SandboxError::Io { .. } => "io",
            SandboxError::Http(_) => "http",
            SandboxError::Json(_) => "json",
            SandboxError::Exited { .. } => "exited",
            SandboxError::NotReady { .. } => "not-ready",
            SandboxError::NotConverged(_) => "not-converged",
            SandboxError::ForeignDir(_) => "foreign-dir",
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
        move |source| SandboxError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl MissingEnvironment for SandboxError {
    fn is_missing_environment(&self) -> bool {
        match self {
            SandboxError::Binary(_) => true,
            SandboxError::Kube(e) => e.is_missing_environment(),
            _ => false,
        }
    }
}

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Logs, the kea-sim config copy and the operator's settings (emptied at start).
    pub dir: PathBuf,
    /// Free ports instead of the documented ones ([`ports`]).
    pub free_ports: bool,
}

/// The run directory when none is given: `$KEA_OPERATOR_CACHE/demo`, else `$TMPDIR/kea-operator-demo`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("KEA_OPERATOR_CACHE") {
        Some(cache) => PathBuf::from(cache).join("demo"),
        None => std::env::temp_dir().join("kea-operator-demo"),
    }
}

/// The file that marks a run directory as the sandbox's, so a restart may empty it.
const MARKER: &str = ".kea-operator-sandbox";

/// Empties a previous sandbox's run directory, or creates a new one. A non-empty directory without
/// the marker is refused: `--dir` pointing at the wrong place must not cost anyone their files.
fn prepare_dir(dir: &Path) -> Result<(), SandboxError> {
    let has_entries = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if has_entries {
        if !dir.join(MARKER).is_file() {
            return Err(SandboxError::ForeignDir(dir.to_path_buf()));
        }
        std::fs::remove_dir_all(dir).map_err(SandboxError::io(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(SandboxError::io(dir))?;
    let marker = dir.join(MARKER);
    std::fs::write(
        &marker,
        "kea-operator sandbox run directory (just demo); emptied at its next start\n",
    )
    .map_err(SandboxError::io(&marker))
}

/// Prints progress with the time since the start.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// `[  1.2s] text`
    pub fn say(&self, text: impl AsRef<str>) {
        println!("[{:>5.1}s] {}", self.0.elapsed().as_secs_f64(), text.as_ref());
    }
}

/// A running sandbox.
pub struct Sandbox {
    pub dir: PathBuf,
    operator_bin: PathBuf,
    pub ports: PortPlan,
    kube: KubeEnv,
    k8s: K8s,
    kea: KeaSimPair,
    operator: OperatorProcess,
    clock: Clock,
}

/// Why [`Sandbox::wait_for_stop`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Signal(&'static str),
    /// A child died on its own: the sandbox is no longer what it claims to be.
    ChildExited(String),
}

impl Sandbox {
    /// Starts the API server, the CRDs, the kea-sim pair and the operator; returns once the
    /// operator is ready and holds the leader Lease.
    pub async fn start(options: &SandboxOptions, clock: Clock) -> Result<Sandbox, SandboxError> {
        testenv::certs::install_crypto_provider();
        let operator_bin = crate::artifacts::operator_binary()?;
        let sim_bin = crate::artifacts::kea_sim_binary()?;
        testenv::kube::binaries()?;
        clock.say(format!(
            "binaries: {} and {}",
            operator_bin.display(),
            sim_bin.display()
        ));
        let dir = options.dir.clone();
        prepare_dir(&dir)?;
        let ports = if options.free_ports {
            PortPlan::free()?
        } else {
            PortPlan::fixed()?
        };

        let kube = KubeEnv::start_private().await?;
        clock.say(format!(
            "Kubernetes API server {} ready (etcd + apiextensions-apiserver, private to this sandbox)",
            kube.url()
        ));
        kube.apply_crds_yaml(&processes::crd_yaml(&operator_bin)?).await?;
        clock.say("CRDs from `kea-operator crd` applied: networkconfigurations.vitistack.io, networknamespaces.vitistack.io");

        let kea = KeaSimPair::start(&sim_bin, &dir, &ports).await?;
        clock.say(format!(
            "kea-sim HA pair (pid {}): primary http://127.0.0.1:{}/, secondary http://127.0.0.1:{}/, admin API http://127.0.0.1:{} — serving a copy of kea-sim/examples/kea-dhcp4.json",
            kea.process.pid(),
            ports.kea_primary,
            ports.kea_secondary,
            ports.admin
        ));

        let env = processes::operator_env(
            &ports,
            samples::INSTANCE,
            samples::OPERATOR_NAMESPACE,
            &kube.under_test_kubeconfig_path(),
        );
        let mut operator = OperatorProcess::start(&operator_bin, &dir, &env, ports.operator_http)?;
        operator.wait_ready_and_leading(READY_TIMEOUT).await?;
        clock.say(format!(
            "kea-operator (pid {}) ready and leading (Lease {}/kea-operator-{}); log {}",
            operator.process.pid(),
            samples::OPERATOR_NAMESPACE,
            samples::INSTANCE,
            operator.log.display()
        ));
        let k8s = K8s::new(kube.client().await?);
        Ok(Sandbox {
            dir,
            operator_bin,
            ports,
            kube,
            k8s,
            kea,
            operator,
            clock,
        })
    }

    /// Applies the samples, gives the devices their leases, waits for convergence and returns the
    /// verified report (an error when the API server and kea-sim never agree).
    pub async fn run_samples(&mut self) -> Result<Report, SandboxError> {
        let clock = self.clock;
        let ns = samples::NAMESPACE;
        // Created, then its prefix written through the status subresource, as the platform does.
        let nns = self.k8s.nns(ns);
        let nn = NetworkNamespace::new(samples::NETWORK_NAMESPACE, NetworkNamespaceSpec::default());
        nns.create(&PostParams::default(), &nn).await?;
        nns.patch_status(
            samples::NETWORK_NAMESPACE,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"ipv4Prefix": samples::PREFIX}})),
        )
        .await?;
        clock.say(format!(
            "NetworkNamespace {ns}/{}: status.ipv4Prefix {} (inside Kea subnet {}, 10.100.0.0/16)",
            samples::NETWORK_NAMESPACE,
            samples::PREFIX,
            samples::KEA_SUBNET_ID
        ));

        let ncs = samples::network_configurations();
        let mut leases: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        let mut given = Vec::new();
        for (_, iface) in samples::valid_interfaces(&ncs) {
            if iface.lease == LeaseTiming::Before
                && let Some(mac) = iface.normalized_mac()
            {
                let ip = self.acquire(&mac).await?;
                given.push(format!("{mac} → {ip}"));
                leases.insert(mac, ip);
            }
        }
        clock.say(format!(
            "devices obtained leases through kea-sim's DHCP simulation (replicated to the secondary as Kea HA does): {}",
            given.join(", ")
        ));

        let api = self.k8s.ncs(ns);
        for nc in &ncs {
            api.create(&PostParams::default(), &nc.object()).await?;
        }
        clock.say(format!(
            "NetworkConfigurations created in namespace {ns}: {}",
            ncs.iter()
                .map(|nc| format!("{} ({} interfaces)", nc.name, nc.interfaces.len()))
                .collect::<Vec<_>>()
                .join(", ")
        ));

        for (nc_name, iface) in samples::valid_interfaces(&ncs) {
            if iface.lease != LeaseTiming::Later {
                continue;
            }
            let Some(mac) = iface.normalized_mac() else {
                continue;
            };
            let message = self.wait_waiting_for_lease(nc_name, iface.name).await?;
            clock.say(format!("{nc_name} {} is WaitingForLease: {message}", iface.name));
            let ip = self.acquire(&mac).await?;
            clock.say(format!("the device {mac} obtains its lease now: {ip}"));
            leases.insert(mac, ip);
        }

        let report = self.wait_converged().await?;
        // The reservation pins the address the device already has: nobody gets renumbered.
        let mut moved = Vec::new();
        for nc in &report.ncs {
            for row in nc.rows.iter().filter(|r| r.mac_valid) {
                if leases.get(&row.mac) != row.ip.as_ref() {
                    moved.push(format!(
                        "{} {}: leased {:?}, reserved {:?}",
                        nc.name,
                        row.interface,
                        leases.get(&row.mac),
                        row.ip
                    ));
                }
            }
        }
        if !moved.is_empty() {
            return Err(SandboxError::NotConverged(format!(
                "reserved addresses differ from the devices' leases:\n  {}\n{}",
                moved.join("\n  "),
                report.render()
            )));
        }
        let try_nc = samples::try_it_nc();
        let path = self.dir.join(format!("{}.json", try_nc.name));
        let json = serde_json::to_string_pretty(&try_nc.object())?;
        std::fs::write(&path, json + "\n").map_err(SandboxError::io(&path))?;
        Ok(report)
    }

    async fn acquire(&self, mac: &str) -> Result<Ipv4Addr, SandboxError> {
        let lease = self
            .kea
            .admin
            .dhcp_acquire(Role::Primary.as_str(), mac, Some(samples::KEA_SUBNET_ID))
            .await?;
        Ok(lease.ip_address)
    }

    async fn wait_waiting_for_lease(&mut self, nc: &str, iface: &str) -> Result<String, SandboxError> {
        let started = Instant::now();
        loop {
            self.check_children()?;
            let found = self.k8s.ncs(samples::NAMESPACE).get_opt(nc).await?;
            let status = found
                .as_ref()
                .and_then(|n| n.status.as_ref())
                .and_then(|s| s.network_interfaces.iter().find(|i| i.name == iface));
            if let Some(st) = status
                && st.state == Some(InterfaceState::WaitingForLease)
            {
                return Ok(st.message.clone().unwrap_or_default());
            }
            if started.elapsed() > CONVERGE_TIMEOUT {
                return Err(SandboxError::NotConverged(format!(
                    "{nc} {iface} never showed WaitingForLease within {CONVERGE_TIMEOUT:?}; last seen: {}\n{}",
                    found
                        .as_ref()
                        .map(crate::k8s::describe)
                        .unwrap_or_else(|| "absent".into()),
                    self.operator_tail()
                )));
            }
            tokio::time::sleep(crate::wait::POLL).await;
        }
    }

    /// The NCs of the sample namespace and the hosts of both kea-sim servers, compared.
    pub async fn observe(&self) -> Result<Report, SandboxError> {
        let ncs: Vec<NetworkConfiguration> = self
            .k8s
            .ncs(samples::NAMESPACE)
            .list(&ListParams::default())
            .await?
            .items;
        let mut hosts = BTreeMap::new();
        for role in Role::BOTH {
            let list = self.kea.admin.hosts(role.as_str()).await?;
            hosts.insert(role, KeaHost::from_views(list));
        }
        Ok(Report::build(&ncs, &hosts, samples::INSTANCE))
    }

    async fn wait_converged(&mut self) -> Result<Report, SandboxError> {
        let started = Instant::now();
        loop {
            self.check_children()?;
            let report = self.observe().await?;
            if report.converged() {
                let (valid, _, _) = report.counts();
                self.clock.say(format!(
                    "converged: {valid} valid interfaces reserved, the API server and both kea-sim servers agree"
                ));
                return Ok(report);
            }
            if started.elapsed() > CONVERGE_TIMEOUT {
                let mut text = format!(
                    "the samples did not converge within {CONVERGE_TIMEOUT:?}; last seen:\n{}",
                    report.render()
                );
                if !report.problems.is_empty() {
                    let _ = writeln!(
                        text,
                        "the API server and kea-sim disagree:\n  {}",
                        report.problems.join("\n  ")
                    );
                }
                text.push_str(&self.operator_tail());
                return Err(SandboxError::NotConverged(text));
            }
            tokio::time::sleep(crate::wait::POLL).await;
        }
    }

    fn operator_tail(&self) -> String {
        format!(
            "\noperator log ({}), last lines:\n{}",
            self.operator.log.display(),
            log_tail(&self.operator.log, 25)
        )
    }

    /// Fails when the operator or kea-sim exited on its own.
    fn check_children(&mut self) -> Result<(), SandboxError> {
        if let Some(status) = self.operator.process.exit_status() {
            return Err(SandboxError::Exited {
                what: "kea-operator",
                status: status.to_string(),
                tail: log_tail(&self.operator.log, 30),
            });
        }
        if let Some(status) = self.kea.process.exit_status() {
            return Err(SandboxError::Exited {
                what: "kea-sim",
                status: status.to_string(),
                tail: log_tail(self.kea.process.log_path(), 20),
            });
        }
        Ok(())
    }

    /// What to do with the running sandbox: kubeconfig, Kea and admin URLs with curl examples,
    /// the operator's endpoints and files.
    pub fn explore_text(&self, interactive: bool) -> String {
        let p = &self.ports;
        let dir = self.dir.display();
        let ns = samples::NAMESPACE;
        let try_nc = samples::try_it_nc();
        let try_mac = try_nc.interfaces.first().map_or("", |i| i.mac);
        let ncs_path = format!("/apis/vitistack.io/v1alpha1/namespaces/{ns}/networkconfigurations");
        format!(
            r#"The sandbox is running. From another shell:

  Kubernetes: a real API server serving the CRDs, not core/v1 (no Pods, no Namespaces), so kubectl's
  table view, which needs /api discovery, fails here; --raw works (jq is optional):
    export KUBECONFIG={kubeconfig}
    kubectl get --raw {ncs_path} | jq '.items[] | {{name: .metadata.name, status}}'
    kubectl get --raw /apis/vitistack.io/v1alpha1/namespaces/{ns}/networknamespaces | jq .

  Kea control API (kea-sim HA pair):
    primary    http://127.0.0.1:{kp}/
    secondary  http://127.0.0.1:{ks}/
    curl -s -X POST http://127.0.0.1:{ks}/ -H 'Content-Type: application/json' \
      -d '{{"command":"reservation-get-page","service":["dhcp4"],"arguments":{{"subnet-id":1,"limit":100}}}}'

  kea-sim admin API: http://127.0.0.1:{admin}   (docs/kea-sim.md)
    # the reservations the secondary holds:
    curl -s 'http://127.0.0.1:{admin}/hosts?server=secondary'
    # a fault: the next 3 reservation-add on the primary answer HTTP 503 (the operator retries):
    curl -s -X POST 'http://127.0.0.1:{admin}/faults?server=primary' -H 'Content-Type: application/json' \
      -d '{{"command":"reservation-add","times":3,"action":{{"type":"http-status","status":503}}}}'

  One more machine: its device obtains a lease, then its NC is declared and reserved:
    curl -s -X POST http://127.0.0.1:{admin}/dhcp/acquire -H 'Content-Type: application/json' -d '{{"mac":"{try_mac}"}}'
    kubectl create --raw {ncs_path} -f {dir}/{try_name}.json
    kubectl get --raw {ncs_path}/{try_name} | jq .status     # a second later

  kea-operator: http://127.0.0.1:{op}/metrics   (/healthz, /readyz)
    # the preflight, against the sandbox's Kea pair:
    KEA_URL=http://127.0.0.1:{kp}/ KEA_SECONDARY_URL=http://127.0.0.1:{ks}/ {bin} check
    log:      {dir}/operator.log
    settings: {dir}/operator.env   (instance "{instance}", leader Lease in {lease_ns})
  kea-sim log: {dir}/kea-sim.log

{stop}
"#,
            try_name = try_nc.name,
            kubeconfig = self.kube.kubeconfig_path().display(),
            bin = self.operator_bin.display(),
            kp = p.kea_primary,
            ks = p.kea_secondary,
            admin = p.admin,
            op = p.operator_http,
            instance = samples::INSTANCE,
            lease_ns = samples::OPERATOR_NAMESPACE,
            stop = if interactive {
                "Press Ctrl-C to stop: the operator (it releases its Lease), kea-sim and the API server stop, every port is freed."
            } else {
                "--exit-after-setup: stopping now."
            },
        )
    }

    /// Waits for SIGINT/SIGTERM, or for a child to exit on its own.
    pub async fn wait_for_stop(&mut self, signals: &mut Signals) -> StopReason {
        loop {
            tokio::select! {
                name = signals.next() => return StopReason::Signal(name),
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Err(e) = self.check_children() {
                        return StopReason::ChildExited(e.to_string());
                    }
                }
            }
        }
    }

    /// Stops the operator (SIGTERM: it releases the Lease), kea-sim and the API server; returns
    /// the ports still accepting connections afterwards (none, unless something else took one).
    pub async fn stop(mut self) -> Vec<u16> {
        self.operator.process.terminate(Duration::from_secs(10)).await;
        self.kea.process.terminate(Duration::from_secs(5)).await;
        let ports = self.ports.all();
        drop(self);
        ports
            .into_iter()
            .filter(|p| {
                TcpStream::connect_timeout(
                    &SocketAddrV4::new(Ipv4Addr::LOCALHOST, *p).into(),
                    Duration::from_millis(200),
                )
                .is_ok()
            })
            .collect()
    }
}

/// SIGINT and SIGTERM as one stream (Ctrl-C, or a supervisor stopping the sandbox).
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (from then on the signals no longer end the process by default).
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sandbox_directory_is_emptied() {
        let base = std::env::temp_dir().join(format!("sandbox-dir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        // New: created and marked.
        prepare_dir(&base).expect("a new directory");
        std::fs::write(base.join("operator.log"), "old run").expect("write");
        // A sandbox's: emptied.
        prepare_dir(&base).expect("a marked directory");
        assert!(!base.join("operator.log").exists());
        assert!(base.join(MARKER).is_file());
        // Someone else's: refused and left alone.
        std::fs::remove_file(base.join(MARKER)).expect("unmark");
        std::fs::write(base.join("precious.txt"), "keep").expect("write");
        let err = prepare_dir(&base).expect_err("an unmarked, non-empty directory");
        assert_eq!(err.category(), "foreign-dir");
        assert!(base.join("precious.txt").is_file());
        let _ = std::fs::remove_dir_all(&base);
    }
}

/// The Rust examples of the kea-sim guide (`docs/kea-sim.md`) run as doctests of this crate, so the
/// guide cannot drift from the library: `cargo test -p e2e --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/kea-sim.md")]
pub struct KeaSimGuide;
